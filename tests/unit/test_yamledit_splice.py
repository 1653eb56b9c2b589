"""Creating or deleting a resource leaves every other byte of the file as it was.

``append_text`` / ``remove_text`` edit the text itself (the re-serialising
``append_entry``/``remove_entry`` joined a flow mapping written over three lines into one long
line, and re-indent files written with other indentation). One golden file per construct:
the created entry's lines are the only lines added, the deleted entry's lines the only lines
removed, and create-then-delete gives the file back byte for byte.
"""

from __future__ import annotations

import difflib
import textwrap
from pathlib import Path

import pytest

from hookplane.config.models import SECTIONS
from hookplane.config.yamlio import parse
from hookplane.yamledit import append_text, remove_text, round_trip_value

REPO = Path(__file__).resolve().parents[2]
NEW = {"collection": "incidents", "events": ["create"], "url": "https://example.com/hook"}
NEW_LINES = [
    "  zz-new:",
    "    collection: incidents",
    "    events: [create]",
    "    url: https://example.com/hook",
]

CONSTRUCTS = {
    "flow-mapping-over-lines": """\
        triggers:
          page:
            collection: incidents
            url: https://hooks.example.com/page
            filter: {severity: p1,
                     status: open,
                     team: payments}
        """,
    "anchors-aliases-merge-keys": """\
        triggers:
          base: &base
            collection: incidents
            events: [create, update]
            url: https://hooks.example.com/a
            headers: &headers {X-Team: payments}
          copy:
            <<: *base
            url: https://hooks.example.com/b
            headers: *headers
        """,
    "long-lines": """\
        triggers:
          long:
            collection: incidents
            url: https://hooks.example.com/a-very-long-path/that/goes/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on/and/on?x=1
            description: a description that is far longer than any line width a serialiser would keep, written on one line by someone who likes long lines, and kept that way
        """,  # noqa: E501
    "quoting-and-block-scalars": """\
        triggers:
          quoted:
            collection: 'incidents'
            url: "https://hooks.example.com/q"
            description: >
              folded text
              over two lines
            body: |
              {"text": "{{record.title}}"}
            events: ["create", 'update']
        """,
    "comments-everywhere": """\
        # file header: who owns this file

        triggers:   # outbound, to chat
          # about page: P1 only
          page:
            collection: incidents  # the collection
            # the URL comes from the environment
            url: "${env:PAGE_URL}"
            # trailing comment inside page

        # about the next section
        api_keys:
          reader: {scopes: [records:read]}   # read-only
        # end of file
        """,
    "blank-lines-between-entries": """\
        triggers:


          first:
            collection: incidents
            url: https://hooks.example.com/1


          second:
            collection: incidents
            url: https://hooks.example.com/2
        """,
    "four-space-indentation": """\
        triggers:
            first:
                collection: incidents
                events:
                -   create
                -   update
                url: https://hooks.example.com/1
        """,
    "flow-resource-and-empty-section": """\
        api_keys:
        triggers:
          inline: {collection: incidents, url: "https://hooks.example.com/i"}
        """,
}


def _dedent(text: str) -> str:
    return textwrap.dedent(text)


def _operations(before: str, after: str) -> set[str]:
    matcher = difflib.SequenceMatcher(a=before.splitlines(True), b=after.splitlines(True),
                                      autojunk=False)
    return {tag for tag, *_ in matcher.get_opcodes() if tag != "equal"}


def _added_lines(before: str, after: str) -> list[str]:
    return [line[2:] for line in difflib.ndiff(before.splitlines(), after.splitlines())
            if line.startswith("+ ")]


@pytest.mark.parametrize("name", list(CONSTRUCTS))
def test_create_adds_only_the_new_lines_and_delete_gives_the_file_back(name: str) -> None:
    before = _dedent(CONSTRUCTS[name])
    after = append_text(before, "triggers", "zz-new", round_trip_value(NEW, flow=False))
    assert after is not None, name
    assert _operations(before, after) == {"insert"}, "".join(
        difflib.unified_diff(before.splitlines(True), after.splitlines(True)))
    added = _added_lines(before, after)
    indent = "    " if name == "four-space-indentation" else "  "
    expected = [line.replace("  ", indent) for line in NEW_LINES]
    if name == "blank-lines-between-entries":
        expected = ["", *expected]  # entries written with blank lines between get one too
    assert [line for line in added if line.strip()] == [line for line in expected if line]
    assert parse(after)["triggers"]["zz-new"] == NEW
    assert remove_text(after, "triggers", "zz-new") == before


