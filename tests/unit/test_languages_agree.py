"""Configuration validation and the runtime agree on the small languages (issue #17).

Every case goes through both paths:

- validation: the text is written into a project and loaded with
  :func:`hookplane.config.load_all` (what ``hookplane validate`` runs);
- the runtime: the same text is compiled or evaluated with :mod:`hookplane.mapping` the way
  the runtime does (``render_value`` for trigger bodies, ``compile_filter`` for filters,
  ``compile_mapping`` + ``to_native``/``to_external`` for mappings, a date format round trip).

What validation accepts the runtime evaluates without a syntax error; what validation
refuses the runtime refuses too. The collection's schema is open (``type: object``) so that
only the language itself is judged, not the fields it names.

A mapping's structure (two fields onto one target, a field inside another, rename cycles …)
is judged by :func:`hookplane.mapping.validate_mapping`, the check promotion and the runtime
library offer; configuration validation must refuse exactly what it refuses, for a mapping
used inbound (an inline inbound mapping) and one used outbound only (a source with only a
``write`` endpoint). Before the rules had one home, these disagreed: validation accepted
``to_external: {a: x, b: x.y}`` (overlapping targets), and ``validate_mapping`` accepted a
field produced by a rename and by ``compose``, a field inside one mapped whole, two
``to_native`` fields reading one path, rename cycles and lists as value-map values (and,
outbound, two writers of one native field).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hookplane.config import load_all
from hookplane.config.models import Mapping
from hookplane.errors import ConfigError, HookplaneError
from hookplane.mapping import compile_filter, compile_mapping, render_value, validate_mapping
from hookplane.mapping._dates import ConversionError, DateCodec

ENVIRONMENT = "name: preview\nkind: preview\n"
COLLECTION = "collections:\n  things:\n    schema: {type: object}\n"


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _template_config(text: str) -> str:
    return (COLLECTION + "triggers:\n  t:\n    collection: things\n    events: [create]\n"
            f"    url: https://hooks.example.com/t\n    body: {{text: {_yaml_string(text)}}}\n")


def _template_runtime(text: str) -> None:
    render_value({"text": text}, {"record": {"a": 1}, "event": "create"})


def _compose_config(pattern: str) -> str:
    return (COLLECTION + "inbound_webhooks:\n  w:\n    collection: things\n    mapping:\n"
            f"      compose: {{full: {_yaml_string(pattern)}}}\n")


def _compose_runtime(pattern: str) -> None:
    compile_mapping(Mapping(compose={"full": pattern})).to_native({"first": "Ada"})


def _filter_config(spec: str) -> str:
    return (COLLECTION + "triggers:\n  t:\n    collection: things\n    events: [create]\n"
            f"    url: https://hooks.example.com/t\n    filter: {spec}\n")


def _filter_runtime(spec: str) -> None:
    import yaml

    compile_filter(yaml.safe_load(spec))({"severity": "p1", "count": 2})


def _date_config(fmt: str) -> str:
    return (COLLECTION + "inbound_webhooks:\n  w:\n    collection: things\n    mapping:\n"
            f"      dates: {{at: {{external: {_yaml_string(fmt)}}}}}\n")


def _date_runtime(fmt: str) -> None:
    """A native date written out and read back keeps its day (two samples)."""
    codec = DateCodec(fmt)
    for native in ("2024-02-29T13:45:30Z", "2024-11-23T01:02:03Z"):
        try:
            back = codec.to_native(codec.to_external(native))
        except ConversionError as exc:
            raise HookplaneError(str(exc)) from exc
        if back[:10] != native[:10]:
            raise HookplaneError(f"{fmt!r} read {native} back as {back}")


def _mapping_config(section: str) -> str:
    return (COLLECTION + "inbound_webhooks:\n  w:\n    collection: things\n    mapping:\n"
            f"      {section}\n")


def _mapping_runtime(section: str) -> None:
    import yaml

    compiled = compile_mapping(Mapping.model_validate(yaml.safe_load(section)))
    compiled.to_native({"summary": "s", "sev": "high", "severity": "high", "x": 1})
    compiled.to_external({"title": "t", "severity": "p1", "x": 1})


def _outbound_mapping_config(section: str) -> str:
    return (COLLECTION + "sources:\n  s:\n    collection: things\n"
            "    base_url: https://api.example.com\n    write: {method: PUT, path: '/x/{id}'}\n"
            f"    mapping:\n      {section}\n")


def _structure_runtime(*, inbound: bool) -> Callable[[str], None]:
    def run(section: str) -> None:
        import yaml

        problems = validate_mapping(Mapping.model_validate(yaml.safe_load(section)),
                                    inbound=inbound)
        if problems:
            raise HookplaneError("; ".join(map(str, problems)))

    return run


KINDS: dict[str, tuple[Callable[[str], str], Callable[[str], None]]] = {
    "template": (_template_config, _template_runtime),
    "compose": (_compose_config, _compose_runtime),
    "filter": (_filter_config, _filter_runtime),
    "date": (_date_config, _date_runtime),
    "mapping": (_mapping_config, _mapping_runtime),
    "structure-in": (_mapping_config, _structure_runtime(inbound=True)),
    "structure-out": (_outbound_mapping_config, _structure_runtime(inbound=False)),
}

CASES: list[tuple[str, str, bool]] = [
    # templates
    ("template", "plain text", True),
    ("template", "{{ record.a }} and {{record.b.0.c}}", True),
    ("template", '{"json": "looking"} } {', True),
    ("template", "{{ 1+1 }}", False),
    ("template", "{{ record.title | upper }}", False),
    ("template", "{{record.a", False),
    ("template", "{{}}", False),
    ("template", "{{ record..a }}", False),
    # compose patterns
    ("compose", "{first} {last}", True),
    ("compose", "{ first }", True),
    ("compose", "{{literal}} {first}", True),
    ("compose", "{first}}}", True),
    ("compose", "{a{{b}", False),  # validation accepted it; the runtime refused it
    ("compose", "{first name}", False),
    ("compose", "Untitled", False),
    ("compose", "{first} {last", False),
    ("compose", "{first}}", False),
    ("compose", "{first:>10}", False),
    ("compose", "{a..b}", False),
    ("compose", "{}", False),
    # filters
    ("filter", "{severity: p1}", True),
    ("filter", "{severity: [p1, p2], count: {gte: 1, lt: 5}}", True),
    ("filter", "{owner.name: {exists: false}}", True),
    ("filter", "{count: {gtee: 1}}", False),
    ("filter", "{severity: {in: p1}}", False),
    ("filter", "{severity: {exists: maybe}}", False),
    ("filter", "{severity: {}}", False),
    ("filter", "{count: {gt: true}}", False),
    ("filter", "{a..b: 1}", False),
    ("filter", "{'first name': ada}", False),
    # dates
    ("date", "epoch_s", True),
    ("date", "iso8601", True),
    ("date", "%Y-%m-%d %H:%M:%S", True),
    ("date", "%d/%m/%Y", True),
    ("date", "YYYY-MM-DD", False),
    ("date", "%H:%M", False),
    ("date", "%m-%d", False),
    # mappings
    ("mapping", "{to_external: {title: summary}}", True),
    ("mapping", "{to_native: {severity: sev}, value_maps: {severity: {p1: high}}}", True),
    ("mapping", "{to_external: {title: summary..x}}", False),  # validation accepted it
    ("mapping", "{to_native: {a..b: summary}}", False),  # validation accepted it
    ("mapping", "{computed: {t: '{{ payload.x + 1 }}'}}", False),
    ("mapping", "{value_maps: {severity: {p1: high, p2: high}}}", False),
]

STRUCTURE: list[tuple[str, bool, bool]] = [
    # (mapping, valid used inbound, valid used outbound only)
    ("{to_external: {status: state, title: summary}, value_maps: {status: {o: open}}}",
     True, True),
    ("{to_external: {a: x}, to_native: {a: y}}", True, True),  # to_native overrides inbound
    ("{to_external: {a: x}, to_native: {b: x}}", True, True),
    ("{to_native: {a: x, b: x.y}}", True, True),
    ("{to_external: {customer.name: client}, computed: {c: '{{record.customer}}'}}",
     True, True),
    ("{to_external: {a: x, b: x}}", False, False),
    ("{to_external: {a: x}, dates: {x: {external: epoch_s}}}", False, False),
    ("{to_external: {a: x, b: x.y}}", False, False),  # validation accepted it
    ("{to_external: {a: x.y}, value_maps: {x: {p1: high}}}", False, False),  # validation too
    ("{to_native: {a: x}, computed: {a: '{{payload.y}}'}}", False, False),
    ("{compose: {a: '{x}'}, computed: {a: '{{payload.y}}'}}", False, False),
    ("{to_external: {a: x}, compose: {a: '{y}'}}", False, False),  # the runtime accepted it
    ("{to_external: {owner: x, owner.name: y}}", False, False),  # the runtime accepted it
    ("{to_native: {a: x, b: x}}", False, False),  # the runtime accepted it
    ("{to_external: {a: b, b: a}}", False, False),  # the runtime accepted it
    ("{value_maps: {s: {p1: [1]}}}", False, False),  # the runtime accepted it
    ("{value_maps: {s: {p1: high, p2: high}}}", False, True),  # inversion needed inbound only
]
CASES += [("structure-in", text, inbound) for text, inbound, _ in STRUCTURE]
CASES += [("structure-out", text, outbound) for text, _, outbound in STRUCTURE]


def _validation_accepts(root: Path, text: str) -> bool:
    preview = root / "environments" / "preview"
    preview.mkdir(parents=True)
    (preview / "environment.yaml").write_text(ENVIRONMENT, encoding="utf-8")
    (preview / "main.yaml").write_text(text, encoding="utf-8")
    try:
        load_all(root)
    except ConfigError:
        return False
    return True


def _runtime_accepts(run: Callable[[str], None], text: str) -> bool:
    try:
        run(text)
    except HookplaneError:  # TemplateError, MappingError: the runtime refuses it
        return False
    return True


@pytest.mark.parametrize(("kind", "text", "valid"), CASES,
                         ids=[f"{kind}:{text}" for kind, text, _ in CASES])
def test_validation_and_runtime_agree(tmp_path: Path, kind: str, text: str,
                                      valid: bool) -> None:
    to_config, run = KINDS[kind]
    validation = _validation_accepts(tmp_path, to_config(text))
    runtime = _runtime_accepts(run, text)
    assert (validation, runtime) == (valid, valid), (
        f"{kind} {text!r}: validation {'accepts' if validation else 'refuses'}, "
        f"the runtime {'accepts' if runtime else 'refuses'}")


def test_every_kind_has_valid_and_invalid_cases() -> None:
    seen: dict[str, set[bool]] = {}
    for kind, _, valid in CASES:
        seen.setdefault(kind, set()).add(valid)
    assert seen == {kind: {True, False} for kind in KINDS}


def test_the_runtime_side_really_runs(tmp_path: Path) -> None:
    """The runtime paths are not vacuous: a valid body renders, a valid filter selects."""
    assert render_value({"text": "n={{record.a}}"}, {"record": {"a": 1}}) == {"text": "n=1"}
    assert compile_filter({"count": {"gte": 2}})({"count": 2})
    assert not compile_filter({"count": {"gte": 3}})({"count": 2})
    assert compile_mapping(Mapping(compose={"full": "{first} {last}"})).to_native(
        {"first": "Ada", "last": "L"})["full"] == "Ada L"
    assert _validation_accepts(tmp_path, _compose_config("{first} {last}"))

