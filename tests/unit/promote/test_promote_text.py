"""promote edits TO's text: what it does not change stays byte for byte.

The promotion used to re-serialise every file it touched through ruamel.yaml: a flow mapping
written over several lines became one line, a shared ``x-`` anchor block was dropped and its
anchor inlined into the first resource that used it (``<<: &id001 …``). Now a new file is
FROM's file as written, a removed resource's lines are cut out, an added one's lines are
inserted (with the ``x-`` block its aliases need), and an updated one is rewritten on its own.
"""

from __future__ import annotations

import difflib
import json
import textwrap
from pathlib import Path

import pytest

from hookplane.config import load_environment
from hookplane.errors import PromotionError
from hookplane.promote import plan_promotion, write_promotion

SHARED = """\
# yaml-language-server: $schema=../../schema/hookplane.schema.json
# Delivery defaults every trigger of this file shares.
x-delivery: &delivery
  collection: tickets
  retry: {attempts: 5, backoff: exponential, max_seconds: 60}
  timeout: 5

collections:
  tickets:
    schema: {type: object, properties: {title: {type: string},
                                        team: {type: string}}}

triggers:
  page:
    <<: *delivery
    url: https://hooks.example.com/page
    events: [create]
  audit:
    <<: *delivery
    url: 'https://hooks.example.com/audit'
    events: [create, update, delete]
"""


def _project(root: Path, preview: dict[str, str], production: dict[str, str]) -> Path:
    for name, files, extra in (("preview", preview, "promotes_to: production\n"),
                               ("production", production, "")):
        directory = root / "environments" / name
        directory.mkdir(parents=True)
        kind = "preview" if name == "preview" else "production"
        (directory / "environment.yaml").write_text(f"name: {name}\nkind: {kind}\n{extra}")
        for file, text in files.items():
            (directory / file).write_text(textwrap.dedent(text))
    return root


def _promote(root: Path) -> dict[str, tuple[str | None, str | None]]:
    promotion = plan_promotion(root, "preview", "production")
    write_promotion(root, promotion)
    return {c.path: (c.before, c.after) for c in promotion.changes}


def _only(tags: set[str], before: str, after: str) -> None:
    matcher = difflib.SequenceMatcher(a=before.splitlines(True), b=after.splitlines(True),
                                      autojunk=False)
    found = {tag for tag, *_ in matcher.get_opcodes() if tag != "equal"}
    assert found <= tags, "".join(difflib.unified_diff(before.splitlines(True),
                                                       after.splitlines(True)))


def test_a_new_file_is_the_source_file_as_written(tmp_path: Path) -> None:
    root = _project(tmp_path, {"shared.yaml": SHARED}, {})
    _promote(root)
    assert (root / "environments/production/shared.yaml").read_text() == SHARED
    production = load_environment(root, "production")
    assert production.get("triggers", "audit").raw["retry"]["attempts"] == 5
    assert _promote(root) == {}  # promote again, no preview change: nothing to write


def test_an_added_resource_brings_the_anchor_block_it_needs(tmp_path: Path) -> None:
    production = """\
        # Production: owned by SRE.
        collections:
          tickets:
            schema: {type: object, properties: {title: {type: string},
                                                team: {type: string}}}
        """
    root = _project(tmp_path, {"shared.yaml": SHARED}, {"shared.yaml": production})
    _promote(root)
    after = (root / "environments/production/shared.yaml").read_text()
    _only({"insert"}, textwrap.dedent(production), after)
    assert after.startswith("# Production: owned by SRE.\nx-delivery: &delivery\n")
    assert "  page:\n    <<: *delivery\n" in after and "&id" not in after
    assert _promote(root) == {}


