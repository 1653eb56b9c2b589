from __future__ import annotations

from typing import Any

import pytest

from hookplane.config.models import Mapping
from hookplane.errors import MappingError
from hookplane.mapping import compile_mapping


def _mapping(**sections: Any) -> Mapping:
    return Mapping.model_validate(sections)


PAGERDUTY = _mapping(
    to_external={"status": "state", "severity": "urgency", "title": "summary"},
    value_maps={"severity": {"p1": "high", "p2": "medium", "p3": "low"}},
    dates={"opened_at": {"external": "epoch_s"}},
)


# --------------------------------------------------------------------------- renames


def test_spec_example_both_ways() -> None:
    compiled = compile_mapping(PAGERDUTY)
    external = {
        "state": "triggered",
        "urgency": "high",
        "summary": "API down",
        "opened_at": 1_700_000_000,
        "html_url": "https://example.invalid/x",  # not mentioned: kept as it is
    }
    native = compiled.to_native(external)
    assert native == {
        "status": "triggered",
        "severity": "p1",
        "title": "API down",
        "opened_at": "2023-11-14T22:13:20Z",
        "html_url": "https://example.invalid/x",
    }
    assert compiled.to_external(native) == external


def test_spec_example_restricted_to_the_named_fields() -> None:
    compiled = compile_mapping(PAGERDUTY.model_copy(update={"unmapped": "drop"}))
    external = {"state": "triggered", "summary": "API down", "html_url": "https://x.invalid"}
    native = compiled.to_native(external)
    assert native == {"status": "triggered", "title": "API down"}
    assert compiled.to_external({**native, "note": "local"}) == {
        "state": "triggered",
        "summary": "API down",
    }


def test_nested_renames_both_ways() -> None:
    compiled = compile_mapping(
        _mapping(
            to_external={
                "customer.name": "client.profile.full_name",
                "customer.email": "email",
                "first_item": "lines.0.sku",
            },
            unmapped="drop",
        )
    )
    external = {
        "client": {"profile": {"full_name": "Ada"}, "other": 1},
        "email": "ada@example.com",
        "lines": [{"sku": "A-1"}, {"sku": "B-2"}],
    }
    native = compiled.to_native(external)
    assert native == {
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "first_item": "A-1",
    }
    assert compiled.to_external(native) == {
        "client": {"profile": {"full_name": "Ada"}},
        "email": "ada@example.com",
        # lists are never created on the way out: a digit segment in a new path is a key
        "lines": {"0": {"sku": "A-1"}},
    }


def test_missing_external_fields_are_absent_and_null_is_kept() -> None:
    compiled = compile_mapping(PAGERDUTY)
    assert compiled.to_native({"state": None}) == {"status": None}
    assert compiled.to_native({}) == {}
    assert compiled.to_external({"title": "only"}) == {"summary": "only"}


def test_to_native_overrides_the_inverted_rename_and_is_inbound_only() -> None:
    compiled = compile_mapping(
        _mapping(
            to_external={"status": "state"},
            to_native={"status": "legacy.status", "x": "y"},
            unmapped="drop",
        )
    )
    assert compiled.to_native({"state": "ignored", "legacy": {"status": "open"}, "y": 1}) == {
        "status": "open",
        "x": 1,
    }
    # outbound only follows to_external
    assert compiled.to_external({"status": "open", "x": 1}) == {"state": "open"}


def test_values_are_copied_not_shared() -> None:
    compiled = compile_mapping(_mapping(to_external={"tags": "labels"}))
    external: dict[str, Any] = {"labels": ["a"]}
    native = compiled.to_native(external)
    native["tags"].append("b")
    assert external == {"labels": ["a"]}
    out = compiled.to_external(native)
    out["labels"].append("c")
    assert native == {"tags": ["a", "b"]}


# --------------------------------------------------------------------------- value maps


@pytest.mark.parametrize(
    ("native_value", "external_value"),
    [
        ("p1", "high"),
        ("p2", "medium"),
        ("p9", "p9"),  # not in the map: unchanged both ways
        (None, None),
    ],
)
def test_value_maps_both_ways(native_value: Any, external_value: Any) -> None:
    compiled = compile_mapping(PAGERDUTY)
    assert compiled.to_external({"severity": native_value}) == {"urgency": external_value}
    assert compiled.to_native({"urgency": external_value}) == {"severity": native_value}


def test_value_map_keys_match_scalars_by_text() -> None:
    compiled = compile_mapping(
        _mapping(value_maps={"level": {"1": "low", "2": "high", "true": "yes", "1.5": "mid"}})
    )
    assert compiled.to_external({"level": 1}) == {"level": "low"}
    assert compiled.to_external({"level": True}) == {"level": "yes"}
    assert compiled.to_external({"level": 1.5}) == {"level": "mid"}
    # the native value coming back is the key text
    assert compiled.to_native({"level": "high"}) == {"level": "2"}
    # JSON types: the number 1 is not the external value "low" and passes through
    assert compiled.to_native({"level": 1}) == {"level": 1}


