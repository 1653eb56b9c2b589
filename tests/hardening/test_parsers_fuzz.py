"""Property-based fuzzing of the pure parsers and evaluators behind every input: the YAML
loader (random and mutated YAML gives a result or ``ConfigError`` diagnostics with a file and
position, never another exception), the template renderer (substitution only, output capped),
the filter evaluator (validated filters never raise on any record), the mapping engine (a
payload maps or raises ``MappingError``) and every signature verifier (random headers and
bodies: never raises, never accepts)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hookplane.config import load_environment
from hookplane.config.models import Auth, Mapping
from hookplane.errors import ConfigError, MappingError, TemplateError
from hookplane.mapping import compile_filter, compile_mapping, render_value, validate_filter
from hookplane.runtime.verify import verify
from tests.hardening import strategies as hs
from tests.hardening.figures import record, scale

EXAMPLES = scale(200, 3000)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

VALID_YAML = """\
collections:
  incidents:
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}
        severity: {type: string, enum: [p1, p2]}
triggers:
  alert:
    collection: incidents
    events: [create]
    url: https://hooks.example.com/x
    filter: {severity: p1}
    body: {text: "{{record.title}}"}
inbound_webhooks:
  in:
    collection: incidents
    auth: {type: hmac}
    mapping: {to_native: {title: a.b}}
api_keys:
  k: {scopes: [read]}
