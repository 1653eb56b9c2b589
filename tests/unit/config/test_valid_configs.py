"""Valid configurations: the demo, every example project, and edge cases that must load."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hookplane.config import list_environments, load_all, load_environment
from hookplane.config.models import InboundWebhook, Trigger

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if (p / "environments").is_dir())
PROJECTS = [REPO, *EXAMPLES]
SCHEMA_COMMENT = "# yaml-language-server: $schema="


def _id(project: Path) -> str:
    return "demo" if project == REPO else project.name


def test_there_are_at_least_three_examples() -> None:
    assert len(EXAMPLES) >= 3, [p.name for p in EXAMPLES]
    for example in EXAMPLES:
        assert (example / "README.md").is_file(), f"{example.name} has no README.md"
        assert (example / "environments" / "production" / "environment.yaml").is_file()


@pytest.mark.parametrize("project", PROJECTS, ids=_id)
def test_every_environment_validates(project: Path) -> None:
    configs = load_all(project)
    assert "preview" in configs and "production" in configs
    assert configs["preview"].environment.promotes_to == "production"
    assert sum(1 for _ in configs["preview"].all_resources()) > 0


@pytest.mark.parametrize(
    "path",
    sorted(p for project in PROJECTS for p in (project / "environments").rglob("*.y*ml")),
    ids=lambda p: p.relative_to(REPO).as_posix(),
)
def test_every_yaml_file_names_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(SCHEMA_COMMENT), f"{path} does not start with the schema comment"
    target = (path.parent / first.removeprefix(SCHEMA_COMMENT).strip()).resolve()
    assert target == REPO / "schema" / "hookplane.schema.json", f"{path} points at {target}"


# --------------------------------------------------------------------------- edge cases

ENVIRONMENT = "name: preview\nkind: preview\n"
COLLECTION = """\
collections:
  incidents:
    schema:
      type: object
      properties:
        title: {type: string}
        severity: {type: string}
