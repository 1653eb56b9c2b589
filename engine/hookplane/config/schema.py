"""The JSON Schema of Hookplane's YAML files, generated from the pydantic models.

Editors use it through the ``# yaml-language-server: $schema=…`` comment at the top of each
file; CI can validate files with any JSON Schema validator. One schema covers both shapes:
``environment.yaml`` and resource files.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from hookplane.config.models import RESOURCE_NAME, SECTIONS, DocumentShape, EnvironmentSpec

SCHEMA_ID = "https://hookplane.dev/schema/hookplane.schema.json"


def json_schema() -> dict[str, Any]:
    """The schema as a dict (draft 2020-12)."""
    adapter: TypeAdapter[EnvironmentSpec | DocumentShape] = TypeAdapter(
        EnvironmentSpec | DocumentShape
    )
    schema = adapter.json_schema(by_alias=True, ref_template="#/$defs/{model}")
    _widen_for_shorthands(schema)
    _tighten(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "Hookplane configuration file"
    schema["description"] = (
        "environment.yaml (name, kind, promotes_to) or a resource file with the sections "
        "collections, sources, triggers, inbound_webhooks, api_keys."
    )
    return schema


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
    ],
    "description": "seconds, or a duration such as '500ms', '10s', '2m'",
}


_DURATIONS = {"timeout": 3600, "cooldown": 3600, "disable_after": 30 * 86_400}
"""Fields written as seconds or a duration text, with their largest value in seconds."""


def _widen_for_shorthands(schema: dict[str, Any]) -> None:
    """Accept what the models accept before validation: durations as text, ``action: upsert``."""
    defs: dict[str, Any] = schema.get("$defs", {})
    for definition in defs.values():
        properties = definition.get("properties", {})
        for name, maximum in _DURATIONS.items():
            if name in properties:
                default = properties[name].get("default")
                number, text = _DURATION_SCHEMA["anyOf"]
                properties[name] = {**_DURATION_SCHEMA, "default": default,
                                    "anyOf": [{**number, "maximum": maximum}, text]}
    action = defs.get("Action")
    if action is not None:
        defs["Action"] = {"anyOf": [{"const": "upsert"}, action]}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


_ENV_ONLY = r"^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$"
"""A secret field holds exactly one ``${env:NAME}`` (``validate``'s rule, as a pattern)."""


def _tighten(schema: dict[str, Any]) -> None:
    """What ``validate`` checks that a JSON Schema can say too, so editors flag it as you
    type (``tests/unit/config/test_schema_strictness.py`` keeps the two in step)."""
    defs: dict[str, Any] = schema["$defs"]
    schema["anyOf"].append({"type": "null"})  # an empty or comment-only file is fine
    document = defs["DocumentShape"]
    document["patternProperties"] = {"^x-": {"description": "shared settings for anchors "
                                                             "(ignored by the model)"}}
    for section in SECTIONS:
        branch = document["properties"][section]["anyOf"][0]
        branch["propertyNames"] = {"pattern": RESOURCE_NAME.pattern}
    defs["Trigger"]["properties"]["events"]["uniqueItems"] = True
    enum = defs["FieldSchema"]["properties"]["enum"]["anyOf"][0]
    enum["minItems"] = 1
    for definition, field in (("Auth", "secret"), ("Signing", "secret")):
        branch = defs[definition]["properties"][field]["anyOf"][0]
        branch["pattern"] = _ENV_ONLY
