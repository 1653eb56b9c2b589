"""The runtime's OpenAPI document is generated from the controllers: every operation that
reads a body documents it, and the security schemes are declared and referenced (the
records API and the admin API: bearer tokens; the inbound endpoint: its signature or
token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from hookplane.runtime.app import create_app

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
