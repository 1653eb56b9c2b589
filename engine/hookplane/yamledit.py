"""Round-trip edits of an environment's YAML files (ruamel.yaml): comments, key order and
quoting survive.

Shared by :mod:`hookplane.promote` (mirror FROM's resources into TO) and
:mod:`hookplane.authoring` (add or remove one resource from the command line):

- the ruamel settings (:func:`round_trip_yaml`), :func:`dump` and :data:`SCHEMA_COMMENT`;
- :func:`append_entry` / :func:`remove_entry`: add or drop one named resource of a section
  and keep every comment where a reader expects it (the comment above a removed resource goes
  with it; a comment that introduces the next section stays in front of that section);
- :func:`append_text` / :func:`remove_text`: the same edits made on the text itself, so that
  every other byte of the file stays (authoring uses them, falling back to the two above for
  shapes they do not handle);
- :func:`round_trip_value`: plain data as ruamel nodes in the house style (short flat lists
  and mappings in flow style, strings quoted whenever Hookplane's loader would read them as
  something other than text);
- :func:`validate_environment`: load an environment as it would be with some files changed,
  in a shadow directory, so nothing is written before the result is known to be valid;
- :class:`FileChange`, :func:`unified_diff` and :func:`write_changes` (atomic replace).
"""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from hookplane.config import Config, load
from hookplane.config.loader import ENVIRONMENT_FILE, environment_files, is_extension
from hookplane.config.yamlio import YamlProblem, parse

SCHEMA_COMMENT = "# yaml-language-server: $schema=../../schema/hookplane.schema.json\n"
"""The first line of every resource file Hookplane creates (editor completion)."""

FLOW_WIDTH = 72
"""A flat list or mapping whose flow form is at most this long is written in flow style."""


def round_trip_yaml() -> YAML:
    """The ruamel settings every edit uses (the indentation of the files Hookplane writes)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def dump(yaml: YAML, data: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class FileChange:
    path: str
    """Relative to the project root."""
    before: str | None
    """None = the file does not exist yet."""
    after: str | None
    """None = the file is removed."""


def unified_diff(change: FileChange) -> list[str]:
    """The change as the lines of a unified diff (no line endings)."""
    before = (change.before or "").splitlines(keepends=True)
    after = (change.after or "").splitlines(keepends=True)
    label_a = change.path if change.before is not None else "/dev/null"
    label_b = change.path if change.after is not None else "/dev/null"
    return [line.rstrip("\n") for line in difflib.unified_diff(before, after, label_a, label_b)]


def write_changes(root: Path, changes: Iterable[FileChange]) -> None:
    """Write each file atomically (a temporary file, then ``os.replace``); remove the
    files whose ``after`` is None."""
    for change in changes:
        path = root / change.path
        if change.after is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(change.after)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def validate_environment(root: Path, directory: Path,
                         changed: Mapping[Path, str | None]) -> Config:
    """Load the environment in ``directory`` as it would be with ``changed`` files written
    (None = removed). The files are laid out in a shadow copy of the project, so diagnostics
    name the real relative paths. Raises :class:`~hookplane.errors.ConfigError`."""
    with tempfile.TemporaryDirectory(prefix="hookplane-edit-") as scratch:
        shadow_root = Path(scratch)
        shadow_dir = shadow_root / directory.relative_to(root)
        shadow_dir.mkdir(parents=True)
        shutil.copy2(directory / ENVIRONMENT_FILE, shadow_dir / ENVIRONMENT_FILE)
        texts: dict[Path, str | None] = {
            path: path.read_text(encoding="utf-8") for path in environment_files(directory)
            if path != directory / ENVIRONMENT_FILE
        }
        texts.update(changed)
        for path, text in texts.items():
            if text is None:
                continue
            destination = shadow_dir / path.relative_to(directory)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
        config = load(shadow_dir, root=shadow_root)
    config.root = root
    config.directory = directory
    return config


# --------------------------------------------------------------------------- new values

def _reads_as_text(value: str) -> bool:
    """Would Hookplane's loader (PyYAML, YAML 1.1) read ``value`` written plain as this
    very text? ``yes``, ``on``, ``0777``, ``12:30`` or ``a # b`` would not."""
    try:
        return bool(parse(value) == value)
    except YamlProblem:
        return False


_QUOTE_WHEN = frozenset("{}[],#&*!|>'\"%@`\\")


