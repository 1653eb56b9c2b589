"""A key indented wrongly gets a hint about indentation, not only the parser's words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.test_invalid_configs import Case, _assert_reported, _problems, _project


@pytest.mark.parametrize(("text", "where", "fragment"), [
    ("collections:\n  notes:\n    schema: {type: object}\n   description: under\n",
     "main.yaml:4:4", "(this line is indented 3 spaces; keys above are at 0, 2, 4: a key must "
     "line up with the other keys of its mapping)"),
    ("collections:\n  notes:\n    schema: {type: object}\n      description: over\n",
     "main.yaml:4:7", "(this line is indented 6 spaces; keys above are at 0, 2, 4"),
], ids=["under-indented", "over-indented"])
def test_misindented_keys_get_a_hint(tmp_path: Path, text: str, where: str,
                                     fragment: str) -> None:
    case = Case(text, where, fragment)
    _assert_reported(_problems(_project(tmp_path, case)), case)
