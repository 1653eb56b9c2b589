"""Inbound webhooks, records, overview, the environment switcher, layout and accessibility."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.console.conftest import (
    ADMIN_TOKEN,
    COMMIT,
    HEADER_SECRET,
    URL_SECRET,
    Console,
    screenshot,
    wait_deliveries,
)


def _ingest(console: Console, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return console.http.post(f"/inbound/preview/{console.hooks[name]}/ingest", content=body,
                             headers={"Content-Type": "application/json", **headers})


def _signed(console: Console, body: bytes) -> dict[str, str]:
    with console.store() as store:
        secret = store.read_secret("preview", "inbound_webhooks", "monitoring", "hmac_secret")
    return {"X-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_inbound_log_shows_acceptance_and_rejection_reasons(signed_in: Any,
                                                            console: Console) -> None:
    good = json.dumps({"title": "CPU saturation", "severity": "p1"}).encode()
    assert _ingest(console, "monitoring", good, _signed(console, good)).status_code in (200, 201)
    assert _ingest(console, "monitoring", good, {"X-Signature": "0" * 64}).status_code == 401
    big = json.dumps({"title": "x" * 500, "severity": "p1"}).encode()
    assert _ingest(console, "monitoring", big, _signed(console, big)).status_code == 413
    invalid = json.dumps({"title": "No severity"}).encode()
    assert _ingest(console, "monitoring", invalid,
                   _signed(console, invalid)).status_code == 422

    page = signed_in
    page.goto(f"{console.url}/console/preview/inbound/monitoring")
    rows = page.locator("table.deliveries tbody tr").all_inner_texts()
    codes = [row.split("\t")[1].strip() for row in rows]
    assert {"401", "413", "422"} <= set(codes)
    assert codes[-1] in ("200", "201")
    text = page.inner_text("table.deliveries")
    assert "signature or token missing or invalid" in text
    assert "body larger than max_body_bytes" in text
    assert "payload does not match the collection's schema" in text
    # the accepted delivery links to the record it wrote
    link = page.locator("table.deliveries a[href*='/records/incidents/rec_']").first
    link.click()
    page.wait_for_url("**/records/incidents/rec_*")
    assert page.get_by_test_id("origin").inner_text() == "inbound webhook"
    assert '"title": "CPU saturation"' in page.inner_text("pre.json")
    screenshot(page, "record")


def test_inbound_cards_and_the_ingest_url_copy_button(signed_in: Any, console: Console) -> None:
    page = signed_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=console.url)
    page.goto(f"{console.url}/console/preview/inbound")
    page.bring_to_front()  # the clipboard API needs a focused document
    cards = page.locator("ul.cards > li.card")
    assert cards.count() == 2
    monitoring = cards.filter(has_text="monitoring")
    expected = f"{console.url}/inbound/preview/{console.hooks['monitoring']}/ingest"
    assert expected in monitoring.inner_text()
    assert "hmac" in monitoring.inner_text()
    assert "environments/preview/incidents.yaml:" in monitoring.inner_text()
    chatops = cards.filter(has_text="chatops")
    with console.store() as store:
        prefix = next(i.display_prefix for i in store.secret_info(
            "preview", "inbound_webhooks", "chatops") if i.status == "current")
    assert f"token {prefix}…" in chatops.inner_text()
    assert "never" in chatops.inner_text()  # not used yet
    button = monitoring.get_by_role("button", name="Copy the ingest URL of monitoring")
    button.click()
    expect(button).to_have_text("Copied")  # the clipboard promise resolved
    assert page.evaluate("navigator.clipboard.readText()") == expected
    screenshot(page, "inbound")


def test_rotating_an_inbound_token_reveals_it_once(signed_in: Any, console: Console) -> None:
    page = signed_in
    page.goto(f"{console.url}/console/preview/inbound/chatops")
    page.get_by_role("button", name="Rotate secret").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate now").click()
    page.wait_for_load_state()
    token = page.locator("#revealed-secret").inner_text().strip()
    assert token
    # the new token works at once, and the banner is gone on the next view
    body = json.dumps({"title": "From chat", "severity": "p3"}).encode()
    answer = _ingest(console, "chatops", body, {"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 201)
    screenshot(page, "inbound-rotated")
    page.goto(f"{console.url}/console/preview/inbound/chatops")
    assert page.locator("section.reveal").count() == 0
    assert token not in page.content()
    last_used = page.locator("dt:text-is('Last used') + dd").inner_text()
    assert last_used != "never" and last_used.endswith("UTC")


def test_records_are_paginated_newest_first(signed_in: Any, console: Console) -> None:
    for index in range(27):
        console.create_incident(f"Paged incident {index:02d}", "p3")
    page = signed_in
    page.goto(f"{console.url}/console/preview/records")
    row = page.locator("tr", has_text="incidents")
    assert int(row.locator("td").nth(1).inner_text()) >= 27
    # the collection's named events, with their rule as a tooltip
    events = page.locator("tr", has_text="incident.escalated").get_by_test_id("events")
    assert events.inner_text() == "incident.escalated Became a P1."
    assert events.locator("code").get_attribute("title") == (
        'on create, update; when it becomes {"severity": "p1"}')
    row.get_by_role("link", name="incidents").click()
    page.wait_for_url("**/records/incidents")
    first = page.locator("table.records tbody tr").all_inner_texts()
    assert len(first) == 25
    assert "Paged incident 26" in first[0] and "Paged incident 02" in first[24]
    screenshot(page, "records")
    page.get_by_role("link", name="Older records").click()
    page.wait_for_url("**cursor=*")
    second = page.locator("table.records tbody tr").all_inner_texts()
    assert "Paged incident 01" in second[0] and "Paged incident 00" in second[1]
    page.locator("table.records tbody a").first.click()
    assert page.get_by_test_id("origin").inner_text() == "api"
    assert '"title": "Paged incident 01"' in page.inner_text("pre.json")


def test_overview_shows_state_audit_counts_and_charts(signed_in: Any, console: Console) -> None:
    before = len(console.deliveries("flaky-sink", "failed"))
    console.create_incident("For the chart")
    wait_deliveries(console, "flaky-sink", before + 1, "failed")
    page = signed_in
    page.goto(f"{console.url}/console/preview")
    with console.store() as store:
        serial = store.serial("preview")
    assert page.get_by_test_id("serial").inner_text() == str(serial)
    state = page.locator("section", has_text="Applied state").inner_text()
    assert "by ci-bot" in state and COMMIT[:12] in state
    counts = page.locator("ul.counts").inner_text()
    assert "3\ntriggers" in counts or "3 triggers" in counts
    outbound = page.locator("svg#chart-outbound")
    assert outbound.locator("rect.ok").count() >= 1
    assert outbound.locator("rect.failed").count() >= 1
    inbound = page.locator("svg#chart-inbound")
    assert inbound.locator("rect.ok").count() >= 1
    assert inbound.locator("rect.failed").count() >= 1
    summary = outbound.locator("desc").text_content() or ""
    assert "succeeded" in summary and "failed" in summary
    screenshot(page, "overview")

    # the switcher goes to the same section of the other environment
    page.goto(f"{console.url}/console/preview/triggers")
    page.get_by_role("navigation", name="Environments").get_by_role(
        "link", name="production").click()
    page.wait_for_url("**/console/production/triggers")
    page.get_by_role("navigation", name="Sections of production").get_by_role(
        "link", name="Overview").click()
    state = page.locator("section", has_text="Applied state").inner_text()
    assert "from preview" in state and "alice" in state


def _console_paths(console: Console, page: Any) -> list[str]:
    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    delivery = page.locator("table.deliveries tbody tr[data-delivery]").first \
        .get_attribute("data-delivery")
    page.goto(f"{console.url}/console/preview/records/incidents")
    record = page.locator("table.records tbody a").first.inner_text()
    return ["/console/preview", "/console/preview/triggers",
            "/console/preview/triggers/notify-oncall",
            f"/console/preview/triggers/notify-oncall/deliveries/{delivery}",
            "/console/preview/inbound", "/console/preview/inbound/monitoring",
            "/console/preview/records", "/console/preview/records/incidents",
            f"/console/preview/records/incidents/{record}"]


def test_no_page_renders_a_secret(signed_in: Any, console: Console) -> None:
    page = signed_in
    console.create_incident("Secret scan")
    with console.store() as store:
        secrets = [
            store.read_secret("preview", "triggers", "notify-oncall", "signing_secret"),
            store.read_secret("preview", "triggers", "flaky-sink", "signing_secret"),
            store.read_secret("preview", "inbound_webhooks", "monitoring", "hmac_secret"),
        ]
    secrets += [console.api_token, ADMIN_TOKEN, URL_SECRET, HEADER_SECRET]
    for path in _console_paths(console, page):
        page.goto(f"{console.url}{path}")
        content = page.content()
        for secret in secrets:
            assert secret not in content, (path, secret[:6])


def test_pages_fit_a_phone_and_are_labelled(signed_in: Any, console: Console) -> None:
    page = signed_in
    paths = _console_paths(console, page)
    page.set_viewport_size({"width": 375, "height": 800})
    try:
        for path in paths:
            page.goto(f"{console.url}{path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (path, overflow)
            assert page.locator("h1").count() == 1, path
            unlabelled = page.evaluate("""[...document.querySelectorAll(
                'input:not([type=hidden]), select, textarea')].filter(
                e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length""")
            assert unlabelled == 0, path
            nameless = page.evaluate("""[...document.querySelectorAll('button, a')].filter(
                e => !(e.innerText || '').trim() && !e.getAttribute('aria-label')).length""")
            assert nameless == 0, path
        page.goto(f"{console.url}/console/preview")
        screenshot(page, "overview-phone")
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


def test_keyboard_reaches_the_skip_link_and_the_rotate_dialog(signed_in: Any,
                                                              console: Console) -> None:
    page = signed_in
    page.goto(f"{console.url}/console/preview/triggers/flaky-sink")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    rotate = page.get_by_role("button", name="Rotate secret")
    rotate.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    assert dialog.is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Rotate now"
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
