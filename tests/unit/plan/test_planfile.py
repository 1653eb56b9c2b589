"""Saved plan files: the MAC over the plan's content, and the record of its YAML files."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest

from hookplane.config.applied import Snapshot
from hookplane.errors import PlanError
from hookplane.plan import Plan, config_file_changes, diff, dump_plan_file, load_plan_file
from tests.unit.plan.conftest import BASE, ENV, Project, fingerprint, make_plan

KEY = b"k" * 32
FILES = {"environments/preview/environment.yaml": "a" * 64,
         "environments/preview/main.yaml": "b" * 64}


def _plan(project: Project) -> Plan:
    project.write("preview", BASE)
    config = project.load()
    return diff(config, Snapshot(config.name, "", 0), environ=ENV, fingerprint=fingerprint,
                config_files=dict(reversed(FILES.items())))


def _load(text: str, key: bytes = KEY) -> Plan:
    return load_plan_file(text, key=key, source="p.plan", environment="preview")


def test_round_trip_keeps_the_plan_and_its_file_record(project: Project) -> None:
    plan = _plan(project)
    assert list(plan.config_files) == sorted(FILES)  # recorded in path order
    text = dump_plan_file(plan, key=KEY)
    document = json.loads(text)
    assert set(document) == {"hookplane_plan", "mac"}
    content = json.dumps(document["hookplane_plan"], sort_keys=True, separators=(",", ":"))
    assert document["mac"] == "hmac-sha256:" + hmac.new(KEY, content.encode(),
                                                        hashlib.sha256).hexdigest()
    assert _load(text) == plan


def test_a_plan_made_without_a_file_record_records_none(project: Project) -> None:
    project.write("preview", BASE)
    assert make_plan(project.load()).config_files == {}


def _set_url(content: dict[str, Any]) -> None:
    content["changes"][0]["after"]["url"] = "https://attacker.example/"


def _set_action(content: dict[str, Any]) -> None:
    content["changes"][0]["action"] = "no-op"


def _set_serial(content: dict[str, Any]) -> None:
    content["serial"] = 7


def _set_file_digest(content: dict[str, Any]) -> None:
    content["config_files"]["environments/preview/main.yaml"] = "c" * 64


def _add_field(content: dict[str, Any]) -> None:
    content["changes"][0]["after"]["extra"] = True


def _drop_change(content: dict[str, Any]) -> None:
    del content["changes"][0]


@pytest.mark.parametrize("edit", [_set_url, _set_action, _set_serial, _set_file_digest,
                                  _add_field, _drop_change])
def test_any_edit_of_the_content_is_refused(project: Project,
                                            edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(dump_plan_file(_plan(project), key=KEY))
    edited = copy.deepcopy(document)
    edit(edited["hookplane_plan"])
    assert edited != document
    with pytest.raises(PlanError, match=r"^p\.plan failed its integrity check: it was changed "
                                        r"after 'hookplane plan' saved it"):
        _load(json.dumps(edited))


def test_another_key_does_not_verify(project: Project) -> None:
    text = dump_plan_file(_plan(project), key=KEY)
    with pytest.raises(PlanError, match="made against another state"):
        _load(text, key=b"j" * 32)


def test_layout_does_not_matter(project: Project) -> None:
    plan = _plan(project)
    document = json.loads(dump_plan_file(plan, key=KEY))
    assert _load(json.dumps(document, separators=(",", ":"))) == plan
    assert _load(json.dumps(document, indent=7, sort_keys=False)) == plan


@pytest.mark.parametrize("mac", [None, "", "absent"])
def test_no_mac_asks_for_a_new_plan(project: Project, mac: str | None) -> None:
    document = json.loads(dump_plan_file(_plan(project), key=KEY))
    if mac == "absent":
        del document["mac"]
    else:
        document["mac"] = mac
    with pytest.raises(PlanError) as raised:
        _load(json.dumps(document))
    assert str(raised.value) == (
        "p.plan has no integrity check (MAC): it was saved by an older Hookplane or the MAC "
        "was removed. Nothing was applied.\n"
        "Make the plan again: hookplane plan preview --out FILE")


@pytest.mark.parametrize("mac", ["hmac-sha1:{hex}", "{hex}", "hmac-sha256:{hex}0",
                                 "hmac-sha256:é"])
def test_a_mac_in_another_form_is_refused(project: Project, mac: str) -> None:
    document = json.loads(dump_plan_file(_plan(project), key=KEY))
    hex_part = document["mac"].partition(":")[2]
    document["mac"] = mac.format(hex=hex_part)
    with pytest.raises(PlanError, match="failed its integrity check"):
        _load(json.dumps(document))


@pytest.mark.parametrize(("text", "message"), [
    ("not json", r"^p\.plan is not a Hookplane plan file \(not JSON: "),
    ("[]", r"^p\.plan is not a Hookplane plan file \(no 'hookplane_plan' object\)$"),
    ('{"hookplane_plan": 1, "mac": "x"}', r"no 'hookplane_plan' object"),
])
def test_not_a_plan_file(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        _load(text)


def test_the_mac_is_checked_before_the_content_is_read() -> None:
    """A wrong format version in a file without a valid MAC is an integrity failure."""
    text = json.dumps({"hookplane_plan": {"format_version": "9"}, "mac": "hmac-sha256:00"})
    with pytest.raises(PlanError, match="failed its integrity check"):
        _load(text)


@pytest.mark.parametrize(("current", "expected"), [
    (FILES, []),
    ({**FILES, "environments/preview/main.yaml": "d" * 64},
     ["changed: environments/preview/main.yaml"]),
    ({**FILES, "environments/preview/a/x.yml": "e" * 64},
     ["added: environments/preview/a/x.yml"]),
    ({"environments/preview/environment.yaml": "a" * 64},
     ["removed: environments/preview/main.yaml"]),
    ({}, ["removed: environments/preview/environment.yaml",
          "removed: environments/preview/main.yaml"]),
    ({"environments/preview/b.yaml": "f" * 64, "environments/preview/environment.yaml": "0"},
     ["added: environments/preview/b.yaml", "changed: environments/preview/environment.yaml",
      "removed: environments/preview/main.yaml"]),
])
def test_config_file_changes(current: dict[str, str], expected: list[str]) -> None:
    assert config_file_changes(FILES, current) == expected
