"""Warnings: configurations that are valid but cannot work as written.

A warning never stops ``validate``, ``plan`` or ``apply``; it is positioned like an error
and printed by ``hookplane validate`` (``Warning: file:line:column: …``, and under
``"warnings"`` with ``--json``).

Rules:

- **A mapping that can never produce a required field.** For every mapping records are
  written through (an inline mapping on an upsert inbound webhook; a source's mapping when
  the source has a ``read`` endpoint or an inbound webhook binds it), each top-level
  ``required`` field of the collection must be able to appear in the mapped record:
  with ``unmapped: drop`` the mapping must name it; with ``unmapped: keep`` it must not be
  a payload field that a rename moves elsewhere without anything writing it back. Otherwise
  every delivery would be refused with 422. The rule is
  :func:`hookplane.mapping.required_field_problems`; this module positions it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hookplane.config.models import Collection, InboundWebhook, Mapping, Source
from hookplane.errors import Diagnostic
from hookplane.mapping import required_field_problems

if TYPE_CHECKING:
    from hookplane.config.loader import Config, Resource

__all__ = ["config_warnings"]


def _collection(config: Config, name: str | None) -> Collection | None:
    found = config.get("collections", name) if name else None
    if found is None or not found.valid or not isinstance(found.spec, Collection):
        return None
    return found.spec


def _warn(
    config: Config, resource: Resource, path: tuple[Any, ...], message: str, hint: str
) -> Diagnostic:
    full = (resource.kind, resource.name, *path)
    line, column = config.position(resource.file, full, key=True)
    return Diagnostic(
        resource.file, line, column, f"{resource.address}: {message}", resource.address, hint
    )


def config_warnings(config: Config) -> list[Diagnostic]:
    """Every warning for a loaded (valid) configuration, sorted like errors."""
    warnings: list[Diagnostic] = []
    bound = {
        r.spec.source_binding.source
        for r in config.section("inbound_webhooks").values()
        if r.valid and isinstance(r.spec, InboundWebhook) and r.spec.source_binding is not None
    }
    checks: list[tuple[Resource, Mapping, str | None]] = []
    for resource in config.section("sources").values():
        spec = resource.spec
        used_inbound = isinstance(spec, Source) and (
            spec.read is not None or resource.name in bound
        )
        if resource.valid and isinstance(spec, Source) and used_inbound:
            checks.append((resource, spec.mapping, spec.collection))
    for resource in config.section("inbound_webhooks").values():
        spec = resource.spec
        if (
            resource.valid
            and isinstance(spec, InboundWebhook)
            and spec.mapping is not None
            and spec.action.kind == "upsert"
        ):
            checks.append((resource, spec.mapping, spec.collection))
    for resource, mapping, name in checks:
        collection = _collection(config, name)
        required = collection.schema_.required if collection is not None else None
        if not required:
            continue
        for problem in required_field_problems(mapping, required):
            warnings.append(_warn(config, resource, ("mapping", *problem.where),
                                  problem.message, problem.hint))
    return sorted(warnings)
