"""The applied shape of a configuration: what the state store holds and the planner reads.

These plain frozen records are the contract between :mod:`hookplane.state` (which stores
them) and :mod:`hookplane.plan` (which compares them with the YAML); both may import config,
neither imports the other. No secret value ever appears here: only keyed fingerprints.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

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
