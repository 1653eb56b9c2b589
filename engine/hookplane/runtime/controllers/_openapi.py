"""What the controllers share to describe themselves in the generated OpenAPI document: the
error body, the statuses each route really answers, the security schemes and the request
bodies the handlers read themselves (streamed, capped, after authentication)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)


@dataclass
class FieldProblem:
    path: str
    message: str


@dataclass
class ErrorBody:
    """Every error answer: ``{"error": "…"}``; a schema mismatch (422) lists its ``fields``."""

    error: str
    fields: list[FieldProblem] | None = None


_ERRORS = {
    400: "The request is malformed: bad JSON, a bad query parameter or path value.",
    401: "Missing or invalid credentials (signature, token or API key).",
    403: "Authenticated but not allowed: scope, IP allowlist or an inactive webhook.",
    404: "No such environment, collection, resource or record.",
    405: "This inbound webhook's provider sends no GET verification request: POST only.",
    408: "The body did not arrive within the body deadline.",
    409: "Conflicts with the current state (e.g. only a failed delivery can be redelivered).",
    413: "The body is larger than the limit.",
    415: "The body is not JSON (Content-Type: application/json).",
    422: "The body does not match the collection schema or the mapping.",
    429: "Rate limited, or too many wrong credentials from this address (then the "
         "credential is not checked); Retry-After says when to try again.",
    503: "The state database is unavailable; Retry-After says when to try again.",
}


def documented(*errors: int, answer: tuple[int, Any, str] | None = None,
               answers: Sequence[tuple[int, Any, str]] = (),
               **success: str) -> dict[int, ResponseSpec]:
    """OpenAPI answers of a route: the error statuses it really sends (body ``ErrorBody``),
    its typed success ``answer`` or ``answers`` (status, model or union of models,
    description) and extra success statuses (``s200="…"``) with a JSON object body."""
    specs = {int(code[1:]): ResponseSpec(data_container=dict[str, Any], description=text,
                                         generate_examples=False)
             for code, text in success.items()}
    for status, model, text in (*answers, *([answer] if answer is not None else [])):
        specs[status] = ResponseSpec(data_container=model, description=text,
                                     generate_examples=False)
    specs.update({code: ResponseSpec(data_container=ErrorBody, description=_ERRORS[code],
                                     generate_examples=False)
                  for code in errors})
    return specs


ADMIN_ERRORS = (400, 401, 404, 409, 429, 503)
RECORD_READ_ERRORS = (400, 401, 403, 404, 429, 503)
RECORD_WRITE_ERRORS = (400, 401, 403, 404, 408, 409, 413, 422, 429, 503)

# --------------------------------------------------------------------------- security

API_KEY = "apiKey"
ADMIN_TOKEN = "adminToken"
INBOUND_TOKEN = "inboundToken"
INBOUND_SIGNATURE = "inboundSignature"

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    API_KEY: SecurityScheme(
        type="http", scheme="bearer", bearer_format="hpt_…",
        description="A records API key (`Authorization: Bearer hpt_…`), applied from the "
                    "environment's api_keys; its scopes say which collections it may read "
                    "or write. Wrong keys from one address are throttled (429)."),
    ADMIN_TOKEN: SecurityScheme(
        type="http", scheme="bearer",
        description="`Authorization: Bearer $HOOKPLANE_ADMIN_TOKEN`; the management API is "
                    "off (404) when no admin token is configured."),
    INBOUND_TOKEN: SecurityScheme(
        type="http", scheme="bearer",
        description="Inbound webhooks with `auth.type: bearer`: the token issued at apply "
                    "(and, with `signature: {}`, a body signature as well)."),
    INBOUND_SIGNATURE: SecurityScheme(
        type="apiKey", security_scheme_in="header", name="X-Signature",
        description="Inbound webhooks with a signature (the other `auth.type`s): an HMAC of "
                    "the body keyed with the webhook's secret, in the header its type names "
                    "— `hmac`: `auth.header` (default X-Signature), `static_header`: the "
                    "shared value in `auth.header`, `standard_webhooks`: webhook-signature, "
                    "`github`: X-Hub-Signature-256, `stripe`: Stripe-Signature, `slack`: "
                    "X-Slack-Signature, `shopify`: X-Shopify-Hmac-Sha256, `pagerduty`: "
                    "X-PagerDuty-Signature, `zoom`: x-zm-signature, `twitch`: "
                    "Twitch-Eventsub-Message-Signature."),
}

API_KEY_SECURITY: tuple[SecurityRequirement, ...] = ({API_KEY: []},)
ADMIN_SECURITY: tuple[SecurityRequirement, ...] = ({ADMIN_TOKEN: []},)
INBOUND_SECURITY: tuple[SecurityRequirement, ...] = ({INBOUND_SIGNATURE: []},
                                                     {INBOUND_TOKEN: []})


def components() -> Components:
    return Components(security_schemes=dict(SECURITY_SCHEMES))


# --------------------------------------------------------------------------- bodies

JSON_OBJECT = Schema(type=OpenAPIType.OBJECT, additional_properties=True)


TEXT = "text/plain"


def with_body(description: str, content: dict[str, Schema], *,
              also_text: tuple[int, ...] = ()) -> type[Operation]:
    """An ``operation_class`` documenting the body a handler reads itself (from the stream,
    within its limits, once the caller is authenticated), which Litestar cannot see; the
    statuses in ``also_text`` may answer ``text/plain`` too (a provider's challenge,
    echoed), besides their documented JSON."""
    body = RequestBody(content={media: OpenAPIMediaType(schema=schema)
                                for media, schema in content.items()},
                       description=description, required=True)

    @dataclass
    class _WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body
            for status in also_text:
                answer = (self.responses or {}).get(str(status))
                if isinstance(answer, OpenAPIResponse):
                    answer.content = {**(answer.content or {}), TEXT: OpenAPIMediaType(
                        schema=Schema(type=OpenAPIType.STRING))}

    return _WithBody