"""


def _with_collection(text: str) -> str:
    return COLLECTION + textwrap.dedent(text)


def _project(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"environment.yaml": ENVIRONMENT, **files}.items():
        path = root / "environments" / "preview" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_yml_extension_and_nested_directories(tmp_path: Path) -> None:
    root = _project(tmp_path, {
        "data/collections.yml": COLLECTION,
        "hooks/outbound/slack/triggers.yaml": """\
            triggers:
              notify:
                collection: incidents
                events: [create]
                url: https://hooks.example.com/n
            """,
    })
    config = load_environment(root, "preview")
    assert config.get("collections", "incidents") is not None
    notify = config.get("triggers", "notify")
    assert notify is not None
    assert notify.file == "environments/preview/hooks/outbound/slack/triggers.yaml"


def test_sections_split_across_files(tmp_path: Path) -> None:
    root = _project(tmp_path, {
        "a.yaml": COLLECTION + "api_keys:\n  one: {scopes: [read]}\n",
        "b.yaml": "api_keys:\n  two: {scopes: ['write:incidents']}\n",
    })
    config = load_environment(root, "preview")
    assert sorted(config.section("api_keys")) == ["one", "two"]


@pytest.mark.parametrize("text", [
    "",
    "# only a comment\n",
    "collections:\ntriggers:\n",
    "collections: {}\nsources: {}\ntriggers: {}\ninbound_webhooks: {}\napi_keys: {}\n",
], ids=["empty-file", "comment-only", "null-sections", "empty-sections"])
def test_empty_files_and_sections(tmp_path: Path, text: str) -> None:
    config = load_environment(_project(tmp_path, {"empty.yaml": text}), "preview")
    assert list(config.all_resources()) == []


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    root = _project(tmp_path, {"main.yaml": _with_collection("""\
        triggers:
          first: &defaults
            collection: incidents
            events: [create, update]
            url: https://hooks.example.com/first
            timeout: 3s
            retry: &retry {attempts: 3, initial_seconds: 1, max_seconds: 30}
          second:
            <<: *defaults
            url: https://hooks.example.com/second
            events: [delete]
          third:
            <<: *defaults
            retry: *retry
            filter: {severity: p1}
        """)})
    config = load_environment(root, "preview")
    second = config.get("triggers", "second")
    third = config.get("triggers", "third")
    assert second is not None and third is not None
    assert isinstance(second.spec, Trigger) and isinstance(third.spec, Trigger)
    assert second.spec.url == "https://hooks.example.com/second"  # explicit keys win
    assert second.spec.events == ["delete"]
    assert second.spec.timeout == 3.0  # merged from the anchor
    assert third.spec.filter == {"severity": "p1"}
    assert third.spec.url == "https://hooks.example.com/first"


def test_top_level_x_keys_hold_shared_anchors(tmp_path: Path) -> None:
    """Docker Compose's convention: an ``x-`` key is ignored by the model and only holds
    anchors that resources merge (an unknown key without ``x-`` is still an error)."""
    root = _project(tmp_path, {"main.yaml": _with_collection("""\
        x-delivery: &delivery
          collection: incidents
          retry: {attempts: 5, backoff: exponential, max_seconds: 60}
          timeout: 5
        x-note: anything at all, [even, a list]
        triggers:
          page:
            <<: *delivery
            url: https://hooks.example.com/page
            events: [create]
        """)})
    (root / "environments" / "preview" / "environment.yaml").write_text(
        "name: preview\nkind: preview\nx-owner: sre\n")
    config = load_environment(root, "preview")
    page = config.get("triggers", "page")
    assert page is not None and isinstance(page.spec, Trigger)
    assert (page.spec.timeout, page.spec.collection) == (5.0, "incidents")
    assert [r.address for r in config.all_resources()] == ["collections.incidents",
                                                          "triggers.page"]


@pytest.mark.parametrize(("written", "seconds"), [
    ("500ms", 0.5), ("10s", 10.0), ("2m", 120.0), ("1h", 3600.0), ("7", 7.0), ("2.5", 2.5),
    ('"15"', 15.0),
])
def test_durations(tmp_path: Path, written: str, seconds: float) -> None:
    root = _project(tmp_path, {"main.yaml": _with_collection(f"""\
        triggers:
          t:
            collection: incidents
            events: [create]
            url: https://hooks.example.com/t
            timeout: {written}
        """)})
    spec = load_environment(root, "preview").section("triggers")["t"].spec
    assert isinstance(spec, Trigger)
    assert spec.timeout == pytest.approx(seconds)


def test_action_upsert_shorthand(tmp_path: Path) -> None:
    root = _project(tmp_path, {"main.yaml": _with_collection("""\
        inbound_webhooks:
          short:
            collection: incidents
            action: upsert
          long:
            collection: incidents
            action: {upsert: {key: id}}
          default:
            collection: incidents
        """)})
    section = load_environment(root, "preview").section("inbound_webhooks")
    specs = {name: resource.spec for name, resource in section.items()}
    assert all(isinstance(spec, InboundWebhook) for spec in specs.values())
    kinds = {name: spec.action.kind for name, spec in specs.items()}  # type: ignore[attr-defined]
    assert kinds == {"short": "upsert", "long": "upsert", "default": "upsert"}
    assert section["short"].canonical() == section["default"].canonical()


def test_env_references_where_they_are_allowed(tmp_path: Path) -> None:
    root = _project(tmp_path, {"main.yaml": _with_collection("""\
        sources:
          api:
            collection: incidents
            base_url: "https://${env:API_HOST}/v1"
            headers: {Authorization: "Bearer ${env:API_TOKEN}"}
            read: {path: "/incidents/{id}", headers: {X-Api-Key: "${env:API_KEY}"}}
        triggers:
          t:
            collection: incidents
            events: [create]
            url: "${env:SLACK_WEBHOOK_URL}"
            headers: {X-Signature-Key: "${env:SIGNATURE_KEY}"}
            signing: {secret: "${env:SIGNING_SECRET}"}
        inbound_webhooks:
          w:
            collection: incidents
            auth: {type: hmac, secret: "${env:INBOUND_SECRET}"}
          agent:
            auth: {type: bearer}
            action:
              invoke:
                url: "${env:AGENT_URL}"
                headers: {Authorization: "Bearer ${env:AGENT_TOKEN}"}
        """)})
    config = load_environment(root, "preview")
    assert len(list(config.all_resources())) == 5


def test_non_credential_headers_may_be_literal(tmp_path: Path) -> None:
    root = _project(tmp_path, {"main.yaml": _with_collection("""\
        triggers:
          t:
            collection: incidents
            events: [create]
            url: https://hooks.example.com/t
            headers: {Content-Type: application/json, X-Team: sre}
        """)})
    assert load_environment(root, "preview").get("triggers", "t") is not None


def test_system_event_trigger_needs_no_collection(tmp_path: Path) -> None:
    root = _project(tmp_path, {"main.yaml": """\
        triggers:
          ops:
            events: [config.applied, config.promoted, delivery.failed]
            url: https://ops.example.com/hookplane
        """})
    assert load_environment(root, "preview").get("triggers", "ops") is not None


def test_list_environments_skips_files_and_hidden_directories(tmp_path: Path) -> None:
    _project(tmp_path, {})
    (tmp_path / "environments" / ".cache").mkdir()
    (tmp_path / "environments" / "README.md").write_text("notes\n", encoding="utf-8")
    assert list_environments(tmp_path) == ["preview"]


def test_nullable_date_field_and_renames_both_ways(tmp_path: Path) -> None:
    """A date may be ``[string, "null"]``; ``to_native`` may override a ``to_external``
    rename on the way in (the API reads ``status_label`` but accepts ``state``)."""
    root = _project(tmp_path, {"main.yaml": """\
        collections:
          incidents:
            schema:
              type: object
              properties:
                status: {type: string}
                closed_at: {type: [string, "null"], format: date-time}
        sources:
          api:
            collection: incidents
            base_url: https://api.example.com
            read: {path: "/incidents/{id}"}
            write: {method: PUT, path: "/incidents/{id}"}
            mapping:
              to_external: {status: state}
              to_native: {status: status_label}
              dates: {closed_at: {external: epoch_ms}}
        """})
    assert load_environment(root, "preview").get("sources", "api") is not None
