from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookplane.errors import TemplateError
from hookplane.mapping import (
    Placeholder,
    TemplateSyntaxError,
    parse_template,
    render_string,
    render_value,
)

CONTEXT: dict[str, Any] = {
    "payload": {
        "title": "Deploy failed",
        "environment": "production",
        "commit": "a1b2c3d",
        "author": "jane",
        "repository": {"name": "api", "tags": ["x", "y"]},
        "count": 3,
        "ratio": 0.5,
        "ok": True,
        "nothing": None,
        "items": [{"id": "first"}, {"id": "second"}],
        "with-dash": "dashed",
    },
    "record": {"x": "rec"},
}


# --------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(
    ("text", "references"),
    [
        ("plain text", ()),
        ("{{payload.title}}", ("payload.title",)),
        ("{{ payload.title }} / {{record.x}}", ("payload.title", "record.x")),
        ("{{\tpayload.items.0.id\n}}", ("payload.items.0.id",)),
        ("{{payload}}", ("payload",)),
        ("{{payload.a}}{{payload.a}}{{payload.b}}", ("payload.a", "payload.b")),
        ("{{payload.with-dash}} {{_x.y_z}}", ("payload.with-dash", "_x.y_z")),
        ('{"json": "{{payload.a}}"} }} { }', ("payload.a",)),
    ],
)
def test_references(text: str, references: tuple[str, ...]) -> None:
    assert parse_template(text).references == references


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("{{ payload.title | upper }}", 1, "not a placeholder"),
        ("Hi {{ payload.a + 1 }}", 4, "not a placeholder"),
        ("{{payload.run()}}", 1, "not a placeholder"),
        ("{{ payload['a'] }}", 1, "not a placeholder"),
        ("ok {{payload.a}} then {{ __import__('os') }}", 23, "not a placeholder"),
        ("{{ payload..a }}", 1, "not a placeholder"),
        ("{{ payload.a. }}", 1, "not a placeholder"),
        ("{{ payload a }}", 1, "not a placeholder"),
        ("{{{payload.a}}}", 1, "not a placeholder"),
        ("{{}}", 1, "empty placeholder"),
        ("abc {{   }}", 5, "empty placeholder"),
        ("abc {{payload.a", 5, "unclosed"),
        ("{{payload.a}} {{", 15, "unclosed"),
    ],
)
def test_grammar_errors_name_the_column(text: str, column: int, message: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=message) as caught:
        parse_template(text)
    assert caught.value.column == column
    assert caught.value.line == 1
    assert f"column {column}" in str(caught.value)
    assert isinstance(caught.value, TemplateError)


def test_grammar_error_on_a_later_line() -> None:
    with pytest.raises(TemplateSyntaxError, match="line 2, column 3") as caught:
        parse_template("first {{payload.a}}\n  {{ nope() }}")
    assert (caught.value.line, caught.value.column, caught.value.position) == (2, 3, 22)


def test_parse_is_cached() -> None:
    assert parse_template("{{payload.cached}}") is parse_template("{{payload.cached}}")


def test_single_placeholder() -> None:
    single = parse_template("{{ record.count }}").single
    assert single == Placeholder("record.count", ("record", "count"), 0)
    assert parse_template(" {{record.count}}").single is None
    assert parse_template("{{a.b}}{{a.c}}").single is None


# --------------------------------------------------------------------------- render_string


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[{{payload.environment}}] {{payload.title}}", "[production] Deploy failed"),
        ("Commit {{payload.commit}} by {{payload.author}}", "Commit a1b2c3d by jane"),
        ("{{payload.repository.name}}", "api"),
        ("{{payload.items.1.id}}", "second"),
        ("<{{payload.missing}}>", "<>"),
        ("<{{payload.missing.deeper}}>", "<>"),
        ("<{{unknown_root.a}}>", "<>"),
        ("<{{0.a}}>", "<>"),
        ("<{{payload.nothing}}>", "<>"),
        ("{{payload.count}} {{payload.ratio}} {{payload.ok}}", "3 0.5 true"),
        ("{{payload.repository}}", '{"name":"api","tags":["x","y"]}'),
        ("{{payload.repository.tags}}", '["x","y"]'),
        ("{{payload.with-dash}}", "dashed"),
        ("{{record.x}}", "rec"),
        ("no placeholders {at} all }}", "no placeholders {at} all }}"),
    ],
)
def test_render_string(text: str, expected: str) -> None:
    assert render_string(text, CONTEXT) == expected
    assert render_string(parse_template(text), CONTEXT) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{{__class__}}",
        "{{ payload.__init__ }}",
        "{{payload.title.__class__}}",
        "{{payload.title.upper}}",
        "{{payload.__dict__}}",
        "{{payload.items.__len__}}",
        "{{ __builtins__ }}",
    ],
)
def test_no_code_execution_only_dict_and_list_lookups(text: str) -> None:
    assert render_string(text, CONTEXT) == ""


def test_renderer_never_reads_attributes() -> None:
    class Trap(dict[str, Any]):
        def __getattribute__(self, name: str) -> Any:
            if not name.startswith("__"):
                raise AssertionError(f"attribute {name} was read")
            return super().__getattribute__(name)

    trap = Trap(title="safe")
    context = {"payload": trap}
    assert render_string("{{payload.title}}|{{payload.keys}}|{{payload.get}}", context) == "safe||"


