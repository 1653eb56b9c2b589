"""``promote FROM TO``: copy FROM's declarations into TO's YAML, keeping TO's formatting.

What moves:

- triggers and inbound webhooks (the kinds production may create or destroy only by
  promotion) are mirrored: created, updated in place, and removed when FROM no longer has them;
- collections, sources and API keys that TO lacks are added; those TO already declares are
  TO's own (a production source points at the production API) and are left as they are. The
  promoted mappings, filters and templates are then validated against *TO's* collections and
  sources, which is where a promotion that would break production is caught.

Only YAML is read and written: no state of FROM is opened, so no secret of FROM can be read,
copied or printed. TO's files are edited with ruamel.yaml round-trip: comments, key order and
quoting survive; a resource already in TO is updated in place in the file that holds it; a new
one goes to the file with the same name as in FROM. The result is loaded and validated before
anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from hookplane.config import Config, load_environment
from hookplane.config.loader import ENVIRONMENT_FILE, environment_files, environments_root
from hookplane.config.models import SECTIONS
from hookplane.errors import ConfigError, PromotionError
from hookplane.plan.rules import PROMOTED_ONLY
from hookplane.yamledit import (
    SCHEMA_COMMENT,
    FileChange,
    dump,
    round_trip_yaml,
    validate_environment,
    write_changes,
)

__all__ = ["FileChange", "Promotion", "plan_promotion", "write_promotion"]


@dataclass(frozen=True)
class Promotion:
    source: Config
    target_name: str
    changes: tuple[FileChange, ...]
    source_digest: str
    kept: tuple[str, ...] = ()
    """Addresses TO declares itself that differ from FROM (left as TO has them)."""


def _load_rt(yaml: YAML, text: str, where: str) -> Any:
    try:
        return yaml.load(text)
    except Exception as exc:  # ruamel raises many types; the loader already vetted the file
        raise PromotionError(f"{where}: cannot be read for a round-trip edit: {exc}") from exc


def _merge(target: CommentedMap, source: Mapping[str, Any]) -> None:
    """Make ``target`` equal ``source`` while keeping target's comments and key order."""
    for key in [k for k in target if k not in source]:
        del target[key]
    for key, value in source.items():
        current = target.get(key) if key in target else None
        if key in target and isinstance(current, CommentedMap) and isinstance(value, Mapping):
            _merge(current, value)
        elif key in target and current == value and type(current) is type(value):
            continue
        else:
            target[key] = value


def plan_promotion(root: Path, source_name: str, target_name: str) -> Promotion:
    """Work out TO's new YAML (validated) without writing anything."""
    source = load_environment(root, source_name)
    target_dir = environments_root(root) / target_name
    if not (target_dir / ENVIRONMENT_FILE).is_file():
        raise PromotionError(
            f"environments/{target_name}/{ENVIRONMENT_FILE} does not exist; create the target "
            "environment first (hookplane init scaffolds one)"
        )
    if source.environment.promotes_to != target_name:
        declared = source.environment.promotes_to
        raise PromotionError(
            f"environment '{source_name}' promotes to "
            + (f"'{declared}'" if declared else "nothing")
            + f", not '{target_name}'; set promotes_to: {target_name} in "
            f"{source.environment_file} to allow it"
        )
    if source.environment.kind != "preview":
        raise PromotionError(f"only a preview environment can be promoted; '{source_name}' is "
                             f"{source.environment.kind}")

    yaml = round_trip_yaml()
    # where each resource lives in TO, as round-trip documents
    target_docs: dict[Path, Any] = {}
    target_text: dict[Path, str] = {}
    located: dict[tuple[str, str], Path] = {}
    for path in environment_files(target_dir):
        if path.name == ENVIRONMENT_FILE and path.parent == target_dir:
            continue
        text = path.read_text(encoding="utf-8")
        doc = _load_rt(yaml, text, str(path.relative_to(root)))
        target_text[path] = text
        target_docs[path] = doc
        if isinstance(doc, CommentedMap):
            for section in SECTIONS:
                body = doc.get(section)
                if isinstance(body, CommentedMap):
                    for name in body:
                        located[(section, str(name))] = path

    # FROM's resources as round-trip data (so new resources keep their comments)
    wanted: dict[tuple[str, str], tuple[Any, str]] = {}
    for path in environment_files(source.directory):
        if path.name == ENVIRONMENT_FILE and path.parent == source.directory:
            continue
        doc = _load_rt(yaml, path.read_text(encoding="utf-8"), str(path))
        relative = path.relative_to(source.directory).as_posix()
        if isinstance(doc, CommentedMap):
            for section in SECTIONS:
                body = doc.get(section)
                if isinstance(body, CommentedMap):
                    for name, spec in body.items():
                        wanted[(section, str(name))] = (spec, relative)

    kept: list[str] = []
    for (section, name), path in located.items():
        if (section, name) not in wanted and section in PROMOTED_ONLY:
            body = target_docs[path][section]
            del body[name]
            if not body:
                del target_docs[path][section]
    for (section, name), (spec, relative) in wanted.items():
        existing = located.get((section, name))
        if existing is not None and section not in PROMOTED_ONLY:
            if target_docs[existing][section][name] != spec:
                kept.append(f"{section}.{name}")
            continue
        if existing is not None:
            body = target_docs[existing][section]
            if isinstance(body[name], CommentedMap) and isinstance(spec, Mapping):
                _merge(body[name], spec)
            else:
                body[name] = spec
            continue
        path = target_dir / relative
        doc = target_docs.get(path)
        if doc is None:
            doc = CommentedMap()
            target_docs[path] = doc
        if not isinstance(doc.get(section), CommentedMap):
            doc[section] = CommentedMap()
        doc[section][name] = spec

    changes: list[FileChange] = []
    new_files: dict[Path, str | None] = {}
    for path, doc in sorted(target_docs.items()):
        before = target_text.get(path)
        if isinstance(doc, CommentedMap) and not doc:
            after: str | None = None
        else:
            after = dump(yaml, doc)
            if before is None:
                after = SCHEMA_COMMENT + after
        if after != before:
            new_files[path] = after
            changes.append(FileChange(path.relative_to(root).as_posix(), before, after))

    _validate_result(root, target_dir, target_text, new_files)
    return Promotion(source=source, target_name=target_name, changes=tuple(changes),
                     source_digest=source.digest(), kept=tuple(sorted(kept)))


def _validate_result(root: Path, target_dir: Path, current: dict[Path, str],
                     new_files: dict[Path, str | None]) -> None:
    """Load TO as it would be after promotion; refuse with TO's positions on any error."""
    try:
        validate_environment(root, target_dir, {**current, **new_files})
    except ConfigError as exc:
        lines = [d.format() for d in exc.diagnostics]
        raise PromotionError(
            "the promoted configuration is not valid in the target environment; nothing "
            "was written:\n" + "\n".join(f"  {line}" for line in lines)
        ) from exc


def write_promotion(root: Path, promotion: Promotion) -> None:
    """Write the files of a planned promotion (each file replaced atomically)."""
    write_changes(root, promotion.changes)
