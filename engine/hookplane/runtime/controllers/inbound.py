"""``/inbound/{environment}/{webhook_id}/ingest``: inbound deliveries.

The hot path: one injected :class:`IngestService` call, and its outcome written out. A
second method on the same path (a provider's ``GET`` handshake) is one more handler here
that calls the service and answers with :func:`_answer`.
"""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from hookplane.runtime.controllers._base import BaseController
from hookplane.runtime.controllers._openapi import (
    INBOUND_SECURITY,
    JSON_OBJECT,
    documented,
    with_body,
)
from hookplane.runtime.controllers.deps import IngestDep, provide, provide_ingest
from hookplane.runtime.controllers.models import IngestAnswer, JobQueued, Stored
from hookplane.runtime.ingest import Arrival, Outcome

MAX_INGEST_BODY = 64 * 1024 * 1024
"""Upper bound for the route; each webhook's own ``max_body_bytes`` is enforced while reading."""

_DELIVERY = with_body(
    "The provider's delivery: a JSON object (an array for `hubspot`, `sendgrid`), or a "
    "form for `slack`, `github`, `twilio` (`payload=` holding JSON, or flat fields). Read "
    "up to the webhook's "
    "`max_body_bytes`, and verified against its auth before it is parsed.",
    {"application/json": JSON_OBJECT,
     "application/x-www-form-urlencoded": Schema(type=OpenAPIType.OBJECT,
                                                 additional_properties=True)},
    also_text=(200,))

_INGEST_ANSWERS = documented(
    400, 401, 403, 404, 408, 413, 415, 422, 429, 503,
    answers=((201, Stored, "Stored: a new record."),
             (202, JobQueued, "Accepted: a hydration or invoke job was queued."),
             (200, IngestAnswer,
              "Updated, a duplicate delivery, or a provider handshake answered without a "
              "record (Slack url_verification, Zoom endpoint.url_validation, Discord PING; "
              "Discord's deferred answer to a stored interaction). Twitch's "
              "webhook_callback_verification and Microsoft Graph's validationToken are "
              "answered with the challenge as text/plain.")),
) | {204: ResponseSpec(data_container=None, generate_examples=False,
                       description="A Twitch revocation, logged; no record.")}
"""The ingest's answers: typed JSON bodies (``models``), the errors' ``ErrorBody``."""

_HANDSHAKE_ANSWERS = documented(400, 403, 404, 405, 429, 503) | {
    200: ResponseSpec(data_container=str, media_type=MediaType.TEXT, generate_examples=False,
                      description="The provider's challenge, echoed as text/plain (Meta's "
                                  "hub.challenge once hub.verify_token matches, Dropbox's "
                                  "challenge).")}


def _arrival(request: Request[Any, Any, Any]) -> Arrival:
    """Method, raw path and raw query: the URL-signing presets rebuild the signed URL."""
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else str(raw_path)
    query = request.scope.get("query_string", b"")
    return Arrival(method=request.method, path=path,
                   query=query.decode("latin-1") if isinstance(query, bytes) else str(query))


def _answer(outcome: Outcome) -> Response[Any]:
    if outcome.text is not None:
        return Response(content=outcome.text, status_code=outcome.status,
                        headers=outcome.headers, media_type="text/plain")
    if outcome.status == 204:
        return Response(content=b"", status_code=204, headers=outcome.headers)
    return Response(content=outcome.body, status_code=outcome.status, headers=outcome.headers,
                    media_type="application/json")


class InboundController(BaseController):
    path = "/inbound/{environment:str}/{webhook_id:str}/ingest"
    tags = ("inbound",)
    security = INBOUND_SECURITY
    dependencies = provide(ingest_service=provide_ingest)

    @post(request_max_body_size=MAX_INGEST_BODY, status_code=200, operation_class=_DELIVERY,
          responses=_INGEST_ANSWERS)
    async def ingest(self, request: Request[Any, Any, Any], environment: FromPath[str],
                     webhook_id: FromPath[str], ingest_service: IngestDep,
                     ) -> Response[Any]:
        """Receive a delivery for an inbound webhook (JSON, or a form for ``slack``,
        authenticated per its auth type); provider handshakes are answered without a
        record."""
        try:
            length = request.content_length
        except Exception:  # a garbled Content-Length: read and cap the body instead
            length = None
        peer = request.client.host if request.client else None
        return _answer(await ingest_service.handle(
            environment, webhook_id, peer=peer, headers=request.headers,
            content_length=length, chunks=request.stream(), arrival=_arrival(request)))

    @get(responses=_HANDSHAKE_ANSWERS)
    async def handshake(self, request: Request[Any, Any, Any], environment: FromPath[str],
                        webhook_id: FromPath[str], ingest_service: IngestDep,
                        ) -> Response[Any]:
        """A provider's verification request (``meta``: ``hub.mode=subscribe&hub.verify_token=…
        &hub.challenge=…``; ``dropbox``: ``?challenge=…``); any other type answers 405."""
        peer = request.client.host if request.client else None
        return _answer(await ingest_service.handle(
            environment, webhook_id, peer=peer, headers=request.headers,
            content_length=None, chunks=request.stream(), arrival=_arrival(request)))
