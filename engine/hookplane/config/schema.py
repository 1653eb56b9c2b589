"""The JSON Schema of Hookplane's YAML files, generated from the pydantic models.

Editors use it through the ``# yaml-language-server: $schema=…`` comment at the top of each
file; CI can validate files with any JSON Schema validator. One schema covers both shapes:
``environment.yaml`` and resource files.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from hookplane.config.models import (
    AUTH_TYPES,
    RESOURCE_NAME,
    SECTIONS,
    SYSTEM_EVENTS,
    TIMESTAMPED,
    DocumentShape,
    EnvironmentSpec,
)
from hookplane.config.validate import PROVIDER_ISSUED_SECRET
from hookplane.presets import NO_SECRET, PRESETS

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
_REFS_WELL_FORMED = r"^(?:[^$]|\$(?!\{)|\$\{env:[A-Za-z_][A-Za-z0-9_]*\})*$"
"""Every ``${`` opens a well-formed ``${env:NAME}`` (where references are allowed)."""
_NO_REFS = r"^(?:[^$]|\$(?!\{))*$"
"""No ``${`` at all (fields where references are not allowed)."""
_HTTP_URL = (r"^\s*(?:\$\{env:[A-Za-z_][A-Za-z0-9_]*\}\s*$|[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s]"
             r"|[Hh][Tt][Tt][Pp][Ss]?://[^/?#]*@[^/?#\s])")
"""An http(s) URL with a host, or one whole ``${env:NAME}`` (``validate``'s ``url`` rule)."""
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_NETWORK = (rf"^(?:{_IPV4}(?:/(?:3[0-2]|[12]?\d|{_IPV4}))?"
            r"|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?)$")
"""An IPv4 address or network exactly; an IPv6 one loosely (its full grammar stays with
``validate``)."""
_SCOPE = r"^(read|write)(:[A-Za-z0-9_-]+)?$"


def _present(*names: str) -> dict[str, Any]:
    """Each of ``names`` is written with a value (``key: null`` counts as absent, as in the
    models)."""
    return {"required": list(names),
            "properties": {name: {"not": {"type": "null"}} for name in names}}


def _is(field: str, *values: str, default: str | None = None) -> dict[str, Any]:
    """``field`` is one of ``values`` (or absent, when ``default`` is one of them)."""
    condition: dict[str, Any] = {"properties": {field: {"enum": list(values)}}}
    if default not in values:
        condition["required"] = [field]
    return condition


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
    for definition, field in (("Auth", "secret"), ("Auth", "verify_token"), ("Signing", "secret")):
        branch = defs[definition]["properties"][field]["anyOf"][0]
        branch["pattern"] = _ENV_ONLY
    for definition in defs.values():
        for name, prop in definition.get("properties", {}).items():
            text = prop["anyOf"][0] if "anyOf" in prop else prop
            if name == "description" and text.get("type") == "string":
                text["pattern"] = _NO_REFS
            elif name == "headers" and text.get("type") == "object":
                text["additionalProperties"] = {"type": "string", "pattern": _REFS_WELL_FORMED}
    for definition, field in (("Trigger", "url"), ("Source", "base_url"),
                              ("InvokeAction", "url")):
        prop = defs[definition]["properties"][field]
        text = prop["anyOf"][0] if "anyOf" in prop else prop
        text["allOf"] = [{"pattern": _HTTP_URL}, {"pattern": _REFS_WELL_FORMED}]
    defs["Endpoint"]["properties"]["path"]["pattern"] = r"\{id\}"
    for field in ("ip_allowlist", "trusted_proxies"):
        defs["InboundWebhook"]["properties"][field]["items"]["pattern"] = _NETWORK
    defs["ApiKey"]["properties"]["scopes"]["items"]["pattern"] = _SCOPE
    _tighten_shapes(defs)


def _tighten_shapes(defs: dict[str, Any]) -> None:
    """The models' ``_shape`` validators: which fields go together, as ``if``/``then``."""
    timestamped = TIMESTAMPED
    own_header = tuple(name for name in AUTH_TYPES if name not in ("hmac", "static_header"))
    defs["Auth"]["allOf"] = [
        {"if": _is("type", "static_header"), "then": _present("header")},
        {"if": {"not": _is("type", "hmac", default="hmac")},
         "then": {"not": _present("encoding")}},
        {"if": _is("type", *own_header), "then": {"not": _present("header")}},
        {"if": {"not": _is("type", "bearer")}, "then": {"not": _present("signature")}},
        {"if": _is("type", "bearer"), "then": {"if": _present("secret"),
                                                "then": _present("signature")}},
        {"if": {"not": _is("type", "hmac", default="hmac")},
         "then": {"not": _present("timestamp_header")}},
        {"if": {"not": {"anyOf": [_is("type", *timestamped),
                                  {"allOf": [_is("type", "hmac", default="hmac"),
                                             _present("timestamp_header")]}]}},
         "then": {"not": _present("tolerance_seconds")}},
        {"if": _is("type", *PROVIDER_ISSUED_SECRET), "then": _present("secret")},
        {"if": _is("type", *NO_SECRET), "then": {"not": _present("secret")}},
        *({"if": {"not": _is("type", *(name for name, p in PRESETS.items()
                                       if option in p.options), default="hmac")},
           "then": {"not": _present(option)}} for option in ("public_key", "verify_token")),
        *({"if": _is("type", name), "then": _present(option)}
          for name, p in PRESETS.items() for option in sorted(p.required)
          if option in ("public_key", "verify_token")),
        # Discord's key is 64 hex digits (whether they are a point on the curve, only
        # validate can tell); SendGrid's base64 DER is left to validate
        {"if": _is("type", "discord"),
         "then": {"properties": {"public_key": {"pattern": r"^\s*[0-9a-fA-F]{64}\s*$"}}}},
    ]
    action = defs["Action"]["anyOf"][1]
    action["oneOf"] = [{**_present(kind), "properties": {kind: {"type": "object"}}}
                       for kind in ("upsert", "create", "invoke")]
    upsert = {"anyOf": [{"not": _present("action")},
                        {"properties": {"action": {"anyOf": [
                            {"const": "upsert"},
                            {"type": "object", **_present("upsert")}]}}}]}
    defs["InboundWebhook"]["allOf"] = [
        {"not": _present("mapping", "source_binding")},
        {"if": _present("hydration"), "then": {"allOf": [_present("source_binding"), upsert]}},
        {"if": upsert, "then": _present("collection")},
    ]
    defs["Trigger"]["allOf"] = [
        {"if": {"required": ["events"], "properties": {
            "events": {"contains": {"not": {"enum": list(SYSTEM_EVENTS)}}}}},
         "then": _present("collection")},
        {"oneOf": [_present("url"), _present("external_write")]},
        {"not": _present("external_write", "body")},
        {"if": {"required": ["filter"], "properties": {"filter": {"minProperties": 1}}},
         "then": _present("collection")},
    ]