@pytest.mark.parametrize("name", list(CONSTRUCTS))
def test_delete_removes_only_the_entry_lines(name: str) -> None:
    before = _dedent(CONSTRUCTS[name])
    data = parse(before)
    for section in data:
        for entry in data[section] or {}:
            after = remove_text(before, section, entry)
            if name == "anchors-aliases-merge-keys" and entry == "base":
                assert after is None  # the anchor's definition goes: copy's alias would dangle
                continue
            assert after is not None, (section, entry)
            assert _operations(before, after) <= {"delete"}, (section, entry, after)
            left = parse(after) or {}
            assert entry not in (left.get(section) or {})


def test_the_issue_case_keeps_a_three_line_flow_mapping() -> None:
    """`triggers create` joined a 3-line flow mapping elsewhere in the file into one line."""
    before = _dedent(CONSTRUCTS["flow-mapping-over-lines"])
    after = append_text(before, "triggers", "zz-new", round_trip_value(NEW, flow=False))
    assert after == before + "\n".join(NEW_LINES) + "\n"


def test_golden_removal_of_a_commented_entry() -> None:
    before = _dedent(CONSTRUCTS["comments-everywhere"])
    assert remove_text(before, "api_keys", "reader") == _dedent("""\
        # file header: who owns this file

        triggers:   # outbound, to chat
          # about page: P1 only
          page:
            collection: incidents  # the collection
            # the URL comes from the environment
            url: "${env:PAGE_URL}"
            # trailing comment inside page
        # end of file
        """)
    assert remove_text(before, "triggers", "page") == _dedent("""\
        # file header: who owns this file

        # about the next section
        api_keys:
          reader: {scopes: [records:read]}   # read-only
        # end of file
        """)


def test_crlf_files_keep_their_line_endings() -> None:
    before = _dedent(CONSTRUCTS["comments-everywhere"]).replace("\n", "\r\n")
    after = append_text(before, "triggers", "zz-new", round_trip_value(NEW, flow=False))
    assert after is not None and "\n" not in after.replace("\r\n", "")
    assert remove_text(after, "triggers", "zz-new") == before


def test_a_new_section_goes_at_the_end_and_comes_back_out() -> None:
    before = _dedent(CONSTRUCTS["anchors-aliases-merge-keys"])
    after = append_text(before, "api_keys", "zz-new", round_trip_value({"scopes": ["records:read"]},
                                                                      flow=False))
    assert after == before + "\napi_keys:\n  zz-new:\n    scopes: [records:read]\n"
    assert remove_text(after, "api_keys", "zz-new") == before


def test_an_empty_section_key_receives_the_entry_under_it() -> None:
    before = _dedent(CONSTRUCTS["flow-resource-and-empty-section"])
    after = append_text(before, "api_keys", "zz-new",
                        round_trip_value({"scopes": ["records:read"]}, flow=False))
    assert after is not None and after.startswith("api_keys:\n  zz-new:\n")
    assert _operations(before, after) == {"insert"}


@pytest.mark.parametrize("text", [
    "triggers: {a: {collection: incidents, url: 'https://x.example'}}\n",
    "---\ntriggers:\n  a: {url: x}\n...\n",
], ids=["flow-section", "document-markers"])
def test_shapes_the_splice_does_not_handle_fall_back(text: str) -> None:
    """None tells the caller to use the re-serialising edit (and say it reformats)."""
    assert append_text(text, "triggers", "zz-new", round_trip_value(NEW, flow=False)) is None
    assert remove_text(text, "triggers", "a") is None


def test_removing_the_only_resource_leaves_nothing() -> None:
    assert remove_text("# header\ntriggers:\n  a: {url: x}\n", "triggers", "a") == ""


FILES = sorted(
    p for p in [*REPO.glob("environments/*/*.yaml"), *REPO.glob("examples/*/environments/*/*.yaml"),
                *REPO.glob("tests/**/golden/*.yaml")]
    if p.name != "environment.yaml"
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_file_of_the_repository_round_trips_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = parse(text) or {}
    for section in SECTIONS:
        added = append_text(text, section, "zz-new", round_trip_value(NEW, flow=False))
        assert added is not None, section
        assert _operations(text, added) == {"insert"}
        assert remove_text(added, section, "zz-new") == text
    for section in data:
        for entry in data[section] or {}:
            after = remove_text(text, section, entry)
            assert after is not None and _operations(text, after) <= {"delete"}, (section, entry)
