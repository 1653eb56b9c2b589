"""The code the docs show is the code the tests run, and plain Markdown shows it.

The tutorial's receiver, both receiver guides and the how-tos used ``--8<-- "path"`` includes,
which GitHub and editors render as that line instead of the code. The code is now in the
pages under a ``<!-- source: PATH -->`` marker; this test fails, with a diff, when a shown
block and its file part ways (``python -m tests.docs.inlined --write`` copies them again).
"""

from __future__ import annotations

import pytest

from tests.docs import inlined

BLOCKS = [block for page in inlined.pages() for block in inlined.blocks(page)]


def test_the_pages_show_the_files_the_tests_run() -> None:
    assert len(BLOCKS) >= 16
    assert {b.page.relative_to(inlined.REPO).as_posix() for b in BLOCKS} >= {
        "docs/tutorial.md", "docs/receivers/python.md", "docs/receivers/node.md",
        "docs/howto/ci-pipelines.md", "docs/howto/stripe-orders-hydration.md"}


@pytest.mark.parametrize("block", BLOCKS,
                         ids=lambda b: f"{b.page.name}:{b.marker + 1}:{b.source}")
def test_a_shown_block_is_byte_identical_to_its_file(block: inlined.Block) -> None:
    assert block.shown == inlined.source_text(block), (
        f"{block.page.relative_to(inlined.REPO)}:{block.marker + 1} no longer shows "
        f"{block.source} as it is (run 'python -m tests.docs.inlined --write'):\n"
        + inlined.differences(block))


def test_no_page_includes_a_file_by_reference() -> None:
    for page in inlined.pages():
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            assert not inlined.INCLUDE.match(line), (
                f"{page.relative_to(inlined.REPO)}:{number}: an include line shows as text "
                "outside the docs site: inline the file under a '<!-- source: PATH -->' marker")


def test_an_edited_source_is_caught(tmp_path: object) -> None:
    """The check is real: a block that differs by one character is reported with a diff."""
    block = next(b for b in BLOCKS if b.source.endswith("receiver.py"))
    changed = inlined.Block(block.page, block.source, block.marker, block.end, block.indent,
                            block.shown.replace("def ", "def  ", 1))
    assert changed.shown != inlined.source_text(changed)
    assert "+def  " in inlined.differences(changed)
