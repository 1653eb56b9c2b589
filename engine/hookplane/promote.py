"""``promote FROM TO``: copy FROM's declarations into TO's YAML, keeping TO's formatting.

What moves:

- triggers and inbound webhooks (the kinds production may create or destroy only by
  promotion) are mirrored: created, updated in place, and removed when FROM no longer has them;
- collections, sources and API keys that TO lacks are added; those TO already declares are
  TO's own (a production source points at the production API) and are left as they are. The
  promoted mappings, filters and templates are then validated against *TO's* collections and
  sources, which is where a promotion that would break production is caught.

Only YAML is read and written: no state of FROM is opened, so no secret of FROM can be read,
copied or printed. TO's files are edited as text: a new file is FROM's file of the same name
as written (less what TO declares elsewhere), a removed resource's lines are cut out, an added
one's lines are inserted (with the ``x-`` anchor block its aliases need), and an updated one is
rewritten on its own with TO's comments kept; every other byte stays. A file whose shape the
text edits do not handle (a flow-style section, document markers) is re-serialised with
ruamel.yaml round-trip instead. The result is loaded and validated before anything is written.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from hookplane.config import Config, load_environment
from hookplane.config.applied import canonical_hash
from hookplane.config.loader import ENVIRONMENT_FILE, environment_files, environments_root
from hookplane.config.models import SECTIONS
from hookplane.config.yamlio import parse
from hookplane.errors import ConfigError, PromotionError
from hookplane.plan.rules import PROMOTED_ONLY
from hookplane.yamledit import (
    SCHEMA_COMMENT,
    FileChange,
    anchors_defined,
    append_lines,
    dump,
    entry_text,
    extension_blocks,
    insert_block,
    remove_text,
    replace_lines,
    round_trip_yaml,
    update_entry,
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
    overwritten: tuple[str, ...] = ()
    """TO's edits since the last promotion that this one replaces (``overwrite``)."""


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


PROMOTED_FILE = ".promoted.json"
"""In TO's directory: the hash of every resource as the last promotion wrote it (committed
with the YAML), so that the next promotion can tell an edit made in TO since from a change
coming from FROM."""