def test_value_map_external_values_compare_with_json_types() -> None:
    compiled = compile_mapping(_mapping(value_maps={"flag": {"on": 1, "off": 0}}))
    assert compiled.to_external({"flag": "on"}) == {"flag": 1}
    assert compiled.to_native({"flag": 1}) == {"flag": "on"}
    assert compiled.to_native({"flag": 1.0}) == {"flag": "on"}
    assert compiled.to_native({"flag": True}) == {"flag": True}  # true is not 1


def test_non_invertible_value_map_fails_only_on_the_ambiguous_value() -> None:
    compiled = compile_mapping(
        _mapping(value_maps={"sev": {"p1": "high", "p0": "high", "p3": "low"}})
    )
    assert compiled.to_external({"sev": "p0"}) == {"sev": "high"}
    assert compiled.to_native({"sev": "low"}) == {"sev": "p3"}
    with pytest.raises(MappingError, match=r"'sev'.*not invertible.*'p1' and 'p0'"):
        compiled.to_native({"sev": "high"})


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("fmt", "external", "native"),
    [
        ("epoch_s", 1_704_164_645, "2024-01-02T03:04:05Z"),
        ("epoch_s", 0, "1970-01-01T00:00:00Z"),
        ("epoch_s", -86_400, "1969-12-31T00:00:00Z"),
        ("epoch_s", 1_704_164_645.5, "2024-01-02T03:04:05.500Z"),
        ("epoch_ms", 1_704_164_645_000, "2024-01-02T03:04:05Z"),
        ("epoch_ms", 1_704_164_645_123, "2024-01-02T03:04:05.123Z"),
        ("iso8601", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("iso8601", "2024-01-02T03:04:05.250Z", "2024-01-02T03:04:05.250Z"),
        ("%d/%m/%Y %H:%M", "02/01/2024 03:04", "2024-01-02T03:04:00Z"),
        ("%Y-%m-%d", "2024-01-02", "2024-01-02T00:00:00Z"),
        ("%Y-%m-%dT%H:%M:%S%z", "2024-01-02T03:04:05+0000", "2024-01-02T03:04:05Z"),
    ],
)
def test_dates_both_ways(fmt: str, external: Any, native: str) -> None:
    compiled = compile_mapping(_mapping(dates={"at": {"external": fmt}}))
    assert compiled.to_native({"at": external}) == {"at": native}
    assert compiled.to_external({"at": native}) == {"at": external}


@pytest.mark.parametrize(
    ("fmt", "external", "native"),
    [
        # offsets are converted to UTC, naive values taken as UTC
        ("iso8601", "2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z"),
        ("iso8601", "2024-01-02T03:04:05", "2024-01-02T03:04:05Z"),
        ("iso8601", "2024-01-02", "2024-01-02T00:00:00Z"),
        ("%Y-%m-%d %H:%M %z", "2024-01-02 05:04 +0200", "2024-01-02T03:04:00Z"),
        # numeric text is accepted for epochs
        ("epoch_s", "1704164645", "2024-01-02T03:04:05Z"),
        ("epoch_ms", "1704164645123", "2024-01-02T03:04:05.123Z"),
        ("epoch_ms", 1_704_164_645_000.0, "2024-01-02T03:04:05Z"),
        # null means cleared
        ("epoch_s", None, None),
    ],
)
def test_dates_inbound_normalisation(fmt: str, external: Any, native: str | None) -> None:
    compiled = compile_mapping(_mapping(dates={"at": {"external": fmt}}))
    assert compiled.to_native({"at": external}) == {"at": native}


@pytest.mark.parametrize(
    ("fmt", "native", "external"),
    [
        ("epoch_ms", "2024-01-02T03:04:05.123456Z", 1_704_164_645_123),  # sub-ms dropped
        ("epoch_s", "2024-01-02T05:04:05+02:00", 1_704_164_645),
        ("iso8601", "2024-01-02T05:04:05+02:00", "2024-01-02T03:04:05Z"),
        ("%d/%m/%Y %H:%M", "2024-01-02T23:30:00-01:00", "03/01/2024 00:30"),
    ],
)
def test_dates_outbound_normalisation(fmt: str, native: str, external: Any) -> None:
    compiled = compile_mapping(_mapping(dates={"at": {"external": fmt}}))
    assert compiled.to_external({"at": native}) == {"at": external}


