"""Round-trip edits: appending and removing one entry keeps every other line as it was."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hookplane.config.models import SECTIONS
from hookplane.config.yamlio import parse
from hookplane.yamledit import (
    append_entry,
    dump,
    remove_entry,
    round_trip_value,
    round_trip_yaml,
)

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    p for p in [*REPO.glob("environments/*/*.yaml"), *REPO.glob("examples/*/environments/*/*.yaml"),
                *REPO.glob("tests/**/golden/*.yaml")]
    if p.name != "environment.yaml"
)
NEW = {"collection": "incidents", "events": ["create"], "url": "https://example.com/hook"}


def _edit(text: str, operation: str, section: str, name: str) -> str:
    yaml = round_trip_yaml()
    doc = yaml.load(text)
    if operation == "append":
        doc = append_entry(yaml, doc, section, name, round_trip_value(NEW, flow=False))
    else:
        doc = remove_entry(yaml, doc, section, name)
    return dump(yaml, doc)


def _entries(path: Path) -> list[tuple[str, str]]:
    data = parse(path.read_text(encoding="utf-8")) or {}
    return [(section, name) for section in SECTIONS for name in data.get(section) or {}]


def test_the_repository_has_files_to_check() -> None:
    assert len(FILES) >= 8
    assert sum(len(_entries(p)) for p in FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_append_then_remove_gives_the_file_back(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    yaml = round_trip_yaml()
    as_written = dump(yaml, yaml.load(text))  # the same text for files in Hookplane's indentation
    for section in SECTIONS:
        added = _edit(text, "append", section, "zz-new")
        data = parse(added)
        assert data[section]["zz-new"] == NEW
        assert list(data[section])[-1] == "zz-new"
        if section in (parse(text) or {}):
            assert _edit(added, "remove", section, "zz-new") == as_written


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_remove_drops_exactly_one_entry(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    before = parse(text)
    for section, name in _entries(path):
        after = parse(_edit(text, "remove", section, name)) or {}
        expected = {k: dict(v) if isinstance(v, dict) else v for k, v in before.items()}
        del expected[section][name]
        if not expected[section]:
            del expected[section]
        assert after == expected, f"{section}.{name}"


CASES = [
    pytest.param(
        """\
        triggers:  # outbound
          # about a
          a: {url: x}
          b:
            more:
              - 1
        # next section
        api_keys:
          k: {scopes: [read]}
        """,
        "append", "triggers",
        """\
        triggers:  # outbound
          # about a
          a: {url: x}
          b:
            more:
              - 1
          zz-new:
            collection: incidents
            events: [create]
            url: https://example.com/hook
        # next section
        api_keys:
          k: {scopes: [read]}
        """,
        id="append-before-the-next-section-comment"),
    pytest.param(
        """\
        api_keys:
          k: {scopes: [read]}  # the board

          # keep: a note at the end
        """,
        "append", "api_keys",
        """\
        api_keys:
          k: {scopes: [read]}  # the board
          zz-new:
            collection: incidents
            events: [create]
            url: https://example.com/hook

          # keep: a note at the end
        """,
        id="append-before-trailing-comments"),
    pytest.param(
        """\
        triggers:  # outbound
          # about a
          a: {url: x}
          # about b
          b: {url: y}
        """,
        "remove", "a",
        """\
        triggers:  # outbound
          # about b
          b: {url: y}
        """,
        id="remove-the-first-with-its-comment"),
    pytest.param(
        """\
        triggers:
          a: {url: x}

          # --- legacy ---

          # about b
          b: {url: y}
        other: 1
        """,
        "remove", "b",
        """\
        triggers:
          a: {url: x}

          # --- legacy ---
        other: 1
        """,
        id="remove-the-last-keeps-comments-that-are-not-its-own"),
    pytest.param(
        """\
        # file header
        triggers:
          a: {url: x}

        # the keys
        api_keys:
          k: {scopes: [read]}
        # end
        """,
        "remove", "k",
        """\
        # file header
        triggers:
          a: {url: x}
        # end
        """,
        id="remove-a-section-with-its-heading"),
    pytest.param(
        """\
        # file header
        triggers:
          a: {url: x}

        # the keys
        api_keys:
          k: {scopes: [read]}
        """,
        "remove", "a",
        """\
        # file header
        # the keys
        api_keys:
          k: {scopes: [read]}
        """,
        id="remove-the-first-section-keeps-the-file-header"),
]


@pytest.mark.parametrize(("text", "operation", "target", "expected"), CASES)
def test_comments_stay_where_a_reader_expects_them(text: str, operation: str, target: str,
                                                   expected: str) -> None:
    text, expected = textwrap.dedent(text), textwrap.dedent(expected)
    if operation == "append":
        assert _edit(text, "append", target, "zz-new") == expected
    else:
        section = next(s for s, body in parse(text).items()
                       if isinstance(body, dict) and target in body)
        assert _edit(text, "remove", section, target) == expected


def test_new_values_read_back_as_written() -> None:
    tricky = {"a": "yes", "b": "0777", "c": "12:30", "d": "", "e": "${env:URL}",
              "f": "P1: {{record.title}}", "g": " padded", "h": "a # b", "i": ["on", "null"],
              "j": {"nested": "2024-01-01"}, "k": 3, "l": 2.5, "m": True, "n": None}
    yaml = round_trip_yaml()
    text = dump(yaml, {"x": round_trip_value(tricky, flow=False)})
    assert parse(text) == {"x": tricky}
    assert 'e: "${env:URL}"' in text and 'f: "P1: {{record.title}}"' in text
