"""``/api/{environment}/collections/{collection}/records``: the records API (API keys)."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, QueryParameter

from hookplane.errors import BadRequest, BodyTimeout, BodyTooLarge
from hookplane.runtime.controllers._base import BaseController
from hookplane.runtime.controllers._openapi import (
    API_KEY_SECURITY,
    JSON_OBJECT,
    RECORD_READ_ERRORS,
    RECORD_WRITE_ERRORS,
    documented,
    with_body,
)
from hookplane.runtime.controllers.deps import RecordsDep, provide, provide_records
from hookplane.runtime.controllers.models import Record, RecordPage
from hookplane.runtime.ingest import BODY_SECONDS, parse_json, read_capped
from hookplane.runtime.records import Caller
from hookplane.runtime.tracing import TRACE_HEADERS

RECORD_BODY_BYTES = 1_048_576
"""Largest records API body (the same default as an inbound webhook's ``max_body_bytes``)."""

_RECORD = with_body("The record's data: a JSON object, validated against the collection's "
                    "schema.", {"application/json": JSON_OBJECT})
_MERGE_PATCH = with_body("A JSON merge patch (RFC 7396) of the record's data: objects merge, "
                         "`null` removes a field; the result is validated against the "
                         "collection's schema.", {"application/json": JSON_OBJECT})


def _caller(request: Request[Any, Any, Any]) -> Caller:
    """The records API's caller: its bearer token (None when it sent none) and address."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    trace = {name: request.headers[name] for name in TRACE_HEADERS if name in request.headers}
    return Caller(token.strip() if scheme.lower() == "bearer" and token.strip() else None,
                  request.client.host if request.client else None, trace=trace or None)


def _origin(request: Request[Any, Any, Any]) -> str:
    return "hook" if request.headers.get("x-hookplane-source", "").lower() == "hook" else "api"


async def _read_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The JSON object of a create/update, within ``RECORD_BODY_BYTES`` (413) and the ingest
    body deadline (408)."""
    too_large = f"body larger than {RECORD_BODY_BYTES} bytes"
    try:
        declared = request.content_length or 0
    except Exception:  # a garbled Content-Length: read and cap the body instead
        declared = 0
    if declared > RECORD_BODY_BYTES:
        raise BodyTooLarge(too_large)
    try:
        with anyio.fail_after(BODY_SECONDS):
            body = await read_capped(request.stream(), RECORD_BODY_BYTES)
    except BodyTooLarge as exc:
        raise BodyTooLarge(too_large) from exc
    except TimeoutError as exc:
        raise BodyTimeout(f"the body did not arrive within {BODY_SECONDS:g}s") from exc
    except Exception as exc:
        raise BadRequest("could not read the body") from exc
    try:
        data = parse_json(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _written(record: dict[str, Any], status: int, origin: str) -> Response[Any]:
    return Response(content=record, status_code=status, headers={"X-Hookplane-Source": origin},
                    media_type="application/json")


class RecordsController(BaseController):
    path = "/api/{environment:str}/collections/{collection:str}/records"
    tags = ("records",)
    security = API_KEY_SECURITY
    dependencies = provide(records=provide_records)

    @post(status_code=201, operation_class=_RECORD,
          responses=documented(*RECORD_WRITE_ERRORS,
                               answer=(201, Record, "Created: the new record.")))
    async def create_record(self, request: Request[Any, Any, Any], environment: FromPath[str],
                            collection: FromPath[str], records: RecordsDep,
                            ) -> Response[Any]:
        """Create a record (validated against the collection schema)."""
        caller, origin = _caller(request), _origin(request)
        records.authorise(environment, collection, caller, "write")  # before the body
        data = await _read_object(request)
        return _written(await records.create(environment, collection, caller, data,
                                             origin=origin), 201, origin)

    @get(responses=documented(*RECORD_READ_ERRORS,
                              answer=(200, RecordPage, "A page of records.")))
    async def list_records(
        self, request: Request[Any, Any, Any], environment: FromPath[str],
        collection: FromPath[str], *, records: RecordsDep,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """List records, newest first; any other query parameter filters by field
        equality."""
        filters = {k: v for k, v in request.query_params.items()
                   if k not in ("limit", "cursor")}
        page = await records.list(environment, collection, _caller(request), filters=filters,
                                  limit=limit, cursor=cursor)
        return Response(content=page, status_code=200, media_type="application/json")

    @get("/{record_id:str}", responses=documented(*RECORD_READ_ERRORS,
                                                  answer=(200, Record, "The record.")))
    async def get_record(self, request: Request[Any, Any, Any], environment: FromPath[str],
                         collection: FromPath[str], record_id: FromPath[str],
                         records: RecordsDep) -> Response[Any]:
        """Read one record."""
        record = await records.get(environment, collection, _caller(request), record_id)
        return Response(content=record, status_code=200, media_type="application/json")

    @patch("/{record_id:str}", operation_class=_MERGE_PATCH,
           responses=documented(*RECORD_WRITE_ERRORS,
                                answer=(200, Record, "Updated: the record as it is now.")))
    async def update_record(self, request: Request[Any, Any, Any], environment: FromPath[str],
                            collection: FromPath[str], record_id: FromPath[str],
                            records: RecordsDep) -> Response[Any]:
        """Update a record with a JSON merge patch (RFC 7396)."""
        caller, origin = _caller(request), _origin(request)
        records.authorise(environment, collection, caller, "write")  # before the body
        data = await _read_object(request)
        return _written(await records.update(environment, collection, caller, record_id,
                                             data, origin=origin), 200, origin)

    @delete("/{record_id:str}", status_code=200,
            responses=documented(*RECORD_READ_ERRORS, 409, answer=(
                200, Record, "Deleted: the record with its `deleted_at`.")))
    async def delete_record(self, request: Request[Any, Any, Any], environment: FromPath[str],
                            collection: FromPath[str], record_id: FromPath[str],
                            records: RecordsDep) -> Response[Any]:
        """Soft-delete a record."""
        origin = _origin(request)
        return _written(await records.delete(environment, collection, _caller(request),
                                             record_id, origin=origin), 200, origin)
