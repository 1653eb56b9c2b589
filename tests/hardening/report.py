"""Regenerate ``docs/reliability.md`` from a run of the hardening suite.

    python -m tests.hardening.report            # the short run (as CI runs it), ~2 minutes
    python -m tests.hardening.report --long     # HOOKPLANE_HARDENING_LONG=1: more cases
    python -m tests.hardening.report --figures FILE   # render saved figures, run nothing

The suite writes what it measured (cases per fuzz target, items accepted and delivered per
fault scenario, what the secrets scan covered) to a JSON file named by
``HOOKPLANE_HARDENING_FIGURES``; this module runs it, then renders the page. The figures are
embedded in the page, so ``tests/hardening/test_report.py`` can check that the page is exactly
what this generator makes of them (nothing typed by hand, no test module left out).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.hardening.figures import FIGURES_ENV, LONG_ENV

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PAGE = REPO / "docs" / "reliability.md"
MARK = "<!-- hardening-figures "

OPEN_FINDINGS: list[tuple[str, str]] = []

FIXED = [
    "ingest: `1e999` (a float out of range) and other non-finite numbers stored as "
    "`Infinity` failed the write with a 500 — now 400 at parse time.",
    "ingest and records API: strings with U+0000 or a lone surrogate were accepted; "
    "PostgreSQL cannot store or query them and UTF-8 cannot encode them (deliveries and jobs "
    "then failed with `UnicodeEncodeError`) — now 400 at parse time.",
    "ingest and records API: nesting depth was bounded only by the interpreter's recursion "
    "limit — now 100 levels, checked without recursion.",
    "PostgreSQL: a NUL in a path id (record id, webhook id, delivery id, job id, filter, "
    "cursor) reached SQL and answered 503 — now 404 / 400.",
    "records API: a bad filter field or cursor (`InvalidQuery`) answered 503 — now 400; a "
    "record deleted between read and write answers 404.",
    "database outage: the job runner died on the first failed claim and took the dispatcher "
    "and the configuration watcher down with it (the lifespan task group) — it now waits and "
    "retries; ingest answers 503 + Retry-After from its own handler (`DatabaseUnavailable`), "
    "and a delivery stored before the database went away keeps its 2xx even when the "
    "delivery log cannot be written.",
    "hydration and invoke: the upstream timeout applied per read, so an upstream dripping "
    "its answer byte by byte held a job (and its worker) indefinitely — the timeout now "
    "bounds the whole call.",
    "ingest: a body trickled byte by byte held the handler forever — 408 after 30 s.",
    "slow request heads (slowloris): uvicorn has no request-head timeout, so idle connections "
    "and heads trickled byte by byte were held until `limit_concurrency` (2,048) ran out and "
    "every other client got 503 — `server_config` now serves with `runtime/protocol.py`'s "
    "httptools protocol that closes a connection whose head is not complete within "
    "`--head-timeout` (10 s by default; the test uses 2 s).",
    "records API: bodies were read with no deadline, a body over the framework's 10 MB limit "
    "answered 400, and the body was read and parsed before the API key was checked — now "
    "the key and scope are checked first (401/403 without reading), bodies over 1 MiB "
    "answer 413 and a trickled body 408.",
    "the OpenAPI document described none of the real error answers (`{\"error\": …}` bodies; "
    "401/403/404/408/409/413/415/422/429/503) nor ingest's 201/202 nor /metrics' text "
    "format — now every route documents what it sends, and the schemathesis run asserts "
    "that every answer matches the document (status, content type, body schema).",
    "every `StateError` answered 503 'state database unavailable', so a bad query read as an "
    "outage — now 503 only for `DatabaseUnavailable`, 400 for `InvalidQuery`, 404 for "
    "`RecordNotFound`, 409 for `RecordConflict`.",
    # round 2 (issue 15): the security boundary, from an outside review
    "SSRF: hydration fetches and invoke calls went through a plain `httpx.AsyncClient` and "
    "reached loopback, private and metadata addresses (an invoke answer became a readable "
    "record) — every outbound request now goes through one guarded sender "
    "(`runtime/egress.py`); a test reads every module's imports and drives all seven call "
    "sites against a loopback receiver.",
    "`X-Forwarded-For` sent on several lines: only the first was read, so a client's forged "
    "line passed `ip_allowlist` behind a proxy that appends its own — the lines are one list "
    "now; conflicting duplicates of a signature, timestamp or token header are refused.",
    "a malformed `${env:}` trigger URL (a bad port) put the whole URL, secret path included, "
    "into the delivery error, the database, the CLI, the admin API, the console and the log — "
    "error texts carry scheme, host and port only; the log filter masks URL paths.",
    "`${env:HOOKPLANE_SECRET_KEY}` (or the database URL, the admin token) in a URL or header "
    "was sent out with the next delivery — refused at validate; so is a literal URL carrying "
    "a credential.",
    "a hand-edited `plan --out` file was applied as edited — plan files carry an HMAC under a "
    "key derived from the state's secret key, and the sha256 of every YAML file; apply "
    "refuses a changed plan or changed YAML, naming each file.",
    "no brute-force protection and a one-character admin token accepted — weak tokens stop "
    "start-up; wrong credentials get 429 + Retry-After per client (IPv6 per /64) with a "
    "doubling back-off, without locking out other addresses.",
    "state files were 0644 in a 0755 directory — the directory is 0700, the database, WAL, "
    "lock and key 0600, older states tightened.",
    "rate limits keyed by the exact address (IPv6 rotated freely in its /64) and spent by "
    "forged 401s (a NAT neighbour locked a sender out) — /64 keys, a separate budget for "
    "failed verifications, and an opt-in signed timestamp for `hmac`.",
    "a symlink under environments/ to a file outside the project was read (its keys in "
    "errors) — refused before reading.",
    "CLI rotate/reveal audited as 'unknown'; /readyz ready while writes failed (disk full); "
    "serve exited 3 after starting its workers when the port was taken; the records API "
    "named environments before authenticating; /schema loaded a CDN; metrics merged admin and "
    "console routes — each fixed and tested.",
    "Standard Webhooks secrets: unprefixed secrets were used as raw bytes (SDKs disagreed) "
    "and a non-base64 `whsec_` failed at delivery time — decoded as the libraries do, "
    "refused at apply; the specification's published example runs in the suite.",
    "a token-authenticated webhook could not also require a body signature, so a forged "
    "signature sent with a valid token was accepted — `auth: {type: bearer, signature: {}}` "
    "checks both; `bearer` with a `secret` and no signature (which never verified) is refused.",
    "mappings dropped every field they did not name (the delivery then failed with 422) and "
    "an absent `{{payload.x}}` rendered `\"\"` into a typed field — unnamed fields are kept "
    "(`unmapped: drop` restricts), absent values leave the field out.",
]


# --------------------------------------------------------------------------- running


def run_suite(*, long: bool, figures: Path) -> dict[str, Any]:
    """Run tests/hardening with figure collection on; returns the run's metadata."""
    junit = figures.with_suffix(".xml")
    env = {**os.environ, FIGURES_ENV: str(figures)}
    if long:
        env[LONG_ENV] = "1"
    else:
        env.pop(LONG_ENV, None)
    started = time.monotonic()
    # test_report.py checks the page this run is about to write: not part of the run
    done = subprocess.run([sys.executable, "-m", "pytest", str(HERE), "-q", "-m", "slow",
                           "-p", "no:cacheprovider", f"--junitxml={junit}",
                           f"--ignore={HERE / 'test_report.py'}"],
                          cwd=REPO, env=env, check=False)
    seconds = time.monotonic() - started
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    total = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    skipped = int(suite.get("skipped", 0))
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "long": long,
            "seconds": round(seconds), "exit_code": done.returncode,
            "tests": total, "passed": total - failed - skipped, "failed": failed,
            "skipped_or_xfailed": skipped,
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
                       f"Python {platform.python_version()}"}


