"""Round-trip properties of invertible mappings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hookplane.config.models import Mapping
from hookplane.mapping import compile_mapping, validate_mapping

_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
# Native paths live under n*/g* names and external paths under e*/p* names, and no parent
# is ever a leaf: no two fields of one mapping overlap on either side.
_native_parents = st.sampled_from(["", "g0.", "g1.", "g0.h."])
_external_parents = st.sampled_from(["", "p0.", "p1.", "p0.q."])
_iso_seconds = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0).isoformat() + "Z"
)
_external_values = st.lists(
    st.text(max_size=6) | st.integers(),
    min_size=1,
    max_size=4,
    unique_by=lambda value: (type(value).__name__, value),
)


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value


@st.composite
def _invertible(draw: st.DrawFn) -> tuple[Mapping, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {"to_external": {}, "value_maps": {}, "dates": {}}
    record: dict[str, Any] = {}
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        native = draw(_native_parents) + f"n{index}"
        kind = draw(st.sampled_from(["rename", "value_map", "date"]))
        if kind == "rename" or draw(st.booleans()):
            sections["to_external"][native] = draw(_external_parents) + f"e{index}"
        if kind == "rename":
            value = draw(_json)
        elif kind == "value_map":
            externals = draw(_external_values)
            table = {f"k{index}_{n}": external for n, external in enumerate(externals)}
            sections["value_maps"][native] = table
            value = draw(st.sampled_from([*table, None]))
        else:
            fmt = draw(st.sampled_from(["epoch_s", "epoch_ms", "iso8601"]))
            sections["dates"][native] = {"external": fmt}
            value = draw(st.none() | _iso_seconds)
        if draw(st.booleans()):
            _put(record, native, value)
    return Mapping.model_validate(sections), record


@settings(max_examples=300)
@given(_invertible())
def test_to_native_inverts_to_external(case: tuple[Mapping, dict[str, Any]]) -> None:
    mapping, record = case
    assert validate_mapping(mapping) == []
    compiled = compile_mapping(mapping)
    external = compiled.to_external(record)
    assert compiled.to_native(external) == record
    # everything in the record is owned, so a merge into nothing gives the record back
    assert compiled.merge({}, record) == record


@given(
    st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999),
    st.sampled_from(["epoch_s", "epoch_ms"]),
)
def test_epochs_survive_the_way_in_and_out(number: int, fmt: str) -> None:
    if fmt == "epoch_s":
        number //= 1000
    compiled = compile_mapping(Mapping.model_validate({"dates": {"at": {"external": fmt}}}))
    native = compiled.to_native({"at": number})
    assert native["at"].endswith("Z")
    assert compiled.to_external(native) == {"at": number}


@given(
    st.dictionaries(st.sampled_from(["state", "urgency", "summary", "other"]), _json, max_size=4)
)
def test_renames_project_external_payloads(payload: dict[str, Any]) -> None:
    renames = {"status": "state", "severity": "urgency", "title": "summary"}
    keep = compile_mapping(Mapping(to_external=renames))
    assert keep.to_external(keep.to_native(payload)) == payload
    drop = compile_mapping(Mapping(to_external=renames, unmapped="drop"))
    expected = {key: value for key, value in payload.items() if key != "other"}
    assert drop.to_external(drop.to_native(payload)) == expected
