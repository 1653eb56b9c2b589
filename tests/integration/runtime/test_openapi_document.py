"""The runtime's OpenAPI document is generated from the controllers: every operation that
reads a body documents it, and the security schemes are declared and referenced (the
records API and the admin API: bearer tokens; the inbound endpoint: its signature or
token)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from litestar.testing import TestClient

from hookplane.runtime.app import create_app
from tests.integration.runtime.conftest import ENVIRON, Runtime

BODILESS = {
    # admin actions take their arguments in the path and the query, never a body
    ("post", "/admin/{environment}/inbound-webhooks/{name}/rotate-secret"),
    ("post", "/admin/{environment}/triggers/{name}/rotate-secret"),
    ("post", "/admin/{environment}/triggers/{name}/test"),
    ("post", "/admin/{environment}/triggers/{name}/recover"),
    ("post", "/admin/{environment}/triggers/{name}/enable"),
    ("post", "/admin/{environment}/deliveries/{delivery_id}/redeliver"),
}
SCHEMES = {"/api/": [{"apiKey": []}], "/admin/": [{"adminToken": []}],
           "/inbound/": [{"inboundSignature": []}, {"inboundToken": []}]}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("openapi")
    app = create_app(database_url=f"sqlite:///{root / 'state.db'}", root=Path(root),
                     admin_token="admin-token-for-tests-0123456789", run_jobs=False)
    with TestClient(app) as http:
        answer = http.get("/schema/openapi.json")
        assert answer.status_code == 200
        yield answer.json()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()
            if method in ("get", "post", "put", "patch", "delete")]


def test_every_operation_with_a_body_documents_it(document: dict[str, Any]) -> None:
    writes = [(m, p, op) for m, p, op in _operations(document) if m in ("post", "put", "patch")]
    assert len(writes) >= 9
    missing = [(m, p) for m, p, op in writes if (m, p) not in BODILESS
               and not (op.get("requestBody") or {}).get("content")]
    assert missing == []
    assert {(m, p) for m, p, op in writes if "requestBody" not in op} == BODILESS
    ingest = document["paths"]["/inbound/{environment}/{webhook_id}/ingest"]["post"]
    assert set(ingest["requestBody"]["content"]) == {"application/json",
                                                     "application/x-www-form-urlencoded"}
    create = document["paths"]["/api/{environment}/collections/{collection}/records"]["post"]
    assert create["requestBody"]["required"] is True
    assert create["requestBody"]["content"]["application/json"]["schema"]["type"] == "object"


def test_security_schemes_are_declared_and_referenced(document: dict[str, Any]) -> None:
    declared = document["components"]["securitySchemes"]
    assert declared["apiKey"] == {**declared["apiKey"], "type": "http", "scheme": "bearer"}
    assert declared["adminToken"]["scheme"] == "bearer"
    assert declared["inboundToken"]["scheme"] == "bearer"
    assert declared["inboundSignature"]["type"] == "apiKey"
    assert declared["inboundSignature"]["in"] == "header"
    referenced: set[str] = set()
    for method, path, operation in _operations(document):
        security = operation.get("security")
        expected = next((s for prefix, s in SCHEMES.items() if path.startswith(prefix)), None)
        assert security == expected, (method, path)
        referenced |= {name for requirement in security or [] for name in requirement}
    assert referenced == set(declared)


def test_records_and_admin_answers_are_typed_models(document: dict[str, Any]) -> None:
    untyped = []
    for method, path, operation in _operations(document):
        if not path.startswith(("/api/", "/admin/")):
            continue
        success = min(code for code in operation["responses"] if code.startswith("2"))
        schema = operation["responses"][success]["content"]["application/json"]["schema"]
        if "$ref" not in schema:
            untyped.append((method, path))
    assert untyped == []
    record = document["components"]["schemas"]["Record"]
    assert set(record["required"]) == {"id", "collection", "external_id", "data", "origin",
                                       "version", "created_at", "updated_at", "deleted_at"}
    page = document["components"]["schemas"]["RecordPage"]
    assert page["properties"]["data"]["items"] == {"$ref": "#/components/schemas/Record"}


INGEST = "/inbound/{environment}/{webhook_id}/ingest"
ANSWERS_200 = {"Stored", "Duplicate", "SlackChallenge", "ZoomValidation", "DiscordResponse"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def test_ingest_answers_are_typed_models(document: dict[str, Any]) -> None:
    ingest = document["paths"][INGEST]["post"]["responses"]
    json_of = {code: (answer.get("content") or {}).get("application/json", {}).get("schema")
               for code, answer in ingest.items()}
    assert json_of["201"] == _ref("Stored")
    assert json_of["202"] == _ref("JobQueued")
    assert json_of["200"] == {"oneOf": [_ref(name) for name in (
        "Stored", "Duplicate", "SlackChallenge", "ZoomValidation", "DiscordResponse")]}
    assert ingest["200"]["content"]["text/plain"]["schema"] == {"type": "string"}
    assert "content" not in ingest["204"]
    errors = {code for code in ingest if code[0] in "45"}
    assert errors == {"400", "401", "403", "404", "408", "413", "415", "422", "429", "503"}
    assert {code: json_of[code] for code in errors} == {code: _ref("ErrorBody")
                                                        for code in errors}
    handshake = document["paths"][INGEST]["get"]["responses"]
    assert handshake["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}

    schemas = document["components"]["schemas"]
    assert set(schemas["Stored"]["required"]) == {"status", "record_id", "collection"}
    assert schemas["Stored"]["properties"]["status"]["enum"] == ["created", "updated"]
    assert set(schemas["Stored"]["properties"]) == {"status", "record_id", "collection",
                                                    "delivery_id"}
    assert schemas["Duplicate"]["properties"]["status"]["const"] == "duplicate"
    assert set(schemas["Duplicate"]["required"]) == {"status", "delivery_id"}
    assert set(schemas["JobQueued"]["required"]) == {"status", "job_id"}
    assert set(schemas["SlackChallenge"]["required"]) == {"challenge"}
    assert set(schemas["ZoomValidation"]["required"]) == {"plainToken", "encryptedToken"}
    assert set(schemas["DiscordResponse"]["required"]) == {"type"}
    assert schemas["ErrorBody"]["required"] == ["error"]
    fields = schemas["ErrorBody"]["properties"]["fields"]["oneOf"][0]
    assert fields["items"] == _ref("FieldProblem")
    assert set(schemas["FieldProblem"]["required"]) == {"path", "message"}


def _closed(document: dict[str, Any]) -> dict[str, Any]:
    """The document's components, each model closed (``additionalProperties: false``): a
    key on the wire that its model does not name is a mismatch too."""
    schemas = {name: {"additionalProperties": False, **schema}
               for name, schema in document["components"]["schemas"].items()}
    return {**document["components"], "schemas": schemas}


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": _closed(document)})


def _documented(document: dict[str, Any], status: int, media: str) -> Draft202012Validator:
    answer = document["paths"][INGEST]["post"]["responses"][str(status)]
    return _validator(document, answer["content"][media]["schema"])


def _hexmac(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def test_ingest_answers_on_the_wire_match_their_documented_schemas(runtime: Runtime) -> None:
    """Real deliveries, one per kind of answer, each body valid against the schema the
    document gives its status (and, for the 200s, against exactly one of the models)."""
    rt = runtime
    document = rt.http.get("/schema/openapi.json").json()
    token = rt.token("inbound_webhooks", "bearer")
    incident = json.dumps({"title": "typed", "severity": "p2"}).encode()
    dup = b'{"issue":{"title":"typed dup"},"labels":["p3"]}'
    github = {"X-Hub-Signature-256": "sha256=" + _hexmac(rt.secret("github"), dup),
              "X-GitHub-Delivery": f"typed-{uuid.uuid4()}"}
    key = {"X-Account-Key": rt.secret("orders")}
    order = json.dumps({"id": "typed-1", "state": "OPEN", "amount": 1.5,
                        "buyer": {"name": "Ada"}, "placed_at": 1700000000}).encode()
    now = int(time.time())
    challenge = json.dumps({"type": "url_verification", "challenge": "typed-challenge",
                            "token": "x"}).encode()
    slack_secret = ENVIRON["SLACK_WEBHOOK_SECRET"]
    slack = {"X-Slack-Request-Timestamp": str(now),
             "X-Slack-Signature": "v0=" + _hexmac(slack_secret,
                                                  f"v0:{now}:".encode() + challenge)}
    invalid = json.dumps({"title": 5, "severity": "p9"}).encode()
    answers = {
        "created": rt.post("bearer", incident, {"Authorization": f"Bearer {token}"}),
        "created with a delivery id": rt.post("github", dup, github),
        "duplicate": rt.post("github", dup, github),
        "created by key": rt.post("orders", order, key),
        "updated": rt.post("orders", order.replace(b"OPEN", b"PAID"), key),
        "job": rt.post("orders-ref", b'{"record_id": "typed-ref"}',
                       {"X-Account-Key": rt.secret("orders-ref")}),
        "slack challenge": rt.post("slack", challenge, slack),
        "schema mismatch": rt.post("plain", invalid,
                                   {"X-Signature": _hexmac(rt.secret("plain"), invalid)}),
        "forged": rt.post("bearer", incident, {"Authorization": f"Bearer {token}x"}),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {"created": 201, "created with a delivery id": 201, "duplicate": 200,
                        "created by key": 201, "updated": 200, "job": 202,
                        "slack challenge": 200, "schema mismatch": 422, "forged": 401}
    for name, answer in answers.items():
        body = answer.json()
        errors = list(_documented(document, answer.status_code, "application/json")
                      .iter_errors(body))
        assert errors == [], (name, body, errors)
    matching = {name: [model for model in sorted(ANSWERS_200)
                       if _validator(document, _ref(model)).is_valid(answer.json())]
                for name, answer in answers.items() if answer.status_code == 200}
    assert matching == {"duplicate": ["Duplicate"], "updated": ["Stored"],
                        "slack challenge": ["SlackChallenge"]}
    assert answers["created with a delivery id"].json()["delivery_id"] == \
        github["X-GitHub-Delivery"]
    assert answers["schema mismatch"].json()["fields"]
    # the check can fail: a key the model does not name is refused
    extra = {**answers["created"].json(), "unexpected": 1}
    assert not _documented(document, 201, "application/json").is_valid(extra)