def test_removal_and_update_leave_every_other_line(tmp_path: Path) -> None:
    root = _project(tmp_path, {"shared.yaml": SHARED}, {})
    _promote(root)
    path = root / "environments/production/shared.yaml"
    # production's own edits elsewhere in the file stay as they are
    path.write_text(path.read_text().replace("triggers:\n", "triggers:   # promoted only\n"))
    before = path.read_text()
    preview = root / "environments/preview/shared.yaml"
    preview.write_text(SHARED.replace("https://hooks.example.com/page",
                                      "https://hooks.example.com/page-v2")
                       .replace("  audit:\n    <<: *delivery\n    url: 'https://hooks.example"
                                ".com/audit'\n    events: [create, update, delete]\n", ""))
    changes = _promote(root)
    assert list(changes) == ["environments/production/shared.yaml",
                             "environments/production/.promoted.json"]
    after = path.read_text()
    assert after == before.replace("page\n", "page-v2\n").replace(
        "  audit:\n    <<: *delivery\n    url: 'https://hooks.example.com/audit'\n"
        "    events: [create, update, delete]\n", "")
    assert _promote(root) == {}


def test_a_flow_mapping_over_lines_elsewhere_stays_over_lines(tmp_path: Path) -> None:
    production = """\
        collections:
          tickets:
            schema: {type: object, properties: {title: {type: string},
                                                team: {type: string}}}
        triggers:
          page:
            collection: tickets
            url: https://hooks.example.com/page
            events: [create]
        """
    preview = textwrap.dedent(production) + (
        "  notify:\n"
        "    collection: tickets\n"
        "    url: https://hooks.example.com/notify\n"
        "    events: [update]\n"
        "    filter: {team: payments}\n")
    root = _project(tmp_path, {"main.yaml": preview}, {"main.yaml": production})
    _promote(root)
    after = (root / "environments/production/main.yaml").read_text()
    assert after == preview


def test_a_shape_the_splices_do_not_handle_is_still_promoted(tmp_path: Path) -> None:
    """A flow-style section in production is re-serialised (as before), not refused."""
    production = """\
        collections:
          tickets: {schema: {type: object, properties: {title: {type: string}}}}
        triggers: {page: {collection: tickets, url: "https://hooks.example.com/p", events: [create]}}
        """  # noqa: E501
    preview = """\
        collections:
          tickets: {schema: {type: object, properties: {title: {type: string}}}}
        triggers:
          page: {collection: tickets, url: "https://hooks.example.com/p2", events: [create]}
        """
    root = _project(tmp_path, {"main.yaml": preview}, {"main.yaml": production})
    _promote(root)
    production_config = load_environment(root, "production")
    assert production_config.get("triggers", "page").raw["url"] == "https://hooks.example.com/p2"
    assert _promote(root) == {}


def test_an_edit_made_in_production_is_a_conflict_not_silently_reverted(tmp_path: Path) -> None:
    """A production edit to a promoted resource used to be reverted by the next promotion
    without a word; now the promotion stops and names it, unless --overwrite."""
    root = _project(tmp_path, {"shared.yaml": SHARED}, {})
    _promote(root)
    record = json.loads((root / "environments/production/.promoted.json").read_text())
    assert sorted(record["resources"]) == ["triggers.audit", "triggers.page"]
    path = root / "environments/production/shared.yaml"
    path.write_text(path.read_text().replace("events: [create]\n", "events: [create, update]\n"))
    # promoting again would put preview's events back: that is the conflict
    with pytest.raises(PromotionError, match=r"triggers\.page was changed in"):
        plan_promotion(root, "preview", "production")
    preview = root / "environments/preview/shared.yaml"
    preview.write_text(SHARED.replace("https://hooks.example.com/page",
                                      "https://hooks.example.com/page-v2"))
    with pytest.raises(PromotionError) as refused:
        plan_promotion(root, "preview", "production")
    message = str(refused.value)
    assert "environments/production/shared.yaml:14:3: triggers.page was changed in " \
           "environments/production since it was last promoted" in message
    assert "--overwrite" in message
    assert "events: [create, update]" in path.read_text()  # nothing was written
    promotion = plan_promotion(root, "preview", "production", overwrite=True)
    assert [c.split(": ")[1] for c in promotion.overwritten] == ["triggers.page was changed in "
                                                                 "environments/production since "
                                                                 "it was last promoted"]
    write_promotion(root, promotion)
    assert "events: [create]\n" in path.read_text() and "page-v2" in path.read_text()
    assert _promote(root) == {}
