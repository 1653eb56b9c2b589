"""promote FROM TO: round-trip edits of TO's YAML, validation against TO, refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hookplane.config import load_environment
from hookplane.errors import PromotionError
from hookplane.promote import plan_promotion, write_promotion

GOLDEN = Path(__file__).parent / "golden"

PREVIEW = """\
# preview: where we try things
collections:
  incidents:
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}
        severity: {type: string, enum: [p1, p2]}
triggers:
  notify:            # pages the channel
    collection: incidents
    events: [create, update]
    url: "${env:SLACK_URL}"
    filter: {severity: p1}
  audit:
    collection: incidents
    events: [delete]
    url: https://audit.example.com/hook
"""

PRODUCTION = """\
# Production incidents. Owned by SRE; changed only by promotion.
collections:
  incidents:   # the main collection
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}     # keep titles short
        severity: {type: string, enum: [p1, p2, p3]}
triggers:
  notify:
    collection: incidents
    events: [create]          # production pages on create only... until promoted
    url: "${env:SLACK_URL}"
    timeout: 5                # production receivers are slow
  legacy:
    collection: incidents
    events: [create]
    url: https://legacy.example.com/hook
"""


def _project(root: Path) -> Path:
    preview = root / "environments" / "preview"
    production = root / "environments" / "production"
    preview.mkdir(parents=True)
    production.mkdir(parents=True)
    (preview / "environment.yaml").write_text(
        "name: preview\nkind: preview\npromotes_to: production\n")
    (production / "environment.yaml").write_text(
        "# production: do not touch\nname: production\nkind: production\n")
    (preview / "main.yaml").write_text(PREVIEW)
    (production / "main.yaml").write_text(PRODUCTION)
    return root


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HOOKPLANE_UPDATE_GOLDEN"):
        path.write_text(text)
    if not path.exists():
        pytest.fail(f"golden file {path} is missing (HOOKPLANE_UPDATE_GOLDEN=1 writes it)")
    assert text == path.read_text()


def test_promotion_keeps_target_comments_and_formatting(tmp_path: Path) -> None:
    root = _project(tmp_path)
    environment_before = (root / "environments/production/environment.yaml").read_text()
    promotion = plan_promotion(root, "preview", "production")
    assert [c.path for c in promotion.changes] == ["environments/production/main.yaml",
                                                   "environments/production/.promoted.json"]
    write_promotion(root, promotion)
    written = (root / "environments/production/main.yaml").read_text()
    _golden("production-main.yaml", written)
    # comments of the target survive, the removed resource is gone, new ones arrive
    assert "# Production incidents. Owned by SRE; changed only by promotion." in written
    assert "incidents:   # the main collection" in written
    assert "title: {type: string}     # keep titles short" in written
    assert "legacy" not in written
    assert "audit:" in written
    # TO's timeout (not in preview) is removed: production mirrors preview's triggers
    assert "timeout: 5" not in written
    # TO's own collection (it allows p3) is kept and reported
    assert "severity: {type: string, enum: [p1, p2, p3]}" in written
    assert promotion.kept == ("collections.incidents",)
    # environment.yaml is never touched
    assert (root / "environments/production/environment.yaml").read_text() == environment_before
    config = load_environment(root, "production")
    assert sorted(r.address for r in config.all_resources()) == [
        "collections.incidents", "triggers.audit", "triggers.notify"]


def test_second_promotion_changes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    write_promotion(root, plan_promotion(root, "preview", "production"))
    assert plan_promotion(root, "preview", "production").changes == ()


def test_new_files_follow_the_source_layout(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "environments/preview/keys.yaml").write_text(
        "api_keys:\n  ci: {scopes: [write]}  # for CI\n")
    promotion = plan_promotion(root, "preview", "production")
    paths = [c.path for c in promotion.changes]
    assert "environments/production/keys.yaml" in paths
    write_promotion(root, promotion)
    text = (root / "environments/production/keys.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert "ci: {scopes: [write]}  # for CI" in text


def test_env_references_are_copied_as_references(tmp_path: Path) -> None:
    root = _project(tmp_path)
    os.environ.pop("SLACK_URL", None)
    write_promotion(root, plan_promotion(root, "preview", "production"))
    assert 'url: "${env:SLACK_URL}"' in (root / "environments/production/main.yaml").read_text()


def test_mapping_invalid_against_target_writes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    # production's own collection has no 'severity', which preview's trigger filters on
    production = root / "environments/production/main.yaml"
    production.write_text(PRODUCTION.replace(
        "        severity: {type: string, enum: [p1, p2, p3]}\n", ""))
    before = production.read_text()
    with pytest.raises(PromotionError) as info:
        plan_promotion(root, "preview", "production")
    message = str(info.value)
    assert "nothing was written" in message
    assert ("environments/production/main.yaml:14:14: triggers.notify: filter field "
            "'severity' is not in collection 'incidents'") in message
    assert production.read_text() == before


def test_collections_and_sources_are_added_when_missing_never_removed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "environments/production/own.yaml").write_text(
        "api_keys:\n  prod-only: {scopes: [read]}\n")
    write_promotion(root, plan_promotion(root, "preview", "production"))
    config = load_environment(root, "production")
    assert config.get("api_keys", "prod-only") is not None


def test_refuses_a_target_the_source_does_not_promote_to(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "environments/staging").mkdir()
    (root / "environments/staging/environment.yaml").write_text(
        "name: staging\nkind: production\n")
    with pytest.raises(PromotionError, match="promotes to 'production', not 'staging'"):
        plan_promotion(root, "preview", "staging")


def test_refuses_missing_target(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "environments/preview/environment.yaml").write_text(
        "name: preview\nkind: preview\npromotes_to: prod\n")
    with pytest.raises(PromotionError, match=r"environments/prod/environment.yaml does not exist"):
        plan_promotion(root, "preview", "prod")