def test_date_reads_the_renamed_external_field() -> None:
    compiled = compile_mapping(
        _mapping(
            to_external={"opened_at": "meta.created"}, dates={"opened_at": {"external": "epoch_ms"}}
        )
    )
    assert compiled.to_native({"meta": {"created": 1000}, "opened_at": 5}) == {
        "opened_at": "1970-01-01T00:00:01Z"
    }
    assert compiled.to_external({"opened_at": "1970-01-01T00:00:02Z"}) == {
        "meta": {"created": 2000}
    }


@pytest.mark.parametrize(
    ("fmt", "value", "kind"),
    [
        ("epoch_s", "yesterday", "string"),
        ("epoch_s", True, "boolean"),
        ("epoch_s", {"when": 1}, "object"),
        ("epoch_s", 10**30, "integer"),  # out of range
        ("epoch_ms", float("nan"), "number"),
        ("iso8601", 1_704_164_645, "integer"),
        ("iso8601", "2024-13-45", "string"),
        ("%d/%m/%Y %H:%M", "2024-01-02", "string"),
        ("%d/%m/%Y %H:%M", 20240102, "integer"),
        ("iso8601", "0001-01-01T00:30:00+01:00", "string"),  # before year 1 in UTC
        ("%Y-%m-%d %H:%M %z", "0001-01-01 00:30 +0100", "string"),
    ],
)
def test_bad_dates_raise_mapping_error(fmt: str, value: Any, kind: str) -> None:
    compiled = compile_mapping(
        _mapping(to_external={"opened_at": "created"}, dates={"opened_at": {"external": fmt}})
    )
    with pytest.raises(MappingError) as caught:
        compiled.to_native({"created": value})
    message = str(caught.value)
    assert "'opened_at'" in message
    assert "'created'" in message
    assert kind in message


def test_bad_native_date_on_the_way_out() -> None:
    compiled = compile_mapping(_mapping(dates={"opened_at": {"external": "epoch_s"}}))
    with pytest.raises(MappingError, match=r"'opened_at'.*integer 5.*epoch_s"):
        compiled.to_external({"opened_at": 5})


def test_error_messages_do_not_echo_long_values() -> None:
    compiled = compile_mapping(_mapping(dates={"at": {"external": "iso8601"}}))
    secret = "s" * 101
    with pytest.raises(MappingError) as caught:
        compiled.to_native({"at": secret})
    assert secret not in str(caught.value)
    assert "101 characters" in str(caught.value)
    with pytest.raises(MappingError) as short:
        compiled.to_native({"at": "nope"})
    assert "'nope'" in str(short.value)


# --------------------------------------------------------------------------- compose, computed


@pytest.mark.parametrize(
    ("fmt", "payload", "expected"),
    [
        ("{first} {last}", {"first": "Ada", "last": "Lovelace"}, "Ada Lovelace"),
        ("{first} {last}", {"first": "Ada"}, "Ada "),
        ("{ name.first }-{name.last}", {"name": {"first": "A", "last": "L"}}, "A-L"),
        ("#{n} {{literal}}", {"n": 7}, "#7 {literal}"),
        ("{flag}/{none}/{obj}", {"flag": True, "none": None, "obj": {"a": [1]}}, 'true//{"a":[1]}'),
        ("{items.1}", {"items": ["x", "y"]}, "y"),
    ],
)
def test_compose(fmt: str, payload: dict[str, Any], expected: str) -> None:
    compiled = compile_mapping(_mapping(compose={"full": fmt}, unmapped="drop"))
    assert compiled.to_native(payload) == {"full": expected}


def test_compose_is_left_out_when_every_referenced_field_is_missing_and_inbound_only() -> None:
    compiled = compile_mapping(_mapping(compose={"full": "{first} {last}"}, unmapped="drop"))
    assert compiled.to_native({"other": 1}) == {}
    assert compiled.to_external({"full": "Ada Lovelace"}) == {}


@pytest.mark.parametrize("fmt", ["{first", "first}", "{}", "{a:>10}", "{a!r}", "{a..b}"])
def test_bad_compose_formats_are_compile_errors(fmt: str) -> None:
    with pytest.raises(MappingError, match="compose field 'full'"):
        compile_mapping(_mapping(compose={"full": fmt}))


def test_computed_sees_payload_and_the_record_so_far_in_order() -> None:
    compiled = compile_mapping(
        _mapping(
            to_external={"title": "summary"},
            value_maps={"severity": {"p1": "high"}},
            compose={"who": "{user.first} {user.last}"},
            computed={
                "label": "[{{ record.severity }}] {{record.title}} by {{record.who}}",
                "shout": "{{record.label}}!",
                "count": "{{payload.stats.count}}",
                "missing": "{{payload.nope}}",
                "whole": "{{payload.stats}}",
            },
            unmapped="drop",
        )
    )
    native = compiled.to_native(
        {
            "summary": "Down",
            "severity": "high",
            "user": {"first": "Ada", "last": "L"},
            "stats": {"count": 3},
        }
    )
    assert native == {
        "title": "Down",
        "severity": "p1",
        "who": "Ada L",
        "label": "[p1] Down by Ada L",
        "shout": "[p1] Down by Ada L!",
        "count": 3,
        # "missing" is absent: a lone placeholder over a missing value writes nothing
        "whole": {"count": 3},
    }
    assert compiled.to_external(native) == {"summary": "Down", "severity": "high"}