def _scalar(value: Any) -> Any:
    """Text that needs quotes gets double quotes (``"${env:URL}"``, ``"{{record.title}}"``),
    as the files people write have them; anything else stays plain."""
    if isinstance(value, str) and (
        not value or value != value.strip() or ": " in value or _QUOTE_WHEN & set(value)
        or not _reads_as_text(value)
    ):
        return DoubleQuotedScalarString(value)
    return value


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flow_length(value: Any) -> int:
    return len(json.dumps(value, separators=(", ", ": "), ensure_ascii=False))


def round_trip_value(value: Any, *, flow: bool = True) -> Any:
    """Plain JSON-like data as ruamel nodes in the house style.

    Short lists of scalars and short mappings of scalars are written in flow style
    (``events: [create, update]``, ``filter: {severity: p1}``); anything nested is block
    style. ``flow=False`` keeps the outer container in block style.
    """
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[_scalar(key)] = round_trip_value(item)
        if flow and value and all(_is_scalar(v) for v in value.values()) and (
            _flow_length(value) <= FLOW_WIDTH
        ):
            node.fa.set_flow_style()
        return node
    if isinstance(value, list | tuple):
        sequence = CommentedSeq([round_trip_value(item) for item in value])
        if flow and all(_is_scalar(v) for v in value) and _flow_length(value) <= FLOW_WIDTH:
            sequence.fa.set_flow_style()
        return sequence
    return _scalar(value)


# --------------------------------------------------------------------------- comments
#
# ruamel attaches the blank lines and comments between two entries to whichever token came
# last: the end-of-line comment of the deepest last value of the entry before, or the
# "before" comment of the next key. Before an edit, a section is normalised so that every gap
# lives in one place -- the "before" comment of the key that follows it (or, after the last
# entry of a section, of the next section, or the end of the document). Appending and removing
# entries then moves whole gaps, and the text around the edit stays where it was.

_BEFORE_KEY = 1  # ca.items[key] of a mapping: [after key, before key, after value, before value]
_AFTER_VALUE = 2
_BEFORE_VALUE = 3


def _tokens(lines: list[str]) -> list[CommentToken] | None:
    """Source lines ('' = blank) as "before" comment tokens."""
    tokens = []
    for line in lines:
        text = line.lstrip(" ")
        if not text:
            tokens.append(CommentToken("\n", CommentMark(0)))
        else:
            tokens.append(CommentToken(text + "\n", CommentMark(len(line) - len(text))))
    return tokens or None


def _lines(tokens: Any) -> list[str]:
    """"Before" comment tokens as source lines ('' = blank)."""
    lines: list[str] = []
    for token in tokens or []:
        if token is None:
            continue
        parts = token.value.split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        for index, part in enumerate(parts):
            if not part.strip():
                lines.append("")
            elif index == 0 and part == part.lstrip(" "):
                lines.append(" " * token.column + part)
            else:
                lines.append(part)
    return lines


def _take_following(token: Any) -> list[str]:
    """Cut the lines after an end-of-line comment token's own line out of it."""
    if token is None:
        return []
    head, newline, rest = token.value.partition("\n")
    if not newline:
        return []
    token.value = head + newline if head.strip() else "\n"
    lines = rest.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line if line.strip() else "" for line in lines]


def _is_block(value: Any) -> bool:
    return isinstance(value, CommentedMap | CommentedSeq) and len(value) > 0 and (
        not value.fa.flow_style())


def _last_key(node: CommentedMap | CommentedSeq) -> Any:
    return list(node.keys())[-1] if isinstance(node, CommentedMap) else len(node) - 1


def _take_trailing(parent: CommentedMap | CommentedSeq, key: Any) -> list[str]:
    """The lines after ``parent[key]`` (an entry and everything nested in it) that ruamel
    attached to its deepest last value, cut out of that token."""
    value = parent[key]
    found: list[str] = []
    if _is_block(value):
        found = _take_trailing(value, _last_key(value))
    slot = parent.ca.items.get(key)
    index = _AFTER_VALUE if isinstance(parent, CommentedMap) else 0
    if slot is not None and len(slot) > index:
        found = _take_following(slot[index]) + found
    if isinstance(value, CommentedMap | CommentedSeq) and value.fa.flow_style() and (
        value.ca.comment
    ):
        found = _take_following(value.ca.comment[0]) + found
    return found


