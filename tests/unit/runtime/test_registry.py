"""The runtime's configuration view: compiled lazily, triggers indexed by collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hookplane.runtime.registry import Registry, build_view
from hookplane.state import AuditRecord, Create, Store

ENV = "preview"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path) as opened:
        snap = opened.snapshot(ENV)
        schema = {"type": "object", "required": ["title"],
                  "properties": {"title": {"type": "string"}}}
        operations = [Create(kind="collections", name=name, spec={"schema": schema})
                      for name in ("incidents", "orders")]
        operations += [Create(kind="triggers", name=f"t{i}",
                              spec={"collection": "incidents" if i % 3 else "orders",
                                    "url": "https://x.test", "timeout": 1 + i,
                                    "events": ["create"]},
                              generate=("signing_secret",)) for i in range(7)]
        operations += [Create(kind="inbound_webhooks", name="in",
                              spec={"collection": "incidents", "auth": {"type": "github"},
                                    "mapping": {"to_external": {"title": "subject"}}},
                              generate=("hmac_secret",))]
        opened.commit(ENV, environment_kind="preview", expected_lineage=snap.lineage,
                      expected_serial=snap.serial, operations=operations,
                      audit=AuditRecord(action="apply", actor="test"))
        yield opened


def test_validators_and_mappings_are_compiled_on_first_use(store: Store) -> None:
    view = build_view(store, ENV)
    incidents = view.collections["incidents"]
    hook = next(iter(view.inbound.values()))
    assert "validator" not in vars(incidents) and "mapping" not in vars(hook)
    assert [e.path for e in incidents.validator.validate({})] == ["title"]
    assert incidents.validator is incidents.validator  # compiled once
    assert hook.mapping is not None and hook.mapping.to_native({"subject": "x"}) == {
        "title": "x"}
    assert "validator" not in vars(view.collections["orders"])  # untouched: not compiled


def test_triggers_are_found_by_collection_and_the_longest_timeout_once(store: Store) -> None:
    registry = Registry(store)
    registry.refresh()
    view = registry.get(ENV)
    assert view is not None
    assert sorted(t.name for t in view.triggers_for("incidents")) == [
        "t1", "t2", "t4", "t5"]
    assert sorted(t.name for t in view.triggers_for("orders")) == ["t0", "t3", "t6"]
    assert view.triggers_for("nothing") == []
    assert view.longest_timeout == 7
    # looking triggers up and reading their timeouts left every spec packed
    assert not [t.name for t in view.triggers.values() if "spec" in vars(t)]
    assert view.triggers["t3"].spec.timeout == 4 and "spec" in vars(view.triggers["t3"])


EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("directory", sorted(p for p in EXAMPLES.glob("*/environments/*")
                                            if len(list(p.glob("*.yaml"))) > 1),
                         ids=lambda p: f"{p.parents[1].name}/{p.name}")
def test_packed_specs_come_back_equal(directory: Path) -> None:
    """Every collection, source and trigger of every example survives the compact form the
    view keeps them in until first use."""
    from hookplane.config.loader import load
    from hookplane.config.models import Collection, Source, Trigger
    from hookplane.runtime.registry import CollectionView, SourceView, TriggerView

    config = load(directory, root=directory.parents[1])
    seen = 0
    for name, resource in config.section("collections").items():
        spec = resource.spec
        assert isinstance(spec, Collection)
        assert CollectionView.of(name, spec).spec == spec
        seen += 1
    for name, resource in config.section("sources").items():
        spec = resource.spec
        assert isinstance(spec, Source)
        assert SourceView.of(name, spec).spec == spec
        seen += 1
    for name, resource in config.section("triggers").items():
        spec = resource.spec
        assert isinstance(spec, Trigger)
        packed = TriggerView.of("trg_x", name, spec, ())
        assert packed.spec == spec
        assert (packed.collection, packed.events, packed.timeout) == (
            spec.collection, tuple(spec.events), spec.timeout)
        seen += 1
    assert seen
