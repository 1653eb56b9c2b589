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
  every delivery would be refused with 422.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hookplane.config.models import Collection, InboundWebhook, Mapping, Source
from hookplane.errors import Diagnostic

if TYPE_CHECKING:
    from hookplane.config.loader import Config, Resource

__all__ = ["config_warnings", "mapping_required_problems"]


def _top(path: str) -> str:
    return path.split(".", 1)[0]


def mapping_required_problems(
    mapping: Mapping, required: list[str]
) -> list[tuple[tuple[str, ...], str, str]]:
    """Why required fields can never be in a record this mapping writes.

    Returns ``(path inside the mapping, message, hint)`` for each problem (the path
    points at the key to blame).
    """
    produced = {
        _top(native)
        for section in (
            mapping.to_external,
            mapping.to_native,
            mapping.dates,
            mapping.value_maps,
            mapping.compose,
            mapping.computed,
        )
        for native in section
    }
    never = [field for field in required if field not in produced]
    if not never:
        return []
    if mapping.unmapped == "drop":
        names = ", ".join(f"'{field}'" for field in never)
        plural = "s" if len(never) > 1 else ""
        return [
            (
                ("unmapped",),
                f"required field{plural} {names} of the collection can never be in the record: "
                "with 'unmapped: drop' it holds only the fields this mapping names, so every "
                "delivery would be refused (422)",
                f"name {names} in to_native or to_external, or remove 'unmapped: drop' to "
                "keep the payload's other fields",
            )
        ]
    problems: list[tuple[tuple[str, ...], str, str]] = []
    # keep: a required field is lost only when a rename takes it away as a whole
    reads = {native: mapping.to_external.get(native, native) for native in mapping.to_external}
    reads.update(mapping.to_native)
    for field in never:
        for native, external in reads.items():
            if external == field and native != field:
                section = "to_native" if native in mapping.to_native else "to_external"
                problems.append(
                    (
                        (section, native),
                        f"required field '{field}' of the collection can never be in the "
                        f"record: the mapping moves the payload's '{field}' to '{native}', "
                        "so every delivery would be refused (422)",
                        f"also write '{field}' (e.g. computed: {{{field}: "
                        f'"{{{{payload.{field}}}}}"}}), or make it optional in the schema',
                    )
                )
                break
    return problems


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
        for path, message, hint in mapping_required_problems(mapping, list(required)):
            warnings.append(_warn(config, resource, ("mapping", *path), message, hint))
    return sorted(warnings)
