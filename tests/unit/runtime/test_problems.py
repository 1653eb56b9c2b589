"""The one table from domain errors to statuses, through a real Litestar app: a refusal
answers its status, message and headers; an error the table does not name is a bug (500,
its message kept out of the answer), never a 400."""

from __future__ import annotations

import logging

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from hookplane import errors
from hookplane.runtime.problems import STATUSES, json_error, status_of

CASES: list[tuple[Exception, int, dict[str, str]]] = [
    (errors.BadRequest("the body must be a JSON object"), 400, {}),
    (errors.InvalidQuery("bad cursor"), 400, {}),
    (errors.NotAuthenticated("invalid API key"), 401, {"www-authenticate": "Bearer"}),
    (errors.NotPermitted("lacks the 'write' scope"), 403, {}),
    (errors.NotFound("no collection 'x'"), 404, {}),
    (errors.RecordNotFound("no record 'r'"), 404, {}),
    (errors.BodyTimeout("the body did not arrive within 30s"), 408, {}),
    (errors.Conflict("only a failed delivery can be redelivered"), 409, {}),
    (errors.SecretError("no generated secret"), 409, {}),
    (errors.TriggerNotFound("no trigger 't'"), 409, {}),
    (errors.BodyTooLarge("body larger than 10 bytes"), 413, {}),
    (errors.Throttled("too many wrong API keys", retry_after=7), 429, {"retry-after": "7"}),
]


def _raising(exc: Exception) -> TestClient[Litestar]:
    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise exc

    return TestClient(Litestar([boom], exception_handlers={Exception: json_error}))


@pytest.mark.parametrize(("exc", "status", "headers"), CASES,
                         ids=[type(c[0]).__name__ for c in CASES])
def test_a_refusal_answers_its_status(exc: Exception, status: int,
                                      headers: dict[str, str]) -> None:
    with _raising(exc) as http:
        answer = http.get("/boom")
    assert answer.status_code == status
    assert answer.json() == {"error": str(exc)}
    for name, value in headers.items():
        assert answer.headers[name] == value


def test_a_schema_mismatch_lists_its_fields() -> None:
    fields = [{"path": "$.severity", "message": "'p9' is not one of ['p1', 'p2']"}]
    with _raising(errors.InvalidPayload("record does not match", fields=fields)) as http:
        answer = http.get("/boom")
    assert answer.status_code == 422
    assert answer.json() == {"error": "record does not match", "fields": fields}


def test_database_unavailable_is_503_with_retry_after_and_no_detail() -> None:
    with _raising(errors.DatabaseUnavailable("postgresql://user:pw@db failed")) as http:
        answer = http.get("/boom")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert answer.json() == {"error": "state database unavailable; try again"}


@pytest.mark.parametrize("exc", [errors.HookplaneError("secret-ish detail"),
                                 errors.ConfigError([]), errors.MappingError("detail"),
                                 RuntimeError("detail")])
def test_an_error_the_table_does_not_name_is_500(exc: Exception) -> None:
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    logger = logging.getLogger("hookplane.runtime")
    with _raising(exc) as http:  # (Litestar's logging set-up replaces the root's handlers)
        logger.addHandler(handler)
        try:
            answer = http.get("/boom")
        finally:
            logger.removeHandler(handler)
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error"}
    assert [(r.getMessage(), r.exc_info and r.exc_info[1]) for r in logged] == [
        ("unhandled error on /boom", exc)]


def test_every_entry_is_a_domain_error_and_the_nearest_class_wins() -> None:
    assert all(issubclass(kind, errors.HookplaneError) for kind in STATUSES)
    assert status_of(errors.EgressTimeout("x")) == STATUSES[errors.DeliveryError]
    assert status_of(errors.StateError("x")) == 500
    assert status_of(errors.RequestRefused("x")) == 500
