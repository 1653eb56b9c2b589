"""The JSON Schema of Hookplane's YAML files, generated from the pydantic models.

Editors use it through the ``# yaml-language-server: $schema=…`` comment at the top of each
file; CI can validate files with any JSON Schema validator. One schema covers both shapes:
``environment.yaml`` and resource files.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from hookplane.config.models import DocumentShape, EnvironmentSpec

SCHEMA_ID = "https://hookplane.dev/schema/hookplane.schema.json"


def json_schema() -> dict[str, Any]:
    """The schema as a dict (draft 2020-12)."""
    adapter: TypeAdapter[EnvironmentSpec | DocumentShape] = TypeAdapter(
        EnvironmentSpec | DocumentShape
    )
    schema = adapter.json_schema(by_alias=True, ref_template="#/$defs/{model}")
    _widen_for_shorthands(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "Hookplane configuration file"
    schema["description"] = (
        "environment.yaml (name, kind, promotes_to) or a resource file with the sections "
        "collections, sources, triggers, inbound_webhooks, api_keys."
    )
    return schema


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
    ],
    "description": "seconds, or a duration such as '500ms', '10s', '2m'",
}


def _widen_for_shorthands(schema: dict[str, Any]) -> None:
    """Accept what the models accept before validation: durations as text, ``action: upsert``."""
    defs: dict[str, Any] = schema.get("$defs", {})
    for definition in defs.values():
        properties = definition.get("properties", {})
        if "timeout" in properties:
            default = properties["timeout"].get("default")
            properties["timeout"] = {**_DURATION_SCHEMA, "default": default}
    action = defs.get("Action")
    if action is not None:
        defs["Action"] = {"anyOf": [{"const": "upsert"}, action]}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
