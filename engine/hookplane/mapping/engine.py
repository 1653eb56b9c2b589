"""The field-mapping contract compiled to two functions: ``to_native`` and ``to_external``.

Every key of a :class:`~hookplane.config.models.Mapping` section is a native field path.

Inbound (``to_native``: external payload -> native record), in this order:

1. Fields: every native path named in ``to_external``, ``to_native``, ``dates`` or
   ``value_maps`` is read from its external path -- ``to_native[f]`` when given (explicit
   inbound rename), else ``to_external[f]`` (the rename, inverted), else ``f`` itself.
   The value map is inverted (external value -> native key text; a value not in the map
   passes through), then the date is parsed into ISO-8601 UTC text. A field missing from
   the payload is absent from the record (``null`` stays ``null``).
2. ``compose`` fields: ``"{first} {last}"`` over the external payload (missing -> "").
   A composed field is left out when every field it references is missing.
3. ``computed`` fields, in declaration order: templates over ``payload`` (the external
   payload) and ``record`` (the native record so far), rendered with
   :func:`~hookplane.mapping.template.render_value` -- so ``"{{payload.n}}"`` keeps its
   JSON type, and leaves the field out when ``n`` is absent.

Fields the mapping does not name follow ``unmapped``:

- ``keep`` (the default): the record starts as a copy of the payload from which every
  external path the mapping reads (step 1) and every native path it writes (steps 1-3)
  are removed, so a renamed field is never also kept under its old name and each named
  field has exactly one origin (a payload's own ``status`` does not stand in for a
  ``status`` the mapping reads from ``state``). An object or list emptied by those
  removals is removed too; a list item removed shifts the ones after it. ``compose`` and
  ``computed`` read fields without moving them.
- ``drop``: the record holds only the mapping's :attr:`CompiledMapping.owned_fields`
  (those present).

Outbound (``to_external``: native record -> external payload): every native path named in
``to_external``, ``dates`` or ``value_maps`` is written at ``to_external[f]`` (or ``f``),
the date formatted first and the value map applied forward after. ``to_native``,
``compose`` and ``computed`` are inbound only: the fields they write are the mapping's own
and are never written outbound. With ``keep`` every other native field is written under
its own name (the named native paths and the external paths written are removed from the
copy first, as inbound); with ``drop`` only the named fields are written.

An empty mapping with ``keep`` is a pass-through: both directions return a deep copy.
"""

from __future__ import annotations

from collections.abc import Mapping as Map
from dataclasses import dataclass
from typing import Any, TypeVar

from hookplane.errors import MappingError, TemplateError
from hookplane.mapping._dates import ConversionError, DateCodec, check_date_format
from hookplane.mapping._specs import MappingSpec
from hookplane.mapping._values import json_copy, json_equal, short_repr, type_name
from hookplane.mapping.paths import (
    MISSING,
    delete_path,
    get_path,
    has_path,
    set_path,
    split_path,
)
from hookplane.mapping.template import (
    Placeholder,
    Template,
    parse_compose,
    parse_template,
    render_string,
    render_value,
)

__all__ = [
    "CompiledMapping",
    "check_date_format",
    "compile_mapping",
    "value_map_ambiguities",
]

_T = TypeVar("_T")


# --------------------------------------------------------------------------- value maps


def _key_texts(value: Any) -> tuple[str, ...]:
    """The value-map keys a native value matches: ``str(value)`` (and ``true``/``false``)."""
    if isinstance(value, bool):
        return (str(value), "true" if value else "false")
    if isinstance(value, str | int | float):
        return (str(value),)
    return ()


