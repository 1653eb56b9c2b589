"""The applied shape of a configuration: what the state store holds and the planner reads.

These plain frozen records are the contract between :mod:`hookplane.state` (which stores
them) and :mod:`hookplane.plan` (which compares them with the YAML); both may import config,
neither imports the other. No secret value ever appears here: only keyed fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hookplane import presets as _presets

ID_PREFIXES: dict[str, str] = {
    "collections": "col",
    "sources": "src",
    "triggers": "trg",
    "inbound_webhooks": "iw",
    "api_keys": "key",
}


def canonical_hash(data: Any) -> str:
    """Stable SHA-256 of JSON data (sorted keys, compact); the planner compares these first."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class DriftEvent:
    """Something changed in the state outside git since the last apply."""

    at: str
    what: str
    by: str = "runtime"


@dataclass(frozen=True)
class AppliedResource:
    """One resource as the state store holds it."""

    id: str
    kind: str
    name: str
    spec: dict[str, Any]
    """Canonical config (``Resource.canonical()``) with ``${env:…}`` references as written."""
    fingerprints: dict[str, str] = field(default_factory=dict)
    """Dotted path -> keyed fingerprint of each resolved ``${env:…}`` value."""
    generated: tuple[str, ...] = ()
    """Kinds of generated secret it holds, e.g. ``("signing_secret",)``, ``("token",)``."""
    applied_hash: str = ""
    """``canonical_hash(spec)`` at the last apply; differs when changed outside git."""
    drift: tuple[DriftEvent, ...] = ()
    created_at: str = ""
    updated_at: str = ""

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"


@dataclass(frozen=True)
class Snapshot:
    """The applied state of one environment."""

    environment: str
    lineage: str
    """Random id given to the environment's state when it is first created."""
    serial: int
    """Moves by one on every change; 0 = never applied."""
    resources: dict[str, AppliedResource] = field(default_factory=dict)
    """By address (``triggers.notify``)."""


SecretKind = Literal["signing_secret", "hmac_secret", "token"]

_SIGNED_AUTH = tuple(name for name, preset in _presets.PRESETS.items()
                     if preset.secret in ("either", "provider"))
"""Auth types keyed with a shared secret (a public-key preset such as ``discord`` has none)."""


def generated_secrets(kind: str, spec: dict[str, Any]) -> tuple[SecretKind, ...]:
    """The secrets Hookplane generates at apply for a resource's canonical spec.

    A secret written as ``${env:NAME}`` is resolved instead of generated. An inbound webhook
    whose action is ``invoke`` also gets a ``signing_secret``: its calls to the runner are
    signed like trigger deliveries.
    """
    if kind == "triggers":
        signing = spec.get("signing") or {}
        return () if signing.get("secret") else ("signing_secret",)
    if kind == "inbound_webhooks":
        action = spec.get("action") or {}
        invoke: tuple[SecretKind, ...] = ("signing_secret",) if action.get("invoke") else ()
        auth = spec.get("auth") or {}
        if auth.get("type") == "bearer":  # plus an HMAC key when a body signature is required
            signed: tuple[SecretKind, ...] = (
                ("hmac_secret",) if auth.get("signature") is not None and not auth.get("secret")
                else ())
            return ("token", *signed, *invoke)
        if auth.get("secret"):
            return invoke
        if auth.get("type", "hmac") in _SIGNED_AUTH:
            return ("hmac_secret", *invoke)
        return invoke
    if kind == "api_keys":
        return ("token",)
    return ()


ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
"""A reference to an environment variable, resolved at apply: ``${env:NAME}``."""


def env_paths(data: Any, prefix: str = "") -> dict[str, str]:
    """Dotted path -> string for every string holding a ``${env:…}`` reference.

    One pass with one result dict (the plan calls this for every resource: building and
    merging a dict per nested value made it most of a 10k-resource plan's time)."""
    found: dict[str, str] = {}
    _collect(data, prefix, found)
    return found


def _collect(data: Any, prefix: str, found: dict[str, str]) -> None:
    if isinstance(data, str):
        if "${env:" in data and ENV_REF.search(data):
            found[prefix[:-1]] = data
    elif isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str):  # the common leaf, without a call
                if "${env:" in value and ENV_REF.search(value):
                    found[f"{prefix}{key}"] = value
            elif isinstance(value, dict | list):
                _collect(value, f"{prefix}{key}.", found)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _collect(value, f"{prefix}{index}.", found)


def resolve_references(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Substitute every ``${env:NAME}``; returns the text and the names that are unset."""
    missing: list[str] = []

    def _sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            missing.append(name)
            return ""
        return environ[name]

    return ENV_REF.sub(_sub, text), missing
