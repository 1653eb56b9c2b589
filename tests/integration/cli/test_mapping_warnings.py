"""``hookplane validate`` warns (positioned, exit 0) when a mapping can never produce a
required field of its collection."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from hookplane.cli.main import run
from hookplane.config import load_all
from hookplane.config.advice import config_warnings

ENVIRONMENT = "name: preview\nkind: preview\n"
COLLECTION = """\
collections:
  incidents:
    schema:
      type: object
      required: [title, state]
      properties:
        title: {type: string}
        state: {type: string}
        status: {type: string}
"""


def _project(root: Path, hooks: str) -> Path:
    preview = root / "environments" / "preview"
    preview.mkdir(parents=True)
    (preview / "environment.yaml").write_text(ENVIRONMENT)
    (preview / "main.yaml").write_text(COLLECTION + textwrap.dedent(hooks))
    return root


def _validate(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["--no-color", "-C", str(root), "validate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


DROP = """\
inbound_webhooks:
  alerts:
    collection: incidents
    auth: {type: hmac, header: X-Signature}
    mapping:
      to_external: {status: state}
      unmapped: drop
"""


def test_a_restricted_mapping_without_required_fields_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, DROP)
    code, out, err = _validate(root, capsys)
    assert code == 0
    assert out == "✓ preview: 2 resources valid\n"
    assert err == (
        "Warning: environments/preview/main.yaml:16:7: inbound_webhooks.alerts: required "
        "fields 'title', 'state' of the collection can never be in the record: with "
        "'unmapped: drop' it holds only the fields this mapping names, so every delivery "
        "would be refused (422) (name 'title', 'state' in to_native or to_external, or "
        "remove 'unmapped: drop' to keep the payload's other fields)\n"
    )
    code, out, err = _validate(root, capsys, "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["valid"] is True
    (warning,) = report["warnings"]
    assert (warning["file"], warning["line"], warning["column"]) == (
        "environments/preview/main.yaml",
        16,
        7,
    )
    assert warning["address"] == "inbound_webhooks.alerts"


def test_a_rename_that_takes_a_required_field_away_is_a_warning(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        """\
        inbound_webhooks:
          alerts:
            collection: incidents
            auth: {type: hmac, header: X-Signature}
            mapping:
              to_external: {status: state}
        """,
    )
    (warning,) = config_warnings(load_all(root)["preview"])
    assert (warning.line, warning.column) == (15, 21)  # the 'status' key
    assert "moves the payload's 'state' to 'status'" in warning.message


@pytest.mark.parametrize(
    "hooks",
    [
        # keep (the default): title and state come through from the payload
        "inbound_webhooks:\n  a:\n    collection: incidents\n    auth: {type: hmac}\n"
        "    mapping: {to_external: {status: st}}\n",
        # drop, but every required field is named
        "inbound_webhooks:\n  a:\n    collection: incidents\n    auth: {type: hmac}\n"
        "    mapping: {to_native: {title: t, state: s.v}, unmapped: drop}\n",
        # a write-only source maps outbound only
        "sources:\n  s:\n    collection: incidents\n    base_url: https://x.example.com\n"
        "    write: {path: '/i/{id}'}\n    mapping: {to_external: {title: t}, unmapped: drop}\n",
    ],
)
def test_mappings_that_can_produce_every_required_field_are_quiet(
    tmp_path: Path, hooks: str
) -> None:
    assert config_warnings(load_all(_project(tmp_path, hooks))["preview"]) == []


def test_a_bound_source_mapping_is_checked(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        """\
        sources:
          s:
            collection: incidents
            base_url: https://x.example.com
            write: {path: "/i/{id}"}
            mapping: {to_external: {title: t}, unmapped: drop}
        inbound_webhooks:
          a:
            collection: incidents
            auth: {type: hmac}
            source_binding: {collection: incidents, source: s}
        """,
    )
    (warning,) = config_warnings(load_all(root)["preview"])
    assert warning.message.startswith("sources.s: required field 'state' of the collection")
