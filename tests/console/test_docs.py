"""docs/console.md shows every console screenshot, and each one exists."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "console.md"
IMAGES = DOCS / "images" / "console"


def test_every_screenshot_is_shown_and_every_shown_image_exists() -> None:
    shown = set(re.findall(r"!\[[^\]]+\]\((images/console/[\w-]+\.png)\)", PAGE.read_text()))
    files = {f"images/console/{p.name}" for p in IMAGES.glob("*.png")}
    assert shown, "docs/console.md shows no screenshot"
    assert shown == files, (shown ^ files)
    for name in files:
        assert (DOCS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_the_tests_produce_every_screenshot_the_page_shows() -> None:
    here = Path(__file__).parent
    produced = set()
    for test in here.glob("test_*.py"):
        produced |= set(re.findall(r'screenshot\(page, "([\w-]+)"', test.read_text()))
    files = {p.stem for p in IMAGES.glob("*.png")}
    assert files <= produced, files - produced
