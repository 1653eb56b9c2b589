"""A mapping's structure checked once: what configuration validation reports and promotion
re-checks.

:func:`validate_mapping` is the one list of mapping rules; :mod:`hookplane.config.validate`
calls it and only positions each :class:`MappingProblem` at its YAML key (``where`` is the
path inside the mapping). :func:`required_field_problems` is the one warning rule (a
mapping that can never produce a required field). The rules:

- field paths: every native path (the keys of every section) and every external path
  (``to_external``/``to_native`` values) is a dot path;
- with a collection schema: every native field is declared, and a ``dates`` field allows
  ``type: string``;
- one origin per native field: a field written by two of the renames
  (``to_external``/``to_native`` -- ``to_native`` overriding the inverted rename is fine),
  ``compose`` and ``computed``, or written both as a whole and inside (``owner`` and
  ``owner.name``);
- one target per external path: two native fields written to the same external path, or to
  overlapping ones (``x`` and ``x.y``) -- a field named only in ``dates``/``value_maps``
  keeps its own name; and two ``to_native`` fields reading the same external path;
- rename cycles (``a -> b`` while ``b -> a``);
- value maps: plain values only, and invertible where the mapping is used inbound;
- date formats, compose patterns, computed templates (only ``payload``/``record`` roots, and
  ``record`` fields written before them).

Pure, like the rest of :mod:`hookplane.mapping`: specifications and schemas are read through
the protocols of :mod:`hookplane.mapping._specs`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from collections.abc import Mapping as Map
from dataclasses import dataclass
from typing import Any

from hookplane.errors import TemplateSyntaxError
from hookplane.mapping._dates import check_date_format
from hookplane.mapping._specs import FieldSchemaSpec, MappingSpec
from hookplane.mapping.contexts import COMPUTED_ROOTS
from hookplane.mapping.engine import value_map_ambiguities
from hookplane.mapping.paths import split_path
from hookplane.mapping.template import parse_compose, parse_template

__all__ = [
    "MappingProblem",
    "required_field_problems",
    "schema_field",
    "validate_mapping",
]

_RENAMES = ("to_external", "to_native")
_WRITERS = ("to_external", "to_native", "compose", "computed")
"""The sections that give a native field its origin (dates and value maps convert one)."""
_SECTIONS = ("to_external", "to_native", "computed", "value_maps", "dates", "compose")


@dataclass(frozen=True, slots=True)
class MappingProblem:
    """One problem with a mapping.

    ``where`` is the path inside the mapping to blame (``("to_external", "title")``,
    ``("dates", "at", "external")``); ``key`` says to point at that key rather than its
    value; ``hint`` is what to do, when the message does not say it already.
    """

    where: tuple[str, ...]
    message: str
    key: bool = False
    hint: str = ""

    def __str__(self) -> str:
        return f"{'.'.join(self.where)}: {self.message}"


# --------------------------------------------------------------------------- schema


def schema_field(schema: FieldSchemaSpec, path: str) -> FieldSchemaSpec | bool | None:
    """The field schema at a dot path; True = allowed but undeclared; None = unknown."""
    current: FieldSchemaSpec = schema
    for part in path.split("."):
        if current.items is not None and part.isdigit():
            current = current.items
            continue
        properties = current.properties
        if properties is not None and part in properties:
            current = properties[part]
            continue
        extra = current.additionalProperties
        if extra is not None and not isinstance(extra, bool):
            current = extra
            continue
        if properties is None or extra is True:
            return True
        return None
    return current


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --------------------------------------------------------------------------- the rules


def validate_mapping(
    mapping: MappingSpec, *, inbound: bool = True, schema: FieldSchemaSpec | None = None
) -> list[MappingProblem]:
    """Every structure problem of a mapping, in the order the rules run; empty = usable.

    ``inbound``: the mapping is used inbound (an inline inbound mapping; a source with a
    ``read`` endpoint or bound by an inbound webhook), so its value maps must be invertible.
    ``schema``: the collection's schema, when known, to check the native fields against.
    """
    problems: list[MappingProblem] = []
    add = problems.append
    for section in _SECTIONS:
        table: Map[str, Any] = getattr(mapping, section)
        for field in table:
            try:
                split_path(field)
            except ValueError as exc:
                add(MappingProblem((section, field), str(exc), key=True))
                continue
            if schema is not None and schema_field(schema, field) is None:
                first = field.split(".", maxsplit=1)[0]
                add(MappingProblem(
                    (section, field),
                    f"mapping field '{field}' is not in the collection schema"
                    f"{_did_you_mean(first, sorted(schema.properties or {}))}", key=True))
    for section in _RENAMES:
        for field, external in getattr(mapping, section).items():
            try:
                split_path(external)
            except ValueError as exc:
                add(MappingProblem((section, field), f"external path: {exc}"))
    problems.extend(_origin_problems(mapping))
    problems.extend(_target_problems(mapping))
    problems.extend(_cycle_problems(mapping))
    problems.extend(_value_map_problems(mapping, inbound=inbound))
    for field, rule in mapping.dates.items():
        problem = check_date_format(rule.external)
        if problem is not None:
            add(MappingProblem(("dates", field, "external"), problem))
        if schema is not None:
            declared = schema_field(schema, field)
            kinds = None if declared is None or isinstance(declared, bool) else declared.type
            listed = [kinds] if isinstance(kinds, str) else list(kinds or [])
            if listed and "string" not in listed:  # [string, "null"]: a nullable date
                add(MappingProblem(
                    ("dates", field),
                    f"'{field}' is a date field, so its schema type must be string "
                    f"(ISO-8601), not {kinds}", key=True))
    for field, pattern in mapping.compose.items():
        try:
            parse_compose(pattern)
        except TemplateSyntaxError as exc:
            add(MappingProblem(("compose", field),
                               f"compose pattern error at {exc.where}: {exc.reason}"))
    problems.extend(_computed_problems(mapping))
    return problems


def _origin_problems(mapping: MappingSpec) -> list[MappingProblem]:
    """A native field given two origins, or given one as a whole and one inside."""
    problems: list[MappingProblem] = []
    origins: dict[str, str] = {}
    for section in _WRITERS:
        for field in getattr(mapping, section):
            if field in origins and origins[field] != section and {
                origins[field], section
            } != set(_RENAMES):  # to_native overrides a rename inbound
                problems.append(MappingProblem(
                    (section, field),
                    f"field '{field}' is mapped twice (in {origins[field]} and {section}); "
                    "each native field has one origin", key=True))
            origins.setdefault(field, section)
    for first in origins:
        for second, section in origins.items():
            if second.startswith(first + "."):
                problems.append(MappingProblem(
                    (section, second),
                    f"'{second}' is inside '{first}', which is mapped as a whole; map one or "
                    "the other", key=True))
    return problems


def _overlap(first: str, second: str) -> bool:
    return first.startswith(second + ".") or second.startswith(first + ".")


def _target_problems(mapping: MappingSpec) -> list[MappingProblem]:
    """Two native fields written to one external path (or one inside the other); two
    ``to_native`` fields reading one."""
    problems: list[MappingProblem] = []
    # outbound, a field named only in dates or value_maps keeps its own name
    targets: dict[str, str] = {}
    for field in dict.fromkeys([*mapping.to_external, *mapping.dates, *mapping.value_maps]):
        external = mapping.to_external.get(field, field)
        section = ("to_external" if field in mapping.to_external
                   else "dates" if field in mapping.dates else "value_maps")
        if external in targets:
            problems.append(MappingProblem(
                (section, field),
                f"'{field}' and '{targets[external]}' are both mapped onto '{external}'; two "
                "fields cannot share one target"))
        else:
            for other_external, other in targets.items():
                if _overlap(external, other_external):
                    problems.append(MappingProblem(
                        (section, field),
                        f"'{field}' is mapped onto '{external}' and '{other}' onto "
                        f"'{other_external}': one is inside the other, so writing one "
                        "overwrites the other; two fields cannot share one target"))
                    break
        targets.setdefault(external, field)
    sources: dict[str, str] = {}
    for field, external in mapping.to_native.items():
        if external in sources:
            problems.append(MappingProblem(
                ("to_native", field),
                f"'{field}' and '{sources[external]}' both read '{external}'; use computed "
                "for a second copy"))
        sources.setdefault(external, field)
    return problems


def _cycle_problems(mapping: MappingSpec) -> list[MappingProblem]:
    """Renames that feed each other (``a -> b`` while ``b -> a``): the first one found."""
    edges = {**mapping.to_external, **mapping.to_native}
    for start in edges:
        seen = [start]
        current = edges.get(start)
        while current is not None and current in edges and current not in seen:
            seen.append(current)
            current = edges.get(current)
        if current == start and len(seen) > 1:
            chain = " → ".join([*seen, start])
            section = "to_external" if start in mapping.to_external else "to_native"
            return [MappingProblem(
                (section, start),
                f"rename cycle {chain}: fields exchange names, which is almost always a "
                "mistake; rename through distinct names", key=True)]
    return []


def _value_map_problems(mapping: MappingSpec, *, inbound: bool) -> list[MappingProblem]:
    problems: list[MappingProblem] = []
    for field, table in mapping.value_maps.items():
        where = ("value_maps", field)
        if any(isinstance(value, dict | list) for value in table.values()):
            problems.append(MappingProblem(where, "value map values must be plain values"))
        ambiguous = value_map_ambiguities(table) if inbound else []
        if ambiguous:
            first, second, *_ = ambiguous[0]
            external = table[second]
            problems.append(MappingProblem(
                where,
                f"value map for '{field}' is not invertible: '{first}' and '{second}' both "
                f"map to {external!r}, so an inbound {external!r} is ambiguous"))
    return problems


def _computed_problems(mapping: MappingSpec) -> list[MappingProblem]:
    """Problems with ``computed`` templates, in the order written: a template that does not
    parse, a root other than ``payload`` and ``record``, and a ``record.x`` whose first
    segment no earlier part of the mapping writes (computed fields run last, in the order
    written, so a later one is not there yet)."""
    problems: list[MappingProblem] = []
    written = {
        native.split(".")[0]
        for native in [*mapping.to_external, *mapping.to_native, *mapping.dates,
                       *mapping.value_maps, *mapping.compose]
    }
    for native, text in mapping.computed.items():
        where = ("computed", native)
        try:
            references = parse_template(text).references
        except TemplateSyntaxError as exc:
            problems.append(MappingProblem(where, f"template error at {exc.where}: {exc.reason}"))
            written.add(native.split(".")[0])
            continue
        for reference in references:
            root, _, rest = reference.partition(".")
            first = rest.split(".")[0]
            if root not in COMPUTED_ROOTS:
                guess = difflib.get_close_matches(root, COMPUTED_ROOTS, n=1, cutoff=0.5)
                hint = f" (did you mean '{guess[0]}'?)" if guess else ""
                problems.append(MappingProblem(
                    where,
                    f"computed '{native}' refers to '{root}'{hint}; use payload.… (the "
                    "external payload) or record.… (mapped fields)"))
            elif root == "record" and rest and first not in written:
                later = (" before this one (computed fields run in the order written)"
                         if first in mapping.computed else "")
                problems.append(MappingProblem(
                    where,
                    f"computed '{native}' refers to record.{rest}, which the mapping does not "
                    f"produce{later}"))
        written.add(native.split(".")[0])
    return problems


# --------------------------------------------------------------------------- warnings


def required_field_problems(mapping: MappingSpec, required: Iterable[str]) -> list[MappingProblem]:
    """Why ``required`` (top-level) fields can never be in a record this mapping writes: with
    ``unmapped: drop`` a required field it does not name; with ``keep`` a required payload
    field that a rename moves elsewhere and nothing writes back. Configuration reports these
    as warnings (every delivery through the mapping would be refused with 422)."""
    produced = {
        native.split(".", 1)[0]
        for section in (*_WRITERS, "dates", "value_maps")
        for native in getattr(mapping, section)
    }
    never = [field for field in required if field not in produced]
    if not never:
        return []
    if mapping.unmapped == "drop":
        names = ", ".join(f"'{field}'" for field in never)
        plural = "s" if len(never) > 1 else ""
        return [MappingProblem(
            ("unmapped",),
            f"required field{plural} {names} of the collection can never be in the record: "
            "with 'unmapped: drop' it holds only the fields this mapping names, so every "
            "delivery would be refused (422)",
            key=True,
            hint=f"name {names} in to_native or to_external, or remove 'unmapped: drop' to "
                 "keep the payload's other fields")]
    problems: list[MappingProblem] = []
    # keep: a required field is lost only when a rename takes it away as a whole
    reads = {native: mapping.to_external.get(native, native) for native in mapping.to_external}
    reads.update(mapping.to_native)
    for field in never:
        for native, external in reads.items():
            if external == field and native != field:
                section = "to_native" if native in mapping.to_native else "to_external"
                problems.append(MappingProblem(
                    (section, native),
                    f"required field '{field}' of the collection can never be in the record: "
                    f"the mapping moves the payload's '{field}' to '{native}', so every "
                    "delivery would be refused (422)",
                    key=True,
                    hint=f"also write '{field}' (e.g. computed: {{{field}: "
                         f'"{{{{payload.{field}}}}}"}}), or make it optional in the schema'))
                break
    return problems