# --------------------------------------------------------------------------- rendering


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value) or "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def modules() -> list[tuple[str, str]]:
    """Every test module of the suite with the first paragraph of its docstring."""
    found = []
    for path in sorted(HERE.glob("test_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        first = " ".join(doc.split("\n\n")[0].split())
        found.append((path.name, first))
    return found


def render(data: dict[str, Any]) -> str:
    run = data.get("run", {})
    fuzz = data.get("fuzz", {})
    faults = data.get("faults", {})
    secrets = data.get("secrets", {})
    mode = "long (HOOKPLANE_HARDENING_LONG=1)" if run.get("long") else "short (the CI run)"
    out = [
        "# Reliability and hardening",
        "",
        "<!-- Generated by `python -m tests.hardening.report`: do not edit by hand. -->",
        "",
        "Hookplane sits on the open internet and in CI pipelines with production "
        "credentials. `tests/hardening/` is a standing suite that attacks it: property-based "
        "fuzzing of every input surface against a real server, faults injected under load "
        "(database outage, misbehaving receivers, killed processes, slow clients) and a scan "
        "of every artifact of the whole demo for secrets. The figures below are that suite's "
        "own measurements, regenerated with:",
        "",
        "```console",
        "$ python -m tests.hardening.report          # short run, as in CI",
        "$ python -m tests.hardening.report --long   # more cases, bigger scenarios",
        "```",
        "",
        "The default test command runs the short version of every scenario; "
        "`HOOKPLANE_HARDENING_LONG=1` (or `-m long`) raises hypothesis' example counts and "
        "the sizes of the fault scenarios.",
        "",
        "## The run",
        "",
        *_table(["date", "mode", "tests", "passed", "failed", "xfailed / skipped",
                 "duration", "machine"],
                [[run.get("date", "?"), mode, run.get("tests", 0), run.get("passed", 0),
                  run.get("failed", 0), run.get("skipped_or_xfailed", 0),
                  f"{run.get('seconds', 0)} s", run.get("machine", "?")]]),
        "",
        "## Fuzzing: cases per target",
        "",
        "HTTP targets: every case is one real request to the runtime (uvicorn on 127.0.0.1, "
        "SQLite and PostgreSQL); *5xx* must be 0; *accepted* counts the validly signed or "
        "authorised cases that were stored and read back. Parser targets (YAML loader, "
        "templates, filters, mappings, verifiers) are called directly; any exception other "
        "than the documented error type fails the run.",
        "",
    ]
    out += _table(["target", "cases", "answers or outcomes (count)", "5xx / unexpected errors",
                   "accepted"],
                  [[name, f.get("cases", 0), f.get("statuses", {}),
                    f.get("server_errors", 0), f.get("accepted", "—")]
                   for name, f in sorted(fuzz.items())])
    conformance = [(name, f["not_matching_the_document"]) for name, f in sorted(fuzz.items())
                   if f.get("not_matching_the_document")]
    if conformance:
        out += ["", "Answers that schemathesis found not to match the OpenAPI document "
                "(the run fails on any):", ""]
        out += [f"- {name}: {_cell(counts)}" for name, counts in conformance]
    out += ["", "## Fault scenarios", "",
            "*Accepted* is what the runtime acknowledged (2xx); *delivered* what reached the "
            "receiver (counted there, by record id / `webhook-id`).", ""]
    rows = []
    for name, f in sorted(faults.items()):
        details = {k: v for k, v in f.items()
                   if k not in ("accepted", "delivered", "result")}
        rows.append([name, f.get("accepted", "—"), f.get("delivered", "—"),
                     f.get("result", ""), details])
    out += _table(["scenario", "accepted", "delivered", "result", "figures"], rows)
    out += ["", "## Secrets scan", ""]
    out += _table(["scan", "secret values", "artifacts scanned", "bytes", "leaks", "result"],
                  [[name, f.get("secret_values", 0), f.get("artifacts", {}),
                    f.get("bytes_scanned", 0), f.get("leaks", 0), f.get("result", "")]
                   for name, f in sorted(secrets.items())])
    out += ["", "## What each test module proves", ""]
    out += _table(["module", "what it proves"], [[f"`{m}`", doc] for m, doc in modules()])
    out += ["", "## Open findings", ""]
    if OPEN_FINDINGS:
        out += ["Problems this suite found that are not fixed yet:", ""]
        out += [f"{n}. **{title}.** {text}"
                for n, (title, text) in enumerate(OPEN_FINDINGS, 1)]
    else:
        out += ["None: every problem this suite found is fixed (below), each with a test "
                "that fails without the fix."]
    out += ["", "## Fixed because of this suite", ""]
    out += [f"- {text}" for text in FIXED]
    out += ["", MARK + json.dumps(data, sort_keys=True) + " -->", ""]
    return "\n".join(out)


def embedded(page: str) -> dict[str, Any]:
    """The figures a rendered page was made from."""
    start = page.rindex(MARK) + len(MARK)
    end = page.index(" -->", start)
    data: dict[str, Any] = json.loads(page[start:end])
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true", help="the long run")
    parser.add_argument("--figures", type=Path,
                        help="render figures saved by an earlier run; run nothing")
    parser.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    if args.figures is not None:
        data = json.loads(args.figures.read_text())
    else:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "figures.json"
            run = run_suite(long=args.long, figures=path)
            data = json.loads(path.read_text()) if path.exists() else {}
        data["run"] = run
        data.pop("long", None)
    args.out.write_text(render(data))
    print(f"wrote {args.out}")
    return int(data.get("run", {}).get("exit_code", 0) != 0)


if __name__ == "__main__":
    raise SystemExit(main())