"""
YAML_PIECES = ["&a", "*a", "!!python/object:os.system", "!!binary", "<<: *a", "\t", "- ",
               ": ", "{", "}", "[", "]", "'", '"', "#", "|", ">", "%YAML 1.1", "---", "...",
               "\ufeff", "\x00", "\udc80", "${env:X}", "{{", "}}", "~", "null", "1e999",
               "0x1F", "yes", "2024-01-01", "\n", "  ", "key: value", "collections:",
               "? ", "!", "@", "`"]


@st.composite
def mutated_yaml(draw: st.DrawFn) -> str:
    text = VALID_YAML
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(YAML_PIECES), st.text(max_size=6)))
        end = min(len(text), position + draw(st.integers(0, 12)))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[end:]
        else:
            text = text[:position] + piece + text[end:]
    return text


_counts: dict[str, dict[str, int]] = {}


def _tally(target: str, outcome: str) -> None:
    bucket = _counts.setdefault(target, {})
    bucket[outcome] = bucket.get(outcome, 0) + 1


def _record(target: str) -> None:
    seen = _counts.pop(target, {})
    record("fuzz", target, cases=sum(seen.values()), statuses=dict(sorted(seen.items())),
           server_errors=0)


def test_yaml_loader_only_raises_positioned_config_errors(tmp_path: Path) -> None:
    target = "YAML loader (random and mutated YAML)"
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    main = env / "main.yaml"

    @FUZZ
    @given(st.one_of(mutated_yaml(), mutated_yaml(), st.text(max_size=300),
                     st.binary(max_size=300)))
    @example("a: &a [*a, *a]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n" * 3)
    @example("collections: !!python/object/apply:os.system ['touch /tmp/pwned']\n")
    @example(b"\xff\xfe\x00c\x00o")
    def run(content: str | bytes) -> None:
        if isinstance(content, str):
            main.write_bytes(content.encode("utf-8", "surrogatepass"))
        else:
            main.write_bytes(content)
        started = time.monotonic()
        try:
            load_environment(tmp_path, "preview")
            _tally(target, "loaded")
        except ConfigError as exc:
            _tally(target, "ConfigError")
            assert exc.diagnostics
            for diagnostic in exc.diagnostics:
                assert diagnostic.file and diagnostic.message
                assert diagnostic.line >= 0 and diagnostic.column >= 0
        assert time.monotonic() - started < 5

    run()
    assert not Path("/tmp/pwned").exists()
    _record(target)


TEMPLATES = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(["{{", "}}", "payload", "record", ".", "a", "0", " ", "__class__",
                              "__globals__", "{", "}", "x" * 50, "{{payload.big}}",
                              "{{ payload.a.b }}", "{{record.__init__}}", "|upper", "()"]),
             max_size=12).map("".join),
)


def test_template_renderer_substitutes_only_and_caps_output() -> None:
    target = "template renderer"
    big = "x" * 20_000

    @FUZZ
    @given(st.one_of(TEMPLATES, st.dictionaries(st.text(max_size=5), TEMPLATES, max_size=4),
                     st.lists(TEMPLATES, max_size=4)),
           hs.CLEAN_VALUES, st.integers(1, 100_000))
    @example(["{{payload.big}}"] * 60, {"big": big}, 1_048_576)
    @example("{{payload.__class__.__mro__}}", {}, 1000)
    def run(template: Any, payload: Any, cap: int) -> None:
        context = {"payload": payload if not isinstance(payload, dict)
                   else {**payload, "big": big}, "record": {"a": {"b": 1}}}
        try:
            rendered = render_value(template, context, max_bytes=cap)
        except TemplateError:
            _tally(target, "TemplateError")
            return
        _tally(target, "rendered")
        assert len(repr(rendered).encode()) <= 4 * cap + 10_000
        assert "<class" not in repr(rendered) and "<function" not in repr(rendered)

    run()
    _record(target)


FILTER_VALUES = st.one_of(hs.JSON_SCALARS, st.lists(hs.JSON_SCALARS, max_size=3))
FILTERS = st.dictionaries(
    st.one_of(st.sampled_from(["severity", "a.b", "n", "status", "tags.0"]),
              st.text(max_size=8)),
    st.one_of(FILTER_VALUES, st.dictionaries(
        st.one_of(st.sampled_from(["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte",
                                   "exists", "contains", "regex"]), st.text(max_size=4)),
        FILTER_VALUES, max_size=3)),
    max_size=4)


def test_filters_validate_or_evaluate_without_raising() -> None:
    target = "filter evaluator"

    @FUZZ
    @given(FILTERS, st.lists(hs.JSON_VALUES, min_size=1, max_size=4))
    def run(spec: dict[str, Any], records: list[Any]) -> None:
        if validate_filter(spec):
            _tally(target, "refused")
            return
        matches = compile_filter(spec)
        for value in records:
            data = value if isinstance(value, dict) else {"severity": value, "n": value}
            assert matches(data) in (True, False)
        _tally(target, "evaluated")

    run()
    _record(target)


def test_mapping_engine_maps_or_raises_mapping_errors() -> None:
    target = "mapping engine (to_native / to_external)"
    mapping = compile_mapping(Mapping.model_validate({
        "to_external": {"status": "state", "total": "amount", "customer": "buyer.name",
                        "placed_at": "placed_at", "tags": "labels"},
        "value_maps": {"status": {"open": "OPEN", "paid": "PAID"}},
        "dates": {"placed_at": {"external": "epoch_s"}},
    }))

    @FUZZ
    @given(st.one_of(hs.CLEAN_VALUES, st.fixed_dictionaries(
        {}, optional={"state": hs.JSON_SCALARS, "amount": hs.JSON_VALUES,
                      "buyer": hs.JSON_VALUES, "placed_at": st.one_of(
                          hs.JSON_SCALARS, st.integers(-(10**20), 10**20)),
                      "labels": hs.JSON_VALUES})))
    @example({"placed_at": 10**30})
    @example({"placed_at": -(10**18), "state": "PAID"})
    def run(payload: Any) -> None:
        if not isinstance(payload, dict):
            payload = {"state": payload}
        try:
            native = mapping.to_native(payload)
        except MappingError:
            _tally(target, "MappingError")
            return
        assert isinstance(native, dict)
        try:
            mapping.to_external(native)
        except MappingError:
            _tally(target, "MappingError (back)")
            return
        _tally(target, "mapped")

    run()
    _record(target)


AUTHS = [Auth.model_validate(a) for a in (
    {"type": "hmac"}, {"type": "hmac", "encoding": "base64"}, {"type": "static_header",
                                                               "header": "X-Key"},
    {"type": "bearer"}, {"type": "standard_webhooks"}, {"type": "github"}, {"type": "stripe"},
    {"type": "slack"}, {"type": "shopify"}, {"type": "pagerduty"})]


@pytest.mark.parametrize("auth", AUTHS, ids=lambda a: f"{a.type}-{getattr(a, 'encoding', '')}")
def test_verifiers_never_raise_and_never_accept_forgeries(auth: Auth) -> None:
    target = "signature verifiers (random headers and bodies)"
    secrets = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a-plain-secret-value")
    value = st.one_of(hs.SIGNATURE_VALUES.map(
        lambda v: v if isinstance(v, str) else v.decode("latin-1")), st.text(max_size=50),
        st.integers(0, 2 * 10**9).map(str))
    names = ["x-hookplane-signature", "x-key", "authorization", "webhook-id",
             "webhook-timestamp", "webhook-signature", "x-hub-signature-256",
             "stripe-signature", "x-slack-signature", "x-slack-request-timestamp",
             "x-shopify-hmac-sha256", "x-pagerduty-signature"]

    @settings(FUZZ, max_examples=max(20, EXAMPLES // 4))
    @given(st.fixed_dictionaries({}, optional=dict.fromkeys(names, value)),
           st.binary(max_size=200))
    def run(headers: dict[str, str], body: bytes) -> None:
        result = verify(auth, headers=headers, body=body, secrets=secrets,
                        token_hashes=("0" * 64,))
        assert not result.ok
        _tally(target, result.reason or "refused")

    run()
    if auth is AUTHS[-1]:
        _record(target)