def _before(node: CommentedMap, key: Any) -> list[str]:
    slot = node.ca.items.get(key)
    return _lines(slot[_BEFORE_KEY]) if slot is not None and len(slot) > _BEFORE_KEY else []


def _set_before(node: CommentedMap, key: Any, lines: list[str]) -> None:
    slot = node.ca.items.setdefault(key, [None, None, None, None])
    while len(slot) <= _BEFORE_KEY:
        slot.append(None)
    slot[_BEFORE_KEY] = _tokens(lines)


def _take_head(doc: CommentedMap, section: Any) -> list[str]:
    """The lines between ``section:`` and its first entry, cut out of where ruamel put them
    (the end-of-line comment of ``section:`` or the "before value" comment)."""
    body = doc[section]
    found: list[str] = []
    slot = doc.ca.items.get(section)
    if slot is not None and len(slot) > _AFTER_VALUE:
        found += _take_following(slot[_AFTER_VALUE])
    if body.ca.comment:
        found += _take_following(body.ca.comment[0])
        if len(body.ca.comment) > 1 and body.ca.comment[1]:
            found += _lines(body.ca.comment[1])
            body.ca.comment[1] = None
    if slot is not None and len(slot) > _BEFORE_VALUE and slot[_BEFORE_VALUE]:
        if not found:
            found = _lines(slot[_BEFORE_VALUE])
        slot[_BEFORE_VALUE] = None
    return found


def _after_section(doc: CommentedMap, section: Any) -> tuple[Any, list[str]]:
    """Where the text after ``section`` lives: (next top-level key or None = document end,
    its lines)."""
    keys = list(doc.keys())
    index = keys.index(section)
    if index + 1 < len(keys):
        following = keys[index + 1]
        return following, _before(doc, following)
    return None, _lines(doc.ca.end)


def _set_after_section(doc: CommentedMap, following: Any, lines: list[str]) -> None:
    if following is None:
        doc.ca.end = _tokens(lines) or []
        if doc.ca.end and doc.ca.comment is None:
            doc.ca.comment = [None, None]  # else ruamel does not write the end comments
    else:
        _set_before(doc, following, lines)


def _normalise(doc: CommentedMap) -> None:
    """Move every gap between the entries of every section to the "before" comment of the
    key after it (see the note above)."""
    keys = list(doc.keys())
    for position, section in enumerate(keys):
        body = doc[section]
        trailing: list[str] = []
        if isinstance(body, CommentedMap) and _is_block(body):
            head = _take_head(doc, section)
            entries = list(body.keys())
            if head:
                _set_before(body, entries[0], head + _before(body, entries[0]))
            for index, entry in enumerate(entries):
                lines = _take_trailing(body, entry)
                if index + 1 < len(entries):
                    following = entries[index + 1]
                    _set_before(body, following, lines + _before(body, following))
                else:
                    trailing = lines
        else:
            trailing = _take_trailing(doc, section)
        if trailing:
            following = keys[position + 1] if position + 1 < len(keys) else None
            current = _before(doc, following) if following is not None else _lines(doc.ca.end)
            _set_after_section(doc, following, trailing + current)


def _split_own(lines: list[str]) -> tuple[list[str], list[str]]:
    """(the lines to keep, the comment lines directly above an entry: its own)."""
    end = len(lines)
    while end > 0 and lines[end - 1].strip():
        end -= 1
    return lines[:end], lines[end:]