class _ValueMap:
    """One field's ``{native key: external value}`` table, usable both ways."""

    __slots__ = ("_forward", "_pairs")

    def __init__(self, table: Map[str, Any]) -> None:
        self._forward = dict(table)
        self._pairs = tuple(table.items())

    def to_external(self, value: Any) -> Any:
        for key in _key_texts(value):
            if key in self._forward:
                return _copy(self._forward[key])
        return value

    def to_native(self, value: Any) -> Any:
        keys = [key for key, external in self._pairs if json_equal(external, value)]
        if not keys:
            return value
        if len(keys) > 1:
            raise ConversionError(
                "the value map is not invertible: it maps "
                + " and ".join(f"'{key}'" for key in keys)
                + " to this value"
            )
        return keys[0]

    def ambiguities(self) -> list[list[str]]:
        """Groups of native keys that map to the same external value."""
        groups: list[list[str]] = []
        claimed: set[str] = set()
        for index, (key, external) in enumerate(self._pairs):
            if key in claimed:
                continue
            same = [
                other for other, value in self._pairs[index + 1 :] if json_equal(external, value)
            ]
            if same:
                groups.append([key, *same])
                claimed.update(same)
        return groups


def value_map_ambiguities(table: Map[str, Any]) -> list[list[str]]:
    """Groups of native keys of one value map that map to the same external value (JSON
    equality: ``1`` and ``1.0`` are one value, ``true`` and ``1`` two), so that an inbound
    value cannot be mapped back; empty when the map is invertible."""
    return _ValueMap(table).ambiguities()


# --------------------------------------------------------------------------- compiled form


@dataclass(frozen=True, slots=True)
class _Field:
    native: str
    native_segments: tuple[str, ...]
    external: str
    external_segments: tuple[str, ...]
    date: DateCodec | None
    values: _ValueMap | None


def _describe(value: Any) -> str:
    return f"{type_name(value)} {short_repr(value)}"


