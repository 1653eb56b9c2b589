"""Fields a mapping does not name: kept under their own names (default) or dropped."""

from __future__ import annotations

from typing import Any

import pytest

from hookplane.config.models import Mapping
from hookplane.mapping import compile_mapping


def _mapping(**sections: Any) -> Mapping:
    return Mapping.model_validate(sections)


def test_the_default_is_keep() -> None:
    assert Mapping().unmapped == "keep"
    assert _mapping(unmapped="drop").unmapped == "drop"


def test_a_rename_moves_its_field_and_keeps_the_rest_both_ways() -> None:
    compiled = compile_mapping(_mapping(to_external={"status": "state"}))
    payload = {"state": "open", "title": "API down", "severity": "p1"}
    native = compiled.to_native(payload)
    assert native == {"status": "open", "title": "API down", "severity": "p1"}
    assert "state" not in native  # not also kept under its old name
    assert compiled.to_external(native) == payload


def test_drop_keeps_only_the_named_fields_both_ways() -> None:
    compiled = compile_mapping(_mapping(to_external={"status": "state"}, unmapped="drop"))
    assert compiled.to_native({"state": "open", "title": "x"}) == {"status": "open"}
    assert compiled.to_external({"status": "open", "title": "x"}) == {"state": "open"}


def test_nested_renames_remove_the_source_path_and_parents_they_empty() -> None:
    compiled = compile_mapping(
        _mapping(to_external={"customer_name": "buyer.name", "city": "buyer.address.city"})
    )
    native = compiled.to_native(
        {"buyer": {"name": "Ada", "address": {"city": "Paris"}, "id": 7}, "total": 3}
    )
    assert native == {"customer_name": "Ada", "city": "Paris", "buyer": {"id": 7}, "total": 3}
    gone = compiled.to_native({"buyer": {"name": "Ada", "address": {"city": "Paris"}}})
    assert gone == {"customer_name": "Ada", "city": "Paris"}  # no empty 'buyer' left behind
    # an object that was empty in the payload is not the mapping's to remove
    assert compiled.to_native({"buyer": {"name": "Ada"}, "meta": {}}) == {
        "customer_name": "Ada",
        "meta": {},
    }
    # outbound, the native names go and the external paths are written
    assert compiled.to_external({"customer_name": "Ada", "city": "Paris", "total": 3}) == {
        "buyer": {"name": "Ada", "address": {"city": "Paris"}},
        "total": 3,
    }


def test_renaming_list_items_removes_them_by_their_original_index() -> None:
    compiled = compile_mapping(_mapping(to_native={"first": "tags.0", "third": "tags.2"}))
    assert compiled.to_native({"tags": ["a", "b", "c", "d"]}) == {
        "first": "a",
        "third": "c",
        "tags": ["b", "d"],
    }


def test_a_named_field_has_one_origin_even_when_its_source_is_missing() -> None:
    compiled = compile_mapping(_mapping(to_external={"status": "state"}))
    # the payload's own 'status' is not the mapping's 'status': the mapping reads 'state'
    assert compiled.to_native({"status": "stale", "title": "x"}) == {"title": "x"}
    assert compiled.to_native({"status": "stale", "state": "open"}) == {"status": "open"}


def test_value_maps_and_dates_transform_in_place_and_keep_the_rest() -> None:
    compiled = compile_mapping(
        _mapping(
            value_maps={"severity": {"p1": "high"}},
            dates={"opened_at": {"external": "epoch_s"}},
        )
    )
    native = compiled.to_native({"severity": "high", "opened_at": 0, "title": "x"})
    assert native == {"severity": "p1", "opened_at": "1970-01-01T00:00:00Z", "title": "x"}
    assert compiled.to_external(native) == {"severity": "high", "opened_at": 0, "title": "x"}


def test_compose_and_computed_add_fields_and_are_not_sent_back() -> None:
    compiled = compile_mapping(
        _mapping(
            compose={"full_name": "{first} {last}"},
            computed={"label": "{{record.full_name}} ({{payload.team}})"},
        )
    )
    native = compiled.to_native({"first": "Ada", "last": "L", "team": "core"})
    # compose and computed read fields, they do not move them
    assert native == {
        "first": "Ada",
        "last": "L",
        "team": "core",
        "full_name": "Ada L",
        "label": "Ada L (core)",
    }
    # inbound-only fields are the mapping's own: never written upstream
    assert compiled.to_external(native) == {"first": "Ada", "last": "L", "team": "core"}


def test_to_native_only_fields_are_not_written_upstream() -> None:
    compiled = compile_mapping(_mapping(to_native={"source": "origin"}))
    assert compiled.to_native({"origin": "pd", "n": 1}) == {"source": "pd", "n": 1}
    assert compiled.to_external({"source": "pd", "n": 1}) == {"n": 1}


def test_chained_renames_do_not_clobber_each_other() -> None:
    # native 'a' comes from external 'x'; native 'b' comes from external 'a'
    compiled = compile_mapping(_mapping(to_external={"a": "x", "b": "a"}))
    assert compiled.to_native({"x": 1, "a": 2, "z": 3}) == {"a": 1, "b": 2, "z": 3}
    assert compiled.to_external({"a": 1, "b": 2, "z": 3}) == {"x": 1, "a": 2, "z": 3}


def test_payloads_are_not_modified() -> None:
    compiled = compile_mapping(_mapping(to_external={"name": "buyer.name"}))
    payload: dict[str, Any] = {"buyer": {"name": "Ada", "tags": ["a"]}}
    native = compiled.to_native(payload)
    native["buyer"]["tags"].append("b")
    assert payload == {"buyer": {"name": "Ada", "tags": ["a"]}}


def test_an_empty_drop_mapping_keeps_nothing() -> None:
    compiled = compile_mapping(_mapping(unmapped="drop"))
    assert compiled.is_passthrough is False
    assert compiled.to_native({"a": 1}) == {}


@pytest.mark.parametrize("unmapped", ["keep", "drop"])
def test_merge_keeps_local_fields_and_refreshes_the_mapped_ones(unmapped: str) -> None:
    compiled = compile_mapping(
        _mapping(to_external={"title": "summary", "customer.name": "client"}, unmapped=unmapped)
    )
    existing = {
        "title": "old",
        "customer": {"name": "Old", "tier": "gold"},
        "note": "local",
        "url": "https://old.example",
    }
    mapped = compiled.to_native({"summary": "new", "client": "New", "url": "https://new.example"})
    merged = compiled.merge(existing, mapped)
    expected_url = "https://new.example" if unmapped == "keep" else "https://old.example"
    assert merged == {
        "title": "new",
        "customer": {"name": "New", "tier": "gold"},
        "note": "local",
        "url": expected_url,
    }


def test_merge_overlays_kept_fields_beside_nested_named_ones() -> None:
    compiled = compile_mapping(_mapping(to_external={"customer.name": "client"}))
    mapped = compiled.to_native({"client": "New", "customer": {"email": "n@example.com"}})
    assert mapped == {"customer": {"name": "New", "email": "n@example.com"}}
    merged = compiled.merge({"customer": {"name": "Old", "tier": "gold"}}, mapped)
    assert merged == {"customer": {"name": "New", "tier": "gold", "email": "n@example.com"}}