def test_computed_template_errors() -> None:
    with pytest.raises(MappingError, match=r"computed field 'x'.*column 1"):
        compile_mapping(_mapping(computed={"x": "{{ payload.a() }}"}))
    compiled = compile_mapping(_mapping(computed={"x": "{{payload.big}}{{payload.big}}"}))
    with pytest.raises(MappingError, match="computed field 'x': rendered output exceeds"):
        compiled.to_native({"big": "b" * 600_000})


# ------------------------------------------------------------- owned fields, passthrough


def test_owned_fields() -> None:
    compiled = compile_mapping(
        _mapping(
            to_external={"status": "state", "customer.name": "client"},
            to_native={"source": "origin"},
            value_maps={"severity": {"p1": "high"}},
            dates={"opened_at": {"external": "epoch_s"}},
            compose={"full": "{a} {b}"},
            computed={"label": "{{record.status}}"},
        )
    )
    assert compiled.owned_fields == frozenset(
        {"status", "customer.name", "source", "severity", "opened_at", "full", "label"}
    )
    assert compiled.is_passthrough is False


def test_empty_mapping_is_a_deep_copy_passthrough() -> None:
    compiled = compile_mapping(Mapping())
    payload: dict[str, Any] = {"a": {"b": [1, 2]}, "c": None}
    native = compiled.to_native(payload)
    assert native == payload
    native["a"]["b"].append(3)
    assert payload == {"a": {"b": [1, 2]}, "c": None}
    record = compiled.to_external(payload)
    assert record == payload
    assert record["a"] is not payload["a"]
    assert compiled.owned_fields == frozenset()
    assert compiled.is_passthrough is True


@pytest.mark.parametrize("payload", [[1, 2], "text", None, 3])
def test_payload_must_be_an_object(payload: Any) -> None:
    for mapping in (Mapping(), PAGERDUTY):
        compiled = compile_mapping(mapping)
        with pytest.raises(MappingError, match="must be a JSON object"):
            compiled.to_native(payload)
        with pytest.raises(MappingError, match="must be a JSON object"):
            compiled.to_external(payload)


def test_write_conflict_is_a_mapping_error() -> None:
    compiled = compile_mapping(_mapping(to_external={"a": "x", "a.b": "y"}))
    assert compiled.to_native({"x": {"c": 1}, "y": 2}) == {"a": {"c": 1, "b": 2}}
    with pytest.raises(MappingError, match=r"field 'a\.b' cannot be written.*holds a str"):
        compiled.to_native({"x": "text", "y": 2})


@pytest.mark.parametrize(
    "sections",
    [
        {"to_external": {"a..b": "x"}},
        {"to_external": {"a": "x."}},
        {"to_native": {"": "x"}},
        {"computed": {".x": "{{payload.a}}"}},
    ],
)
def test_bad_paths_are_compile_errors(sections: dict[str, Any]) -> None:
    with pytest.raises(MappingError, match="not a field path"):
        compile_mapping(_mapping(**sections))


# --------------------------------------------------------------------------- merge


def test_merge_keeps_unowned_fields_and_reflects_cleared_ones() -> None:
    compiled = compile_mapping(
        _mapping(to_external={"title": "summary", "customer.name": "client", "status": "state"})
    )
    existing = {
        "title": "old",
        "status": "open",
        "customer": {"name": "Old", "tier": "gold"},
        "note": "local enrichment",
    }
    mapped = compiled.to_native({"summary": "new", "client": "New"})  # state cleared upstream
    merged = compiled.merge(existing, mapped)
    assert merged == {
        "title": "new",
        "customer": {"name": "New", "tier": "gold"},
        "note": "local enrichment",
    }
    assert existing["status"] == "open"  # arguments untouched


def test_merge_with_a_passthrough_mapping_replaces_top_level_keys() -> None:
    compiled = compile_mapping(Mapping())
    merged = compiled.merge({"a": {"x": 1}, "keep": 1}, {"a": {"y": 2}})
    assert merged == {"a": {"y": 2}, "keep": 1}


def test_absurdly_deep_payloads_are_a_mapping_error_not_a_crash() -> None:
    deep: Any = {}
    for _ in range(100_000):
        deep = {"a": deep}
    for mapping in (Mapping(), _mapping(to_external={"a": "a"})):
        with pytest.raises(MappingError, match="nested too deeply"):
            compile_mapping(mapping).to_native({"a": deep})
