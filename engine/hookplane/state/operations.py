"""What :meth:`Store.commit` can do to an environment: frozen, inert records.

``values`` hold the resolved ``${env:…}`` values by dotted path (``auth.secret``); the store
encrypts them and keeps only keyed fingerprints in the clear. Secret kinds in ``generate``
are created by the store; nobody outside it ever holds a generated value before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hookplane.config.applied import SecretKind


@dataclass(frozen=True)
class Create:
    """Add a resource with a new id."""

    kind: str
    name: str
    spec: dict[str, Any]
    values: dict[str, str] = field(default_factory=dict)
    generate: tuple[SecretKind, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Update:
    """Change a resource in place: id and secrets are kept.

    ``values`` replace the stored values; ``generate`` adds secrets of a kind the resource
    does not hold yet (one it holds is kept, not regenerated); ``drop`` removes every secret
    of a kind it no longer needs.
    """

    kind: str
    name: str
    spec: dict[str, Any]
    values: dict[str, str] = field(default_factory=dict)
    generate: tuple[SecretKind, ...] = ()
    drop: tuple[SecretKind, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Delete:
    """Remove a resource and its secrets."""

    kind: str
    name: str

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Move:
    """Rename a resource, keeping its id, values and secrets."""

    kind: str
    old_name: str
    new_name: str

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.new_name}"


Operation = Create | Update | Delete | Move
