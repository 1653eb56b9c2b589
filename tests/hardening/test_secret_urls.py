"""Secret URLs stay secret when they fail: a trigger URL from ``${env:}`` (a Slack or Teams
URL is a credential) never appears in a delivery error, the state database, the admin API,
the CLI or a log line — also when it is malformed (a bad port), when its header values
cannot be sent, when the connection fails, and when the receiver redirects to the same
secret path. Error texts carry scheme, host and port only.

Before the fix, a bad port put the whole URL, secret path included, into the delivery
error (and from there into the database, ``triggers deliveries``, the admin API, the
console and the INFO log).
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from hookplane.cli.main import cli
from hookplane.runtime.egress import safe_destination
from hookplane.runtime.logs import redact
from tests.integration.runtime.dispatch_support import (
    Project,
    Receiver,
    finished,
    running,
)

MARK = "S3CRETPATH"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failing_secret_urls_never_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                        ) -> None:
    redirect = Receiver(lambda hit: (301, b"", {
        "Location": f"https://hooks.example.com/T0/{MARK}-redirect?token={MARK}"})).start()
    environ = {
        "BAD_PORT_URL": f"https://hooks.example.com:99999/T0/B0/{MARK}-port",
        "NO_HOST_URL": f"https:///T0/{MARK}-nohost",
        "CLOSED_URL": f"http://127.0.0.1:{_closed_port()}/T0/{MARK}-closed?key={MARK}",
        "REDIRECT_URL": f"{redirect.url}/T0/{MARK}-redirect",
        "HEADER_URL": f"{redirect.url}/T0/{MARK}-header",
        "BAD_HEADER": f"ok\r\nX-Injected: {MARK}-header-value",
    }
    root = tmp_path / "project"
    root.mkdir()
    url = f"sqlite:///{tmp_path / 'state.db'}"
    project = Project(root, url, environ)
    names = ("bad-port", "no-host", "closed", "redirect", "header")
    try:
        project.apply("""
            triggers:
              bad-port: {collection: incidents, events: [create], url: "${env:BAD_PORT_URL}"}
              no-host: {collection: incidents, events: [create], url: "${env:NO_HOST_URL}"}
              closed: {collection: incidents, events: [create], url: "${env:CLOSED_URL}"}
              redirect: {collection: incidents, events: [create], url: "${env:REDIRECT_URL}"}
              header: {collection: incidents, events: [create], url: "${env:HEADER_URL}",
                       headers: {X-Api-Key: "${env:BAD_HEADER}"}}
            """)
        project.create("incidents", {"title": "a"})
        with caplog.at_level(logging.DEBUG), running(project.dispatcher()):
            ended = {name: finished(project, name)[0] for name in names}
    finally:
        project.close()
        redirect.stop()

    errors = {name: delivery.last_error or "" for name, delivery in ended.items()}
    assert all(delivery.status == "failed" for delivery in ended.values()), errors
    assert errors["bad-port"] == ("invalid destination https://hooks.example.com: the port is "
                                  "not a number from 1 to 65535")
    assert errors["no-host"] == "invalid destination (a malformed URL): the URL has no host"
    assert errors["closed"].startswith("could not connect to http://127.0.0.1:"), errors
    assert errors["redirect"] == ("receiver answered 301 (a redirect to "
                                  "https://hooks.example.com); redirects are not followed: "
                                  "point the trigger at the final URL")
    assert errors["header"].startswith(f"invalid request to {redirect.url}: "), errors
    for name, error in errors.items():
        assert MARK not in error, (name, error)
    assert [hit.path for hit in redirect.hits] == [f"/T0/{MARK}-redirect"], \
        "a header with CR/LF must not be sent at all"

    # the state database holds no trace of the secret paths (errors, payloads, anything)
    assert MARK.encode() not in (tmp_path / "state.db").read_bytes()
    # nothing logged carries them either (the raw messages, before the redacting formatter)
    assert MARK not in caplog.text

    # the CLI's delivery log and test send show the same safe texts
    runner = CliRunner()
    for name in names:
        shown = runner.invoke(cli, ["-C", str(root), "triggers", "deliveries", "preview",
                                    name, "--database-url", url])
        assert shown.exception is None, shown.output
        assert MARK not in shown.output, shown.output
    tested = runner.invoke(cli, ["-C", str(root), "triggers", "test", "preview", "bad-port",
                                 "--database-url", url], env=environ)
    assert "invalid destination https://hooks.example.com" in tested.output, tested.output
    assert MARK not in tested.output


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hooks.slack.com/services/T0/B0/xyz", "https://hooks.slack.com"),
    ("http://user:pass@example.com:8080/p?q=1#f", "http://example.com:8080"),
    ("https://[2001:db8::1]:8443/secret", "https://[2001:db8::1]:8443"),
    ("https://example.com:99999/secret", "https://example.com"),
    ("https://example.com:abc/secret", "https://example.com"),
    ("https://[::1/secret", "(a malformed URL)"),
    ("hooks.slack.com/services/T0/B0/xyz", "(a malformed URL)"),
    ("ftp://example.com/secret", "(a malformed URL)"),
])
def test_a_destination_is_shown_by_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert safe_destination(url) == shown


def test_the_log_filter_masks_url_paths_and_queries() -> None:
    line = ("delivery failed: https://hooks.slack.com/services/T0/B0/xyz?token=abc and "
            "http://10.0.0.1:99999/a/b")
    masked = redact(line)
    assert "services" not in masked and "xyz" not in masked and "/a/b" not in masked
    assert "https://hooks.slack.com/[redacted]" in masked
    assert "http://10.0.0.1:99999/[redacted]" in masked
