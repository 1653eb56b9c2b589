"""Run the ```console blocks of a documentation page and compare their output.

A block holds commands (``$ …``) each followed by the output it prints. A command continues
on the next line after a trailing backslash, and through a here-document (``<<'EOF'`` …
``EOF``). In the shown output:

- ``…`` inside a line matches any run of characters (ids, timestamps, secrets);
- a line that is only ``...`` matches any number of lines, including none.

Every command of a page runs, in order, in one ``bash`` process (so ``cd``, ``export`` and
background jobs carry on as they do in a terminal), with stderr merged into stdout.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```console[^\n]*\n(.*?)^```", re.S | re.M)
_HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")
_MARKER = "@@hookplane-docs-step-{}@@"


@dataclass(frozen=True)
class Step:
    command: str
    expected: list[str]


def parse(markdown: str) -> list[Step]:
    """Every command and its shown output, from every ```console block, in page order."""
    steps: list[Step] = []
    for block in _FENCE.findall(markdown):
        lines = block.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            if not line.startswith("$ "):
                raise ValueError(f"output before any command in a console block: {line!r}")
            command = [line[2:]]
            index += 1
            while command[-1].endswith("\\") and index < len(lines):
                command.append(lines[index])
                index += 1
            heredoc = _HEREDOC.search(command[0])
            if heredoc:
                while index < len(lines):
                    command.append(lines[index])
                    index += 1
                    if command[-1].strip() == heredoc.group(1):
                        break
            expected: list[str] = []
            while index < len(lines) and not lines[index].startswith("$ "):
                expected.append(lines[index])
                index += 1
            while expected and not expected[-1].strip():
                expected.pop()
            steps.append(Step("\n".join(command), expected))
    return steps


def _line_pattern(line: str) -> re.Pattern[str]:
    return re.compile("".join(".+?" if part == "…" else re.escape(part)
                              for part in re.split("(…)", line)) + r"\Z")


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` lines are what ``expected`` shows (with ``…`` and ``...``)."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and bool(_line_pattern(head).match(actual[0])) and matches(
        rest, actual[1:])


def run(steps: list[Step], *, cwd: Path, env: Mapping[str, str],
        replace: Mapping[str, str] | None = None, timeout: float = 240) -> list[list[str]]:
    """Run every step in one bash; return each step's output lines.

    ``replace`` maps text in the commands to what runs instead (e.g. a documented port to a
    free one); the output is mapped back so it compares with the page.
    """
    replace = replace or {}
    script = ["exec 2>&1", "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT"]
    for number, step in enumerate(steps):
        command = step.command
        for shown, used in replace.items():
            command = command.replace(shown, used)
        script += [f"echo '{_MARKER.format(number)}'", command]
    done = subprocess.run(["bash", "-c", "\n".join(script) + "\n"], cwd=cwd, env=dict(env),
                          capture_output=True, text=True, timeout=timeout, check=False)
    output = done.stdout
    for shown, used in replace.items():
        output = output.replace(used, shown)
    outputs: list[list[str]] = []
    for number in range(len(steps)):
        marker = _MARKER.format(number)
        start = output.find(marker)
        if start < 0:
            raise AssertionError(f"step {number} ({steps[number].command!r}) never ran:\n"
                                 f"{output}")
        end = output.find(_MARKER.format(number + 1))
        chunk = output[start + len(marker): end if end >= 0 else len(output)]
        lines = chunk.split("\n")[1:]
        while lines and not lines[-1].strip():
            lines.pop()
        outputs.append(lines)
    return outputs
