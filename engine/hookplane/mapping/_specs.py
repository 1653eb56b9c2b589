"""The shapes :mod:`hookplane.mapping` reads its specifications in.

The languages here sit below :mod:`hookplane.config` (which validates with them), so they
do not import its pydantic models: they read any object of the right shape.
:class:`hookplane.config.models.Mapping` is a :class:`MappingSpec` and
:class:`hookplane.config.models.FieldSchema` a :class:`FieldSchemaSpec`; mypy checks it
where config passes them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any, Protocol


class DateRuleSpec(Protocol):
    @property
    def external(self) -> str:
        """epoch_s, epoch_ms, iso8601 or a strftime pattern."""
        ...


class MappingSpec(Protocol):
    """A field mapping (see :class:`hookplane.config.models.Mapping`)."""

    @property
    def to_external(self) -> Mapping[str, str]: ...
    @property
    def to_native(self) -> Mapping[str, str]: ...
    @property
    def computed(self) -> Mapping[str, str]: ...
    @property
    def value_maps(self) -> Mapping[str, Mapping[str, Any]]: ...
    @property
    def dates(self) -> Mapping[str, DateRuleSpec]: ...
    @property
    def compose(self) -> Mapping[str, str]: ...
    @property
    def unmapped(self) -> str: ...


class FieldSchemaSpec(Protocol):
    """A node of a collection's schema (see :class:`hookplane.config.models.FieldSchema`)."""

    @property
    def type(self) -> str | Sequence[str] | None: ...
    @property
    def properties(self) -> Mapping[str, FieldSchemaSpec] | None: ...
    @property
    def required(self) -> Sequence[str] | None: ...
    @property
    def additionalProperties(self) -> bool | FieldSchemaSpec | None: ...
    @property
    def items(self) -> FieldSchemaSpec | None: ...
    @property
    def enum(self) -> Sequence[Any] | None: ...
    @property
    def format(self) -> str | None: ...
    @property
    def minimum(self) -> float | None: ...
    @property
    def maximum(self) -> float | None: ...
    @property
    def minLength(self) -> int | None: ...
    @property
    def maxLength(self) -> int | None: ...
    @property
    def default(self) -> Any: ...
    @property
    def model_fields_set(self) -> Set[str]:
        """The keys written in the YAML (a default counts only when written)."""
        ...