# --------------------------------------------------------------------------- render_value


def test_render_value_walks_structures_and_keeps_single_placeholder_types() -> None:
    body = {
        "text": "P1 incident: {{payload.title}}",
        "count": "{{payload.count}}",
        "ratio": "{{ payload.ratio }}",
        "ok": "{{payload.ok}}",
        "null": "{{payload.nothing}}",
        "missing": "{{payload.missing}}",
        "repo": "{{payload.repository}}",
        "mixed": "n={{payload.count}}",
        "list": ["{{payload.author}}", 5, None, {"deep": "{{payload.items.0}}"}],
        "{{payload.title}}": "keys are not templated",
        "literal": 42,
    }
    rendered = render_value(body, CONTEXT)
    assert rendered == {
        "text": "P1 incident: Deploy failed",
        "count": 3,
        "ratio": 0.5,
        "ok": True,
        "null": None,
        # "missing" is left out: a lone placeholder over nothing writes no field
        "repo": {"name": "api", "tags": ["x", "y"]},
        "mixed": "n=3",
        "list": ["jane", 5, None, {"deep": {"id": "first"}}],
        "{{payload.title}}": "keys are not templated",
        "literal": 42,
    }
    # substituted objects are copies, not the context's own objects
    rendered["repo"]["tags"].append("z")
    assert CONTEXT["payload"]["repository"]["tags"] == ["x", "y"]
    assert render_value("{{payload.title}}", CONTEXT) == "Deploy failed"


def test_render_value_reports_syntax_errors() -> None:
    with pytest.raises(TemplateSyntaxError, match="column 3"):
        render_value({"a": ["ok", "x {{ a b }}"]}, CONTEXT)


# --------------------------------------------------------------------------- output cap


def test_output_cap_on_render_string() -> None:
    context = {"payload": {"big": "x" * 600}}
    assert len(render_string("{{payload.big}}", context, max_bytes=600)) == 600
    with pytest.raises(TemplateError, match="rendered output exceeds 1000 bytes"):
        render_string("{{payload.big}}{{payload.big}}", context, max_bytes=1000)


def test_output_cap_counts_utf8_bytes() -> None:
    context = {"payload": {"s": "é" * 300}}  # 600 bytes
    assert render_string("{{payload.s}}", context, max_bytes=600)
    with pytest.raises(TemplateError, match="exceeds 599 bytes"):
        render_string("{{payload.s}}", context, max_bytes=599)
    with pytest.raises(TemplateError, match="exceeds 10 bytes"):
        render_string("literal text longer than ten", {}, max_bytes=10)


def test_output_cap_default_is_one_mebibyte() -> None:
    context = {"payload": {"s": "a" * 600_000}}
    assert len(render_string("{{payload.s}}", context)) == 600_000
    with pytest.raises(TemplateError, match="exceeds 1048576 bytes"):
        render_string("{{payload.s}}{{payload.s}}", context)


def test_output_cap_on_render_value_is_shared_by_all_leaves() -> None:
    context = {"payload": {"s": "a" * 400, "obj": {"k": "v" * 400}}}
    assert render_value(["{{payload.s}}", "{{payload.s}}"], context, max_bytes=800)
    with pytest.raises(TemplateError, match="exceeds 1000 bytes"):
        render_value(["{{payload.s}}"] * 3, context, max_bytes=1000)
    with pytest.raises(TemplateError, match="exceeds 800 bytes"):
        render_value({"a": "{{payload.obj}}", "b": "{{payload.obj}}"}, context, max_bytes=800)


def test_output_cap_stops_repeated_large_references_early() -> None:
    # a template that repeats a large object many times fails fast instead of building
    # (repeats x size) of output
    context = {"payload": {"big": {"k": "v" * 100_000}}}
    template = "{{payload.big}}" * 10_000
    with pytest.raises(TemplateError, match="exceeds"):
        render_string(template, context)


def test_deeply_nested_values_are_a_template_error_not_a_crash() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(TemplateError, match="nested too deeply"):
        render_string("{{payload.deep}}", {"payload": {"deep": deep}})


# --------------------------------------------------------------------------- properties


@given(st.text(max_size=200))
def test_parse_either_succeeds_or_raises_a_positioned_template_error(text: str) -> None:
    try:
        template = parse_template(text)
    except TemplateSyntaxError as exc:
        assert 0 <= exc.position < len(text)
        assert text.startswith("{{", exc.position)
    else:
        for part in template.parts:
            if isinstance(part, str):
                assert "{{" not in part
            else:
                assert text.startswith("{{", part.position)
        if "{{" not in text:
            assert render_string(template, CONTEXT) == text


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_names, children, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(_names, _json, max_size=5), _names)
def test_single_placeholder_returns_the_value_itself(payload: dict[str, Any], key: str) -> None:
    rendered = render_value(f"{{{{payload.{key}}}}}", {"payload": payload})
    assert rendered == payload.get(key, "")


@pytest.mark.parametrize("max_bytes", [-1, 1.5, True])
def test_max_bytes_must_be_a_non_negative_integer(max_bytes: Any) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        render_string("x", {}, max_bytes=max_bytes)
