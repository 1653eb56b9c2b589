"""OpenTelemetry: spans per ingest, record write, delivery attempt and job, and the W3C
``traceparent`` carried from an inbound request to the deliveries it causes — across the
outbox, on a real server, with real receivers on 127.0.0.1 and the SDK's in-memory exporter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from hookplane.runtime.app import create_app
from hookplane.runtime.tracing import OFF, Tracing, TracingError, tracing_from_env
from hookplane.state.store import Store
from tests.integration.runtime.conftest import Runtime
from tests.integration.runtime.harness import AppServer, Peer, Seen, apply_environment, wait_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
SECRET = "tracing-test-hmac-secret-0123456789"


def _project(upstream: str, receiver: str) -> str:
    return textwrap.dedent(f"""\
        collections:
          incidents:
            schema: {{type: object, properties: {{title: {{type: string}}}}}}
          tasks:
            schema: {{type: object, properties: {{title: {{type: string}}}}}}
        sources:
          tracker:
            collection: tasks
            base_url: {upstream}
            read: {{path: "/tasks/{{id}}"}}
        inbound_webhooks:
          alerts:
            collection: incidents
            auth: {{type: hmac, header: X-Signature, secret: "${{env:TRACE_HOOK_SECRET}}"}}
          task-events:
            collection: tasks
            auth: {{type: hmac, header: X-Signature, secret: "${{env:TRACE_HOOK_SECRET}}"}}
            source_binding: {{collection: tasks, source: tracker}}
            hydration: {{id_path: id}}
        triggers:
          notify:
            collection: incidents
            events: [create, update]
            url: {receiver}/notify
            skip_inbound_webhook_writes: false
          task-notify:
            collection: tasks
            events: [create]
            url: {receiver}/tasks
            skip_inbound_webhook_writes: false
        api_keys:
          writer: {{scopes: [write]}}
        """)


@dataclass
class Traced:
    server: AppServer
    http: httpx.Client
    exporter: InMemorySpanExporter
    upstream: Peer
    receiver: Peer
    hooks: dict[str, str]
    api_key: str

    def post(self, hook: str, payload: dict[str, Any], **headers: str) -> httpx.Response:
        body = json.dumps(payload).encode()
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return self.http.post(f"/inbound/preview/{self.hooks[hook]}/ingest", content=body,
                              headers={"Content-Type": "application/json",
                                       "X-Signature": signature, **headers})

    def spans(self, name: str, trace_id: int) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans()
                if s.name == name and s.context.trace_id == trace_id]


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    monkeypatch = pytest.MonkeyPatch()
    root: Path = tmp_path_factory.mktemp("tracing")
    upstream, receiver = Peer().start(), Peer().start()
    upstream.routes["*"] = lambda seen: (200, {"id": seen.path.rsplit("/", 1)[-1],
                                               "title": "fetched"})
    receiver.routes["*"] = lambda _: (200, {"ok": True})
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(_project(upstream.url, receiver.url))
    environ = {"TRACE_HOOK_SECRET": SECRET}
    monkeypatch.setenv("TRACE_HOOK_SECRET", SECRET)
    monkeypatch.setenv("HOOKPLANE_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    url = f"sqlite:///{root / 'state.db'}"
    apply_environment(root, url, "preview", environ)
    with Store.open(url, root=root) as store:
        hooks = {r.name: r.id for r in store.snapshot("preview").resources.values()
                 if r.kind == "inbound_webhooks"}
        api_key = store.reveal_token("preview", "api_keys", "writer")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(database_url=url, root=root, admin_token="admin-token-for-tests-0123456789",
                     reload_interval=0.2, tracing=Tracing(provider))
    server = AppServer(app).start()
    http = httpx.Client(base_url=server.url, timeout=10)
    try:
        yield Traced(server, http, exporter, upstream, receiver, hooks, api_key)
    finally:
        http.close()
        server.stop()
        upstream.stop()
        receiver.stop()
        monkeypatch.undo()


def _traceparent(seen: Seen) -> tuple[str, str]:
    """(trace id, parent span id) of the ``traceparent`` a peer received."""
    value = {k.lower(): v for k, v in seen.headers.items()}["traceparent"]
    version, trace_id, span_id, flags = value.split("-")
    assert version == "00" and int(flags, 16) & 1, value  # sampled
    return trace_id, span_id


def test_an_inbound_trace_reaches_the_delivery_it_causes(traced: Traced) -> None:
    answer = traced.post("alerts", {"title": "disk full"}, traceparent=TRACEPARENT)
    assert answer.status_code == 201, answer.text
    delivered = wait_for(lambda: [s for s in traced.receiver.seen
                                  if s.path == "/notify" and b"disk full" in s.body])
    trace_id, sent_from = _traceparent(delivered[0])
    assert trace_id == TRACE_ID  # the receiver continues the sender's trace

    trace = int(TRACE_ID, 16)
    ingest = wait_for(lambda: traced.spans("hookplane.ingest", trace))[0]
    write = traced.spans("hookplane.record.write", trace)[0]
    delivery = wait_for(lambda: traced.spans("hookplane.delivery", trace))[0]
    assert ingest.kind is SpanKind.SERVER and ingest.parent is not None
    assert ingest.parent.span_id == int(CALLER_SPAN, 16) and ingest.parent.is_remote
    assert write.parent is not None and write.parent.span_id == ingest.context.span_id
    # the delivery was sent by the dispatcher, after the write committed, from the outbox
    assert delivery.kind is SpanKind.CLIENT and delivery.parent is not None
    assert delivery.parent.span_id == write.context.span_id
    assert f"{delivery.context.span_id:016x}" == sent_from
    assert ingest.attributes is not None and write.attributes is not None
    assert ingest.attributes["hookplane.inbound_webhook"] == traced.hooks["alerts"]
    assert ingest.attributes["hookplane.status_code"] == 201
    assert write.attributes["hookplane.collection"] == "incidents"
    assert write.attributes["hookplane.deliveries_queued"] is True
    assert delivery.attributes is not None
    assert delivery.attributes["hookplane.trigger"] == "notify"
    assert delivery.attributes["hookplane.status_code"] == 200
    assert delivery.attributes["hookplane.attempt"] == 1
    assert delivery.status.status_code is StatusCode.UNSET


def test_a_job_continues_the_trace_and_sends_it_to_the_source(traced: Traced) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    answer = traced.post("task-events", {"id": "T-7"},
                         traceparent=f"00-{trace_id}-b7ad6b7169203331-01")
    assert answer.status_code == 202, answer.text
    fetched = wait_for(lambda: [s for s in traced.upstream.seen if s.path == "/tasks/T-7"])
    delivered = wait_for(lambda: [s for s in traced.receiver.seen if s.path == "/tasks"])
    trace = int(trace_id, 16)
    ingest = wait_for(lambda: traced.spans("hookplane.ingest", trace))[0]
    job = wait_for(lambda: traced.spans("hookplane.job", trace))[0]
    write = traced.spans("hookplane.record.write", trace)[0]
    delivery = wait_for(lambda: traced.spans("hookplane.delivery", trace))[0]
    assert job.parent is not None and job.parent.span_id == ingest.context.span_id
    assert job.attributes is not None and job.attributes["hookplane.job_kind"] == "hydrate"
    assert _traceparent(fetched[0]) == (trace_id, f"{job.context.span_id:016x}")
    assert write.parent is not None and write.parent.span_id == job.context.span_id
    assert delivery.parent is not None and delivery.parent.span_id == write.context.span_id
    assert _traceparent(delivered[-1]) == (trace_id, f"{delivery.context.span_id:016x}")


def test_a_records_api_write_continues_the_callers_trace(traced: Traced) -> None:
    trace_id = "5b8efff798038103d269b633813fc60c"
    created = traced.http.post("/api/preview/collections/incidents/records",
                               json={"title": "from the API"},
                               headers={"Authorization": f"Bearer {traced.api_key}",
                                        "traceparent": f"00-{trace_id}-eee19b7ec3c1b174-01"})
    assert created.status_code == 201, created.text
    delivered = wait_for(lambda: [s for s in traced.receiver.seen
                                  if s.path == "/notify" and b"from the API" in s.body])
    assert _traceparent(delivered[0])[0] == trace_id
    write = traced.spans("hookplane.record.write", int(trace_id, 16))[0]
    assert write.parent is not None and write.parent.span_id == int("eee19b7ec3c1b174", 16)


def test_a_failed_attempt_is_an_error_span_and_a_new_trace_without_a_caller(
        traced: Traced) -> None:
    traced.receiver.routes["/notify"] = lambda _: (500, {"error": "down"})
    try:
        answer = traced.post("alerts", {"title": "no caller trace"})
        assert answer.status_code == 201
        delivered = wait_for(lambda: [s for s in traced.receiver.seen
                                      if b"no caller trace" in s.body])
        trace_id, _ = _traceparent(delivered[0])
        delivery = wait_for(lambda: traced.spans("hookplane.delivery", int(trace_id, 16)))[0]
        ingest = traced.spans("hookplane.ingest", int(trace_id, 16))[0]
        assert ingest.parent is None  # the trace starts at Hookplane's ingest
        assert delivery.status.status_code is StatusCode.ERROR
        assert delivery.attributes is not None
        assert delivery.attributes["hookplane.status_code"] == 500
    finally:
        traced.receiver.routes["/notify"] = lambda _: (200, {"ok": True})


def test_a_malformed_traceparent_starts_a_new_trace(traced: Traced) -> None:
    answer = traced.post("alerts", {"title": "garbled"}, traceparent="00-zz-not-a-trace")
    assert answer.status_code == 201
    delivered = wait_for(lambda: [s for s in traced.receiver.seen if b"garbled" in s.body])
    trace_id, _ = _traceparent(delivered[0])
    assert len(trace_id) == 32 and trace_id != "0" * 32


# ------------------------------------------------------------------ off unless configured


def test_without_configuration_no_trace_header_is_sent(runtime: Runtime) -> None:
    """The shared runtime fixture runs without OTEL_* variables: nothing is traced and an
    inbound traceparent is not passed on."""
    rt = runtime
    rt.receiver.routes["/hooks/all"] = lambda _: (204, b"")
    writer = {"Authorization": f"Bearer {rt.token('api_keys', 'writer')}",
              "traceparent": TRACEPARENT}
    created = rt.http.post("/api/preview/collections/incidents/records",
                           json={"title": "untraced", "severity": "p3"}, headers=writer)
    assert created.status_code == 201, created.text
    delivered = wait_for(lambda: [s for s in rt.receiver.seen if b"untraced" in s.body])
    assert all("traceparent" not in {k.lower() for k in s.headers} for s in delivered)


@pytest.mark.parametrize("environ", [
    {}, {"OTEL_TRACES_EXPORTER": "none"},
    {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"},
    {"OTEL_SERVICE_NAME": "hookplane"},
], ids=["nothing", "exporter-none", "sdk-disabled", "service-name-only"])
def test_tracing_is_off_unless_an_exporter_is_configured(environ: dict[str, str]) -> None:
    assert tracing_from_env(environ) is OFF


def test_an_unknown_exporter_or_protocol_stops_start_up_with_a_reason() -> None:
    with pytest.raises(TracingError, match="unknown exporter 'jaeger'"):
        tracing_from_env({"OTEL_TRACES_EXPORTER": "jaeger"})
    with pytest.raises(TracingError, match="http/protobuf"):
        tracing_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


def test_the_otlp_endpoint_variable_exports_spans_to_a_collector() -> None:
    """``OTEL_EXPORTER_OTLP_ENDPOINT`` alone turns tracing on: spans are POSTed as OTLP
    protobuf to ``/v1/traces`` of a collector (here a real HTTP peer on 127.0.0.1)."""
    collector = Peer().start()
    collector.routes["/v1/traces"] = lambda _: (200, b"")
    try:
        tracing = tracing_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                                    "OTEL_SERVICE_NAME": "hookplane-test"})
        assert tracing.enabled
        with tracing.span("hookplane.job", attributes={"hookplane.job_kind": "invoke"}):
            pass
        tracing.shutdown()  # flushes the batch
        exported = [s for s in collector.seen if s.path == "/v1/traces"]
        assert exported and exported[0].method == "POST"
        headers = {k.lower(): v for k, v in exported[0].headers.items()}
        assert headers["content-type"] == "application/x-protobuf"
        assert b"hookplane.job" in exported[0].body and b"hookplane-test" in exported[0].body
    finally:
        collector.stop()


def test_a_traceparent_sent_twice_with_different_values_is_not_trusted() -> None:
    """Every line of the header is read: two different ``traceparent`` lines (which one a
    proxy keeps differs) continue neither; one line, or the same value twice, is used."""
    from multidict import CIMultiDict

    from hookplane.runtime.tracing import _Headers

    other = f"00-{'1' * 32}-{'2' * 16}-01"
    assert _Headers(CIMultiDict([("Traceparent", TRACEPARENT), ("traceparent", other)])) == {}
    assert _Headers(CIMultiDict([("traceparent", TRACEPARENT)] * 2)) == {
        "traceparent": TRACEPARENT}
    assert _Headers({"TraceParent": TRACEPARENT}) == {"traceparent": TRACEPARENT}