def _has_comment(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _join(first: list[str], second: list[str]) -> list[str]:
    """Two gaps that become one: blank lines give way to the other gap's, one blank line
    stays between the comments of both."""
    if not _has_comment(first):
        return second
    if not _has_comment(second):
        return first + ([""] if second and first[-1:] != [""] else [])
    if first[-1:] == [""]:
        second = _strip_leading_blanks(second)
    return first + second


def _strip_leading_blanks(lines: list[str]) -> list[str]:
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    return lines[start:]


def _fresh(yaml: YAML, doc: CommentedMap) -> CommentedMap:
    """``doc`` normalised, when normalising leaves its text as it was (else untouched)."""
    before = dump(yaml, doc)
    copy = yaml.load(before)
    _normalise(copy)
    if dump(yaml, copy) == before:
        return copy  # type: ignore[no-any-return]
    return doc


def append_entry(yaml: YAML, doc: CommentedMap, section: str, name: str,
                 value: Any) -> CommentedMap:
    """``doc`` with ``section.name`` added after the section's last entry (the section is
    added at the end when missing). Returns the edited document (possibly a new object)."""
    doc = _fresh(yaml, doc)
    body = doc.get(section)
    if not isinstance(body, CommentedMap):  # missing, or an empty ``section:``
        new = section not in doc
        body = CommentedMap()
        doc[section] = body
        if new and len(doc) > 1:
            _set_before(doc, section, [""])
    spaced = any(_before(body, key)[:1] == [""] for key in list(body.keys())[1:])
    body[name] = value
    if spaced:
        _set_before(body, name, [""])
    return doc


def remove_entry(yaml: YAML, doc: CommentedMap, section: str, name: str) -> CommentedMap:
    """``doc`` without ``section.name``; the comment lines directly above the entry go with
    it, other comments stay. A section left empty is removed with the comment directly above
    it. Returns the edited document (possibly a new object)."""
    doc = _fresh(yaml, doc)
    body = doc[section]
    entries = list(body.keys())
    index = entries.index(name)
    keep, _own = _split_own(_before(body, name))
    body.ca.items.pop(name, None)
    del body[name]
    if index + 1 < len(entries):  # the next entry takes the gap
        following = entries[index + 1]
        lines = _join(keep, _before(body, following))
        _set_before(body, following, _strip_leading_blanks(lines) if index == 0 else lines)
        return doc
    kept = keep if _has_comment(keep) else []
    while kept[-1:] == [""]:
        kept = kept[:-1]
    if index > 0:  # the last entry: comments above it that are not its own stay
        if kept:
            after, lines = _after_section(doc, section)
            _set_after_section(doc, after, _join(kept, lines))
        return doc
    # the section is empty now: remove it, with the comment lines directly above it
    section_keep, _section_own = _split_own(_before(doc, section))
    after, lines = _after_section(doc, section)
    doc.ca.items.pop(section, None)
    del doc[section]
    merged = _join(_join(section_keep, kept), lines)
    if after is not None and next(iter(doc.keys())) == after:
        merged = _strip_leading_blanks(merged)
    _set_after_section(doc, after, merged)
    return doc


# --------------------------------------------------------------------------- text splices
#
# append_entry/remove_entry re-serialise the whole document through ruamel, which rewrites
# constructs it does not keep (a flow mapping over several lines becomes one line, anchors
# and quoting can change). The splices below edit the text itself: the new entry's lines are
# inserted, or the removed entry's lines cut out, and every other byte stays as it was. They
# follow the same comment rules as append_entry/remove_entry (the CASES in
# tests/unit/test_yamledit.py hold for both) and answer None where the file's shape is one
# they do not handle (a flow-style section, document markers), so that callers fall back to
# the re-serialising edit. Every splice is checked by parsing its result.


@dataclass(frozen=True)
class _Section:
    key: Any
    line: int
    """Line of the top-level key (0-based)."""
    body: Any
    entries: list[tuple[Any, int]]
    """(key, line) of every entry when the body is a block mapping, else empty."""
    column: int
    """Column of the entries (block mappings); 0 otherwise."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_gap(line: str, column: float) -> bool:
    """A line between entries: blank, or a comment indented at most ``column``."""
    text = line.strip()
    return not text or (text.startswith("#") and _indent(line) <= column)


def _gap_start(lines: list[str], start: int, end: int, column: float) -> int:
    """Where the run of gap lines that ends at ``end`` (exclusive) begins, not before start."""
    index = end
    while index > start and _is_gap(lines[index - 1], column):
        index -= 1
    return index


def _sections(doc: CommentedMap) -> list[_Section] | None:
    found = []
    for key in doc:
        line, _column = doc.lc.key(key)
        body = doc[key]
        entries: list[tuple[Any, int]] = []
        column = 0
        if isinstance(body, CommentedMap) and len(body) and not body.fa.flow_style():
            entries = [(name, body.lc.key(name)[0]) for name in body]
            column = body.lc.key(next(iter(body)))[1]
        found.append(_Section(key, line, body, entries, column))
    lines = [s.line for s in found]
    return found if lines == sorted(lines) else None


def _layout(text: str) -> tuple[list[str], str, CommentedMap] | None:
    """The lines of ``text``, its newline and its round-trip document; None when the text is
    not one plain document of sections (document markers, directives, not a mapping)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split(newline)
    if lines and lines[-1] == "":
        lines.pop()
    if any(line.startswith(("---", "...", "%")) for line in lines):
        return None
    try:
        doc = round_trip_yaml().load(text)
    except Exception:  # unreadable: the re-serialising edit reports it
        return None
    if not isinstance(doc, CommentedMap) or not len(doc):
        return None
    return lines, newline, doc


def _section_end(sections: list[_Section], index: int, total: int) -> int:
    return sections[index + 1].line if index + 1 < len(sections) else total


def _step(sections: list[_Section]) -> int:
    """How far the file indents a resource's keys under its name (2 unless it says else)."""
    for section in sections:
        for name, _line in section.entries:
            value = section.body[name]
            if isinstance(value, CommentedMap) and len(value) and not value.fa.flow_style():
                step = int(value.lc.key(next(iter(value)))[1]) - section.column
                if 2 <= step <= 8:
                    return step
    return 2


def _entry_text(name: str, value: Any, column: int, step: int = 2) -> list[str]:
    yaml = round_trip_yaml()
    yaml.indent(mapping=step, sequence=step + 2, offset=step)
    rendered = dump(yaml, CommentedMap([(name, value)])).split("\n")
    if rendered and rendered[-1] == "":
        rendered.pop()
    return [" " * column + line if line.strip() else "" for line in rendered]


def _joined(lines: list[str], newline: str) -> str:
    return newline.join(lines) + newline if lines else ""


def _checked(text: str, expected: Any) -> str | None:
    """``text`` when it parses to exactly ``expected`` (values and key order), else None."""
    try:
        data = parse(text)
        round_trip_yaml().load(text)  # ruamel refuses what PyYAML lets pass (a repeated anchor)
    except Exception:  # unreadable either way: the caller falls back
        return None
    if data != expected or json.dumps(data, default=str) != json.dumps(expected, default=str):
        return None
    return text


Render = Callable[[int, int], list[str]]
"""Lines of an entry (its key line first) for the entry column and indentation step."""


def append_text(text: str, section: str, name: str, value: Any) -> str | None:
    """``text`` with ``section.name`` added after the section's last entry (a missing
    section is added at the end of the file), every other byte unchanged; None when the
    file's shape needs :func:`append_entry` instead."""
    plain = parse(dump(round_trip_yaml(), CommentedMap([("v", value)])))["v"]
    return append_lines(text, section, name,
                        lambda column, step: _entry_text(name, value, column, step), plain)


def append_lines(text: str, section: str, name: str, render: Render, plain: Any) -> str | None:
    """:func:`append_text` with the entry's lines given (``render``) and the data they must
    read as (``plain``): how a promotion copies a resource's own text."""
    layout = _layout(text)
    if layout is None:
        return None
    lines, newline, doc = layout
    sections = _sections(doc)
    if sections is None:
        return None
    expected = parse(text)
    keys = [s.key for s in sections]
    columns = [s.column for s in sections if s.entries and not is_extension(s.key)]
    column = columns[0] if columns else 2
    if section not in keys:
        expected[section] = {name: plain}
        gap = [""] if lines and lines[-1].strip() else []
        added = [*lines, *gap, f"{section}:", *render(column, _step(sections))]
        return _checked(_joined(added, newline), expected)
    index = keys.index(section)
    current = sections[index]
    body = expected.get(section)
    if current.body is None and body is None:  # ``section:`` with nothing under it yet
        expected[section] = {name: plain}
        at = current.line + 1
        added = [*lines[:at], *render(column, _step(sections)), *lines[at:]]
        return _checked(_joined(added, newline), expected)
    if not current.entries or not isinstance(body, dict):
        return None
    body[name] = plain
    end = _section_end(sections, index, len(lines))
    last = current.entries[-1][1]
    at = _gap_start(lines, last + 1, end, current.column)
    spaced = False
    for (_, previous), (_, line) in zip(current.entries, current.entries[1:], strict=False):
        start = _gap_start(lines, previous + 1, line, current.column)
        spaced = spaced or (start < line and not lines[start].strip())
    new = ([""] if spaced else []) + render(current.column, _step(sections))
    return _checked(_joined([*lines[:at], *new, *lines[at:]], newline), expected)


@dataclass(frozen=True)
class EntryText:
    """One entry's own lines, at column 0: the comment lines directly above it, then its key
    line and everything under it."""

    comments: list[str]
    body: list[str]

    def render(self, *, with_comments: bool = True) -> Render:
        lines = [*self.comments, *self.body] if with_comments else self.body
        return lambda column, _step: [" " * column + line if line.strip() else ""
                                      for line in lines]

    @property
    def aliases(self) -> set[str]:
        """Anchors the entry refers to but does not define itself."""
        text = "\n".join(self.body)
        return set(_ALIAS.findall(text)) - set(_ANCHOR.findall(text))


_ALIAS = re.compile(r"(?:^|[\s\[{,:])\*([^\s,\[\]{}]+)", re.MULTILINE)
_ANCHOR = re.compile(r"(?:^|[\s\[{,:])&([^\s,\[\]{}]+)", re.MULTILINE)


def _dedent(lines: list[str], column: int) -> list[str]:
    return [line[min(column, _indent(line)):] if line.strip() else "" for line in lines]


def entry_text(text: str, section: str, name: str) -> EntryText | None:
    """``section.name``'s own lines in ``text`` (None for shapes the splices do not handle)."""
    found = _entry_span(text, section, name)
    if found is None:
        return None
    lines, own, start, end, column = found
    return EntryText(_dedent(lines[own:start], column), _dedent(lines[start:end], column))


def _entry_span(text: str, section: str, name: str
                ) -> tuple[list[str], int, int, int, int] | None:
    """(lines, first own comment line, key line, end, column) of ``section.name``."""
    layout = _layout(text)
    if layout is None:
        return None
    lines, _newline, doc = layout
    sections = _sections(doc)
    if sections is None or section not in [s.key for s in sections]:
        return None
    index = [s.key for s in sections].index(section)
    current = sections[index]
    names = [entry for entry, _ in current.entries]
    if name not in names:
        return None
    position = names.index(name)
    line = current.entries[position][1]
    previous = current.entries[position - 1][1] + 1 if position else current.line + 1
    lead = _gap_start(lines, previous, line, current.column)
    _keep, own = _split_own(lines[lead:line])
    if position + 1 < len(names):
        following = current.entries[position + 1][1]
        end = _gap_start(lines, line + 1, following, current.column)
    else:
        end = _gap_start(lines, line + 1, _section_end(sections, index, len(lines)),
                         current.column)
    return lines, line - len(own), line, end, current.column


def replace_lines(text: str, section: str, name: str, render: Render,
                  plain: Any) -> str | None:
    """``text`` with ``section.name``'s key line and body replaced by ``render``'s lines (the
    comment lines above it stay), every other byte unchanged."""
    found = _entry_span(text, section, name)
    if found is None:
        return None
    lines, _own, start, end, column = found
    newline = "\r\n" if "\r\n" in text else "\n"
    expected = parse(text)
    expected[section][name] = plain
    result = [*lines[:start], *render(column, 2), *lines[end:]]
    return _checked(_joined(result, newline), expected)


def update_entry(text: str, section: str, name: str, change: Callable[[Any], Any],
                 plain: Any) -> str | None:
    """``text`` with ``section.name`` changed by ``change`` (given the entry's round-trip
    value, returns the new one) and re-serialised on its own: the entry's comments survive,
    every other line of the file stays as it was. None when the entry cannot be read alone
    (it refers to an anchor elsewhere in the file)."""
    found = _entry_span(text, section, name)
    if found is None:
        return None
    lines, _own, start, end, column = found
    layout = _layout(text)
    if layout is None:
        return None
    sections = _sections(layout[2]) or []
    yaml = round_trip_yaml()
    step = _step(sections)
    yaml.indent(mapping=step, sequence=step + 2, offset=step)
    try:
        alone = yaml.load("\n".join(_dedent(lines[start:end], column)) + "\n")
    except Exception:  # an alias to an anchor outside the entry
        return None
    if not isinstance(alone, CommentedMap) or list(alone) != [name]:
        return None
    alone[name] = change(alone[name])
    rendered = dump(yaml, alone).split("\n")
    if rendered and rendered[-1] == "":
        rendered.pop()
    newline = "\r\n" if "\r\n" in text else "\n"
    expected = parse(text)
    expected[section][name] = plain
    result = [*lines[:start], *[" " * column + line if line.strip() else "" for line in rendered],
              *lines[end:]]
    return _checked(_joined(result, newline), expected)


def extension_blocks(text: str) -> dict[str, list[str]]:
    """The top-level ``x-`` keys of ``text`` with their lines (own comments included)."""
    layout = _layout(text)
    if layout is None:
        return {}
    lines, _newline, doc = layout
    sections = _sections(doc) or []
    found: dict[str, list[str]] = {}
    for index, section in enumerate(sections):
        if not is_extension(section.key):
            continue
        end = _section_end(sections, index, len(lines))
        if section.entries:
            stop = _gap_start(lines, section.entries[-1][1] + 1, end, section.column)
        else:
            stop = _gap_start(lines, section.line + 1, end, float("inf"))
        own: list[str] = []
        if index:  # lines above the first key are the file's header, not the block's
            previous = sections[index - 1].line + 1
            lead = _gap_start(lines, previous, section.line, 0)
            _keep, own = _split_own(lines[lead:section.line])
        found[section.key] = [*own, *lines[section.line:stop]]
    return found


def insert_block(text: str, key: str, block: list[str], plain: Any) -> str | None:
    """``text`` with a top-level block (``key``'s lines) before its first key."""
    layout = _layout(text)
    if layout is None:
        return None
    lines, newline, doc = layout
    sections = _sections(doc)
    if not sections:
        return None
    first = sections[0].line
    at = _gap_start(lines, 0, first, float("inf")) if first else 0
    _keep, own = _split_own(lines[at:first])
    at = first - len(own)  # before the first key's own comment lines,
    if at == 0:  # unless they open the file: a file header stays on top
        at = first
    expected = {key: plain, **parse(text)}
    result = [*lines[:at], *block, "", *lines[at:]]
    return _checked(_joined(result, newline), expected)


def anchors_defined(lines: list[str]) -> set[str]:
    return set(_ANCHOR.findall("\n".join(lines)))


def remove_text(text: str, section: str, name: str) -> str | None:
    """``text`` without ``section.name`` (its own comment lines go with it, a section left
    empty goes with its heading), every other byte unchanged; ``""`` when nothing would be
    left but comments; None when the file's shape needs :func:`remove_entry` instead."""
    layout = _layout(text)
    if layout is None:
        return None
    lines, newline, doc = layout
    sections = _sections(doc)
    if sections is None:
        return None
    keys = [s.key for s in sections]
    if section not in keys:
        return None
    index = keys.index(section)
    current = sections[index]
    names = [entry for entry, _ in current.entries]
    if name not in names:
        return None
    expected = parse(text)
    del expected[section][name]
    if not expected[section]:
        del expected[section]
        if not expected:
            return ""
    end = _section_end(sections, index, len(lines))
    position = names.index(name)
    entry_line = current.entries[position][1]
    column = current.column
    leads = []  # where each entry's lead-in (gap lines above its key) starts
    for number, (_, line) in enumerate(current.entries):
        previous = current.entries[number - 1][1] + 1 if number else current.line + 1
        leads.append(_gap_start(lines, previous, line, column))
    tail = _gap_start(lines, current.entries[-1][1] + 1, end, column)
    keep, _own = _split_own(lines[leads[position]:entry_line])
    if len(names) > 1 and position + 1 < len(names):
        following = current.entries[position + 1][1]
        merged = _join(keep, lines[leads[position + 1]:following])
        if position == 0:
            merged = _strip_leading_blanks(merged)
        result = [*lines[:leads[position]], *merged, *lines[following:]]
        return _checked(_joined(result, newline), expected)
    kept = keep if _has_comment(keep) else []
    while kept[-1:] == [""]:
        kept = kept[:-1]
    if len(names) > 1:  # the last entry: comments above it that are not its own stay
        result = [*lines[:leads[position]], *_join(kept, lines[tail:end]), *lines[end:]]
        return _checked(_joined(result, newline), expected)
    # the section is empty now: it goes, with the comment lines directly above it (lines
    # above the first section are the file's header and stay)
    start = current.line
    if index > 0:
        before = sections[index - 1]
        after_previous = (before.entries[-1][1] if before.entries else before.line) + 1
        start = _gap_start(lines, after_previous, current.line,
                           before.column if before.entries else float("inf"))
    section_keep, _section_own = _split_own(lines[start:current.line])
    merged = _join(_join(section_keep, kept), lines[tail:end])
    if index == 0:
        merged = _strip_leading_blanks(merged)
    while end == len(lines) and merged[-1:] == [""]:  # the file does not end in blank lines
        merged = merged[:-1]
    result = [*lines[:start], *merged, *lines[end:]]
    return _checked(_joined(result, newline), expected)