class CompiledMapping:
    """A mapping ready to apply; build it with :func:`compile_mapping`."""

    __slots__ = (
        "_compose",
        "_computed",
        "_inbound",
        "_inbound_taken",
        "_outbound",
        "_outbound_taken",
        "_owned_trie",
        "is_passthrough",
        "keeps_unmapped",
        "mapping",
        "owned_fields",
    )

    mapping: MappingSpec
    """The mapping this was compiled from."""
    owned_fields: frozenset[str]
    """Native paths the mapping names and writes on the way in (empty for a pass-through)."""
    keeps_unmapped: bool
    """True for ``unmapped: keep``: fields the mapping does not name are carried over."""
    is_passthrough: bool
    """True for an empty ``keep`` mapping: payloads are stored as they come."""

    def __init__(
        self,
        mapping: MappingSpec,
        inbound: tuple[_Field, ...],
        outbound: tuple[_Field, ...],
        compose: tuple[tuple[str, Template], ...],
        computed: tuple[tuple[str, str], ...],
    ) -> None:
        self.mapping = mapping
        self._inbound = inbound
        self._outbound = outbound
        self._compose = compose
        self._computed = computed
        self.owned_fields = frozenset(
            [f.native for f in inbound] + [n for n, _ in compose] + [n for n, _ in computed]
        )
        self.keeps_unmapped = mapping.unmapped == "keep"
        self.is_passthrough = self.keeps_unmapped and not (
            inbound or outbound or compose or computed
        )
        derived = [split_path(n) for n, _ in compose] + [split_path(n) for n, _ in computed]
        # keep: what to take out of a copy before the named fields are written
        self._inbound_taken = _trie(
            [f.external_segments for f in inbound] + [f.native_segments for f in inbound] + derived
        )
        outbound_names = {f.native for f in outbound}
        self._outbound_taken = _trie(
            [f.native_segments for f in outbound]
            + [f.external_segments for f in outbound]
            + [f.native_segments for f in inbound if f.native not in outbound_names]
            + derived
        )
        self._owned_trie = _trie([split_path(path) for path in self.owned_fields])

    # ------------------------------------------------------------------ inbound

    def to_native(self, external: dict[str, Any]) -> dict[str, Any]:
        """The native record for an external payload (see the module docs)."""
        _require_object(external, "payload")
        if self.is_passthrough:
            return _copy(external)
        record: dict[str, Any] = {}
        if self.keeps_unmapped:
            record = _copy(external)
            _take(record, self._inbound_taken)
        for field in self._inbound:
            value = get_path(external, field.external_segments)
            if value is MISSING:
                continue
            try:
                if field.values is not None:
                    value = field.values.to_native(value)
            except ConversionError as exc:
                raise MappingError(
                    f"mapping field '{field.native}': the external value at "
                    f"'{field.external}' ({_describe(value)}) cannot be mapped back: {exc}"
                ) from None
            if field.date is not None:
                try:
                    value = field.date.to_native(value)
                except ConversionError as exc:
                    raise MappingError(
                        f"mapping field '{field.native}': the external value at "
                        f"'{field.external}' ({_describe(value)}) cannot be read as a date "
                        f"in format '{field.date.fmt}': {exc}"
                    ) from None
            _write(record, field.native_segments, _copy(value), field.native)
        for native, template in self._compose:
            placeholders = [p for p in template.parts if isinstance(p, Placeholder)]
            if placeholders and not any(has_path(external, p.segments) for p in placeholders):
                continue
            try:
                text = render_string(template, external)
            except TemplateError as exc:
                raise MappingError(f"compose field '{native}': {exc}") from exc
            _write(record, split_path(native), text, native)
        for native, text in self._computed:
            try:
                value = render_value(text, {"payload": external, "record": record}, missing=MISSING)
            except TemplateError as exc:
                raise MappingError(f"computed field '{native}': {exc}") from exc
            if value is not MISSING:  # "{{payload.x}}" over an absent x writes nothing
                _write(record, split_path(native), value, native)
        return record

    # ------------------------------------------------------------------ outbound

    def to_external(self, native: dict[str, Any]) -> dict[str, Any]:
        """The external payload for a native record (see the module docs)."""
        _require_object(native, "record")
        if self.is_passthrough:
            return _copy(native)
        payload: dict[str, Any] = {}
        if self.keeps_unmapped:
            payload = _copy(native)
            _take(payload, self._outbound_taken)
        for field in self._outbound:
            value = get_path(native, field.native_segments)
            if value is MISSING:
                continue
            if field.date is not None:
                try:
                    value = field.date.to_external(value)
                except ConversionError as exc:
                    raise MappingError(
                        f"mapping field '{field.native}' (external '{field.external}'): "
                        f"the native value ({_describe(value)}) cannot be written as a "
                        f"date in format '{field.date.fmt}': {exc}"
                    ) from None
            if field.values is not None:
                value = field.values.to_external(value)
            _write(payload, field.external_segments, _copy(value), field.external)
        return payload

    # ------------------------------------------------------------------ merge

    def merge(self, existing: dict[str, Any], mapped: dict[str, Any]) -> dict[str, Any]:
        """``existing`` refreshed by a freshly mapped record, keeping what it alone has.

        Every owned field is replaced by its value in ``mapped``, or removed when
        ``mapped`` lacks it (the upstream cleared it); fields only ``existing`` has are
        kept. With ``unmapped: keep`` every other key of ``mapped`` (one it carried over
        from the payload) replaces the same key of ``existing``, beside owned fields
        inside the same object; for a pass-through mapping that is simply its top-level
        keys. Neither argument is modified.
        """
        merged = _copy(existing)
        if self.is_passthrough:
            merged.update(_copy(mapped))
            return merged
        for path in self.owned_fields:
            delete_path(merged, path)
        for path in sorted(self.owned_fields, key=lambda p: p.count(".")):
            value = get_path(mapped, path)
            if value is not MISSING:
                _write(merged, split_path(path), _copy(value), path)
        if self.keeps_unmapped:
            _overlay(merged, mapped, self._owned_trie)
        return merged


# A trie of paths: segment -> sub-trie, or None where a whole path ends (removed as a whole).
_Trie = dict[str, "_Trie | None"]


def _trie(paths: list[tuple[str, ...]]) -> _Trie:
    root: _Trie = {}
    for segments in paths:
        node = root
        for depth, segment in enumerate(segments):
            if depth == len(segments) - 1:
                node[segment] = None
                break
            child = node.setdefault(segment, {})
            if child is None:  # a shorter path already takes the whole value
                break
            node = child
    return root


