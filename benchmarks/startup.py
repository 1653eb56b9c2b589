"""startup: how long `hookplane --help`, `--version` and `validate` of a small project take.

Each is run as a fresh process, as CI steps run it, and compared with ``python -c pass`` in
the same run (the interpreter's own start-up is the baseline). Run:

    python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = {
    "environments/preview/environment.yaml": "name: preview\nkind: preview\n",
    "environments/preview/main.yaml": (
        "collections:\n  incidents:\n    schema: {type: object, properties: "
        "{title: {type: string}}}\ntriggers:\n  notify:\n    collection: incidents\n"
        "    events: [create]\n    url: https://hooks.example.com/n\n"),
}


def _timed(argv: list[str], cwd: Path, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(*, repeat: int = 5) -> list[tuple[str, float]]:
    """[(what, seconds)], the baseline first."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for name, text in PROJECT.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        cli = [sys.executable, "-m", "hookplane.cli"]
        return [
            ("baseline: python -c pass", _timed([sys.executable, "-c", "pass"], root, repeat)),
            ("hookplane --help", _timed([*cli, "--help"], root, repeat)),
            ("hookplane --version", _timed([*cli, "--version"], root, repeat)),
            ("hookplane validate (small project)", _timed([*cli, "validate"], root, repeat)),
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = run(repeat=args.repeat)
    base = rows[0][1]
    print(f"start-up, median of {args.repeat}; Python {sys.version.split()[0]}")
    for what, seconds in rows:
        print(f"  {what:<36} {seconds:7.3f} s  {seconds / base:6.1f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
