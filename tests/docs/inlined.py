"""Code shown in the docs is the code the tests run, inlined so that plain Markdown shows it.

A page shows a file of the repository as a fenced block right under a marker line::

    <!-- source: examples/ci/scripts/plan-comment.sh -->
    ```sh
    …the file, byte for byte…
    ```

(indented as a whole inside a tab). The pages used to include the files with
``--8<-- "path"`` (pymdownx.snippets), which GitHub and editors show as that line instead of
the code. ``tests/docs/test_inlined_sources.py`` fails when a block differs from its file;
``python -m tests.docs.inlined --write`` copies the files into the pages again.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^(?P<indent> *)<!-- source: (?P<path>[^ ]+) -->$")
INCLUDE = re.compile(r'^(?P<indent> *)--8<-- "(?P<path>[^"]+)"$')


@dataclass(frozen=True)
class Block:
    page: Path
    source: str
    marker: int
    """0-based line of the marker; the fence opens on the next line."""
    end: int
    """0-based line of the closing fence."""
    indent: str
    shown: str
    """The block's content, dedented, with a final newline."""


def pages() -> list[Path]:
    return sorted([*(REPO / "docs").rglob("*.md"), REPO / "README.md"])


def blocks(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").split("\n")
    found = []
    for number, line in enumerate(lines):
        match = MARKER.match(line)
        if match is None:
            continue
        indent = match["indent"]
        fence = lines[number + 1] if number + 1 < len(lines) else ""
        if not fence.startswith(indent + "```"):
            raise ValueError(f"{page}:{number + 2}: a source marker must be followed by a fence")
        end = number + 2
        while end < len(lines) and lines[end] != indent + "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{page}:{number + 2}: the fence is never closed")
        body = [row[len(indent):] if row.startswith(indent) else row.strip()
                for row in lines[number + 2:end]]
        found.append(Block(page, match["path"], number, end, indent,
                           "\n".join(body) + "\n"))
    return found


def source_text(block: Block) -> str:
    return (REPO / block.source).read_text(encoding="utf-8")


def differences(block: Block) -> str:
    return "".join(difflib.unified_diff(
        source_text(block).splitlines(True), block.shown.splitlines(True),
        fromfile=block.source, tofile=f"{block.page.relative_to(REPO)} (as shown)"))


def refreshed(page: Path) -> str:
    """The page with every marked block (and every ``--8<--`` include) holding its file."""
    lines = page.read_text(encoding="utf-8").split("\n")
    out: list[str] = []
    number = 0
    marked = {block.marker: block for block in blocks(page)}
    while number < len(lines):
        line = lines[number]
        include = INCLUDE.match(line)
        if number in marked:
            block = marked[number]
            out += [line, lines[number + 1], *_indented(source_text(block), block.indent),
                    lines[block.end]]
            number = block.end + 1
            continue
        if include is not None and out and out[-1].lstrip().startswith("```"):
            fence = out.pop()
            indent = include["indent"]
            out += [f"{indent}<!-- source: {include['path']} -->", fence,
                    *_indented((REPO / include["path"]).read_text(encoding="utf-8"), indent)]
            number += 1
            continue
        out.append(line)
        number += 1
    return "\n".join(out)


def _indented(text: str, indent: str) -> list[str]:
    return [indent + row if row else "" for row in text.rstrip("\n").split("\n")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the pages")
    args = parser.parse_args()
    stale = []
    for page in pages():
        text = refreshed(page)
        if text != page.read_text(encoding="utf-8"):
            stale.append(page.relative_to(REPO).as_posix())
            if args.write:
                page.write_text(text, encoding="utf-8")
    verb = "rewrote" if args.write else "stale"
    for page in stale:
        print(f"{verb}: {page}")
    return 0 if args.write or not stale else 1


if __name__ == "__main__":
    sys.exit(main())