def _take(container: dict[str, Any] | list[Any], trie: _Trie) -> bool:
    """Remove every path of ``trie`` from ``container`` (list items by their original
    index); an object or list emptied by a removal goes too. Return whether
    ``container`` itself was emptied by a removal."""
    removed = False
    if isinstance(container, dict):
        for segment, sub in trie.items():
            if segment not in container:
                continue
            child = container[segment]
            if sub is None or (isinstance(child, dict | list) and _take(child, sub)):
                del container[segment]
                removed = True
    else:
        doomed: set[int] = set()
        for segment, sub in trie.items():
            if not (segment.isascii() and segment.isdigit()) or int(segment) >= len(container):
                continue
            child = container[int(segment)]
            if sub is None:
                doomed.add(int(segment))
            elif isinstance(child, dict | list):
                _take(child, sub)  # an emptied item stays: removing it would shift the rest
        for index in sorted(doomed, reverse=True):
            del container[index]
            removed = True
    return removed and not container


def _overlay(target: dict[str, Any], source: dict[str, Any], owned: _Trie) -> None:
    """Copy into ``target`` every key of ``source`` that is not an owned path."""
    for key, value in source.items():
        if key not in owned:
            target[key] = _copy(value)
            continue
        sub = owned[key]
        if sub is None:
            continue
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _overlay(current, value, sub)
        else:
            target[key] = _copy(value)


def _copy(value: _T) -> _T:
    try:
        copied: _T = json_copy(value)
        return copied
    except RecursionError:
        raise MappingError("the payload is nested too deeply to be mapped") from None


def _require_object(value: Any, what: str) -> None:
    if not isinstance(value, dict):
        raise MappingError(f"the {what} must be a JSON object, not {type_name(value)}")


def _write(target: dict[str, Any], segments: tuple[str, ...], value: Any, path: str) -> None:
    try:
        set_path(target, segments, value)
    except (TypeError, IndexError) as exc:
        raise MappingError(f"field '{path}' cannot be written: {exc}") from None


# --------------------------------------------------------------------------- compile


def _check_path(path: str, where: str) -> tuple[str, ...]:
    try:
        return split_path(path)
    except ValueError as exc:
        raise MappingError(f"{where}: {exc}") from None


def compile_mapping(mapping: MappingSpec) -> CompiledMapping:
    """Compile a mapping; raise :class:`MappingError` when a path, compose format or
    computed template cannot be parsed (validation reports these first, with positions).

    Value maps that are not invertible and bad date formats are not compile errors: they
    surface as a :class:`MappingError` for the value concerned, and
    :func:`~hookplane.mapping.validate.validate_mapping` reports them up front.
    """
    dates = {native: DateCodec(rule.external) for native, rule in mapping.dates.items()}
    values = {native: _ValueMap(table) for native, table in mapping.value_maps.items()}

    def field(native: str, external: str, section: str) -> _Field:
        return _Field(
            native,
            _check_path(native, f"{section} field '{native}'"),
            external,
            _check_path(external, f"{section} field '{native}' (external path)"),
            dates.get(native),
            values.get(native),
        )

    inbound_names = dict.fromkeys(
        [*mapping.to_external, *mapping.to_native, *mapping.dates, *mapping.value_maps]
    )
    inbound = tuple(
        field(
            native,
            mapping.to_native.get(native, mapping.to_external.get(native, native)),
            "to_native" if native in mapping.to_native else "to_external",
        )
        for native in inbound_names
    )
    outbound_names = dict.fromkeys([*mapping.to_external, *mapping.dates, *mapping.value_maps])
    outbound = tuple(
        field(native, mapping.to_external.get(native, native), "to_external")
        for native in outbound_names
    )
    compose: list[tuple[str, Template]] = []
    for native, fmt in mapping.compose.items():
        _check_path(native, f"compose field '{native}'")
        try:
            compose.append((native, parse_compose(fmt)))
        except TemplateError as exc:
            raise MappingError(f"compose field '{native}': {exc}") from None
    computed: list[tuple[str, str]] = []
    for native, text in mapping.computed.items():
        _check_path(native, f"computed field '{native}'")
        try:
            parse_template(text)
        except TemplateError as exc:
            raise MappingError(f"computed field '{native}': {exc}") from None
        computed.append((native, text))
    return CompiledMapping(mapping, inbound, outbound, tuple(compose), tuple(computed))