def _promoted_hashes(target_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((target_dir / PROMOTED_FILE).read_text(encoding="utf-8"))
        resources = data["resources"]
        return {str(k): str(v) for k, v in resources.items()} if isinstance(
            resources, dict) else {}
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or not ours: no base
        return {}


def _conflicts(root: Path, target_name: str, target_dir: Path,
               changing: list[tuple[str, str]]) -> list[str]:
    """Resources of TO that the promotion would change or remove although TO's own YAML
    changed them since the last promotion (edited in TO, not in FROM)."""
    base = _promoted_hashes(target_dir)
    if not base or not changing:
        return []
    try:
        target = load_environment(root, target_name)
    except ConfigError:  # TO does not load as it is: the promotion's result is checked anyway
        return []
    found = []
    for section, name in changing:
        resource = target.get(section, name)
        recorded = base.get(f"{section}.{name}")
        if resource is None or recorded is None:
            continue
        if canonical_hash(resource.canonical()) != recorded:
            line, column = target.position(resource.file, (section, name), key=True)
            found.append(f"{resource.file}:{line}:{column}: {section}.{name} was changed in "
                         f"environments/{target_name} since it was last promoted")
    return found


def plan_promotion(root: Path, source_name: str, target_name: str, *,
                   overwrite: bool = False) -> Promotion:
    """Work out TO's new YAML (validated) without writing anything.

    A promoted resource that TO's YAML changed since the last promotion is a conflict: the
    promotion is refused, naming each, unless ``overwrite`` (TO's edit is then replaced)."""
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

    source_text = {path.relative_to(source.directory).as_posix(): path.read_text(
        encoding="utf-8") for path in environment_files(source.directory)
        if not (path.name == ENVIRONMENT_FILE and path.parent == source.directory)}
    removals: list[tuple[str, str, Path]] = []
    updates: list[tuple[str, str, Path, str]] = []
    additions: list[tuple[str, str, Path, str]] = []
    kept: list[str] = []
    for (section, name), path in located.items():
        if (section, name) not in wanted and section in PROMOTED_ONLY:
            removals.append((section, name, path))
    for (section, name), (spec, relative) in wanted.items():
        existing = located.get((section, name))
        if existing is not None and section not in PROMOTED_ONLY:
            if target_docs[existing][section][name] != spec:
                kept.append(f"{section}.{name}")
            continue
        if existing is not None:
            if _plain(target_docs[existing][section][name]) != _plain(spec):
                updates.append((section, name, existing, relative))
            continue
        additions.append((section, name, target_dir / relative, relative))

    touched = sorted({p for *_, p in removals} | {p for _s, _n, p, _r in updates}
                     | {p for _s, _n, p, _r in additions})
    new_files: dict[Path, str | None] = {}
    for path in touched:
        edits = _Edits([(s_, n) for s_, n, p in removals if p == path],
                       [(s_, n, r) for s_, n, p, r in updates if p == path],
                       [(s_, n, r) for s_, n, p, r in additions if p == path])
        try:
            spliced = _splice(target_text.get(path), source_text, edits, wanted=wanted,
                              new_file=path.relative_to(target_dir).as_posix())
        except _Unhandled:  # re-serialise this file
            spliced = _reserialised(yaml, target_docs.get(path), target_text.get(path), edits,
                                    wanted=wanted)
        if spliced != target_text.get(path):
            new_files[path] = spliced
    conflicts = _conflicts(root, target_name, target_dir,
                           [(s_, n) for s_, n, _p in removals]
                           + [(s_, n) for s_, n, _p, _r in updates])
    if conflicts and not overwrite:
        raise PromotionError(
            f"{len(conflicts)} resource(s) of environments/{target_name} were edited there "
            "since the last promotion, and promoting would replace those edits:\n"
            + "\n".join(f"  {c}" for c in conflicts)
            + f"\nMake the change in environments/{source_name} instead (then promote), or "
            "run promote again with --overwrite to drop the edits. Nothing was written.")
    _validate_result(root, target_dir, target_text, new_files)
    record = target_dir / PROMOTED_FILE
    before_record = record.read_text(encoding="utf-8") if record.is_file() else None
    after_record = json.dumps({
        "comment": "written by 'hookplane promote': the resources as last promoted from "
                   f"{source_name} (sha256 of each canonical spec); commit it with the YAML",
        "from": source_name,
        "resources": {r.address: canonical_hash(r.canonical())
                      for r in source.all_resources() if r.kind in PROMOTED_ONLY},
    }, indent=2, sort_keys=True) + "\n"
    changes = [FileChange(path.relative_to(root).as_posix(), target_text.get(path), after)
               for path, after in sorted(new_files.items())]
    if after_record != before_record:
        changes.append(FileChange(record.relative_to(root).as_posix(), before_record,
                                  after_record))

    return Promotion(source=source, target_name=target_name, changes=tuple(changes),
                     source_digest=source.digest(), kept=tuple(sorted(kept)),
                     overwritten=tuple(conflicts))


def _plain(value: Any) -> Any:
    """Round-trip data as plain JSON-like data (merge keys resolved, comments gone)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


Removal = tuple[str, str]
Copy = tuple[str, str, str]
"""(section, name, the FROM file it is declared in)."""


class _Unhandled(Exception):
    """A shape the text splices do not handle: the file is re-serialised instead."""


@dataclass(frozen=True)
class _Edits:
    """What a promotion changes in one file of TO."""

    removals: list[Removal]
    updates: list[Copy]
    additions: list[Copy]


def _uncommented(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.lstrip().startswith("#")]


def _merged(current: Any, *, spec: Any) -> Any:
    if isinstance(current, CommentedMap) and isinstance(spec, Mapping):
        _merge(current, spec)
        return current
    return spec


def _splice(before: str | None, source_text: Mapping[str, str], edits: _Edits, *,
            new_file: str, wanted: Mapping[tuple[str, str], tuple[Any, str]]) -> str | None:
    """TO's file with the promotion's edits made on its text, every other byte as it was
    (None: the file goes). A new file starts as FROM's file of the same name (its comments,
    anchors and layout), less what TO already declares elsewhere. Raises :class:`_Unhandled`
    for shapes the splices do not handle."""
    removals, updates, additions = edits.removals, edits.updates, edits.additions
    if before is None:
        text: str | None = source_text.get(new_file)
        if text is None:
            raise _Unhandled
        adding = {(section, name) for section, name, _r in additions}
        data = parse(text) or {}
        for section in [k for k in data if k in SECTIONS]:
            for name in list(data[section] or {}):
                if (section, name) not in adding:
                    text = remove_text(text, section, name) if text else text
                    if text is None:
                        raise _Unhandled
        if text and not text.startswith(SCHEMA_COMMENT.split("$")[0]):
            text = SCHEMA_COMMENT + text
        return text or None
    text = before
    for section, name in removals:
        text = remove_text(text, section, name) if text else text
        if text is None:
            raise _Unhandled
    if not text:  # nothing left: a file of comments only is removed like an empty one
        if updates or additions:
            raise _Unhandled
        return None
    for section, name, relative in [*updates, *additions]:
        origin = source_text[relative]
        entry = entry_text(origin, section, name)
        if entry is None:
            raise _Unhandled
        plain = (parse(origin) or {})[section][name]
        blocks = extension_blocks(origin)
        present = extension_blocks(text)
        for alias in sorted(entry.aliases):
            holder = next((key for key, lines in blocks.items()
                           if alias in anchors_defined(lines)), None)
            if holder is None:
                raise _Unhandled  # an anchor of another resource: not copied by text
            if holder in present:
                if _uncommented(present[holder]) != _uncommented(blocks[holder]):
                    raise _Unhandled
                continue
            inserted = insert_block(text, holder, blocks[holder], (parse(origin) or {})[holder])
            if inserted is None:
                raise _Unhandled
            text = inserted
            present = extension_blocks(text)
        if (section, name, relative) in updates:
            result = update_entry(text, section, name,
                                  functools.partial(_merged, spec=wanted[(section, name)][0]),
                                  plain)
            if result is None:  # the entry refers to an anchor: FROM's text replaces it
                result = replace_lines(text, section, name,
                                       entry.render(with_comments=False), plain)
        else:
            result = append_lines(text, section, name, entry.render(), plain)
        if result is None:
            raise _Unhandled
        text = result
    return text


def _reserialised(yaml: YAML, doc: Any, before: str | None, edits: _Edits, *,
                  wanted: Mapping[tuple[str, str], tuple[Any, str]]) -> str | None:
    """The promotion's edits made on the round-trip document (ruamel re-serialises the file:
    comments and key order survive, other formatting may not)."""
    removals, updates, additions = edits.removals, edits.updates, edits.additions
    if doc is None:
        doc = CommentedMap()
    for section, name in removals:
        body = doc[section]
        del body[name]
        if not body:
            del doc[section]
    for section, name, _relative in updates:
        spec = wanted[(section, name)][0]
        body = doc[section]
        if isinstance(body[name], CommentedMap) and isinstance(spec, Mapping):
            _merge(body[name], spec)
        else:
            body[name] = spec
    for section, name, _relative in additions:
        if not isinstance(doc.get(section), CommentedMap):
            doc[section] = CommentedMap()
        doc[section][name] = wanted[(section, name)][0]
    if isinstance(doc, CommentedMap) and not doc:
        return None
    after = dump(yaml, doc)
    return SCHEMA_COMMENT + after if before is None else after


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
