"""What the runtime holds in memory per environment: :class:`RuntimeView`.

Built by :meth:`hookplane.state.Store.runtime_view` in one read transaction, so the runtime
reloads a whole environment at once when its serial moves and never asks the store about a
single resource on a request's path. Secrets arrive decrypted (signing and HMAC secrets) or
as hashes (tokens), each with the end of its grace period: a view is kept until the next
serial change, and a rotated secret's grace period ends without one, so validity is checked
when a secret is asked for (:attr:`RuntimeResource.secrets` filters by the time of the call)
and :attr:`RuntimeView.valid_until` says when anything cached from a view goes stale.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hookplane.config.applied import SecretKind
from hookplane.state.crypto import hash_token

__all__ = ["RuntimeResource", "RuntimeSecret", "RuntimeView"]


@dataclass(frozen=True)
class RuntimeSecret:
    """One stored secret of a resource."""

    kind: SecretKind
    status: str
    """``current``, or ``previous`` (valid until ``expires_at``)."""
    value: str | None
    """The decrypted signing or HMAC secret; None for a token (only its hash is kept)."""
    token_hash: str | None
    """SHA-256 hex of a token; None for signing and HMAC secrets."""
    display_prefix: str
    created_at: str
    expires_at: datetime | None
    """End of a previous secret's grace period (aware, UTC); None for the current one."""

    def valid_at(self, now: datetime) -> bool:
        if self.status == "current":
            return True
        return self.expires_at is not None and now < self.expires_at


@dataclass(frozen=True)
class RuntimeResource:
    """One applied resource with everything the runtime needs to serve it."""

    id: str
    kind: str
    name: str
    spec: dict[str, Any]
    """Canonical config as applied, ``${env:…}`` references as written."""
    values: dict[str, str] = field(default_factory=dict)
    """Dotted path -> resolved ``${env:…}`` value, decrypted."""
    stored_secrets: tuple[RuntimeSecret, ...] = ()
    """Current secrets first, then previous ones in grace; newest first within each."""
    created_at: str = ""
    updated_at: str = ""

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"

    @property
    def secrets(self) -> dict[str, tuple[str, ...]]:
        """Secret kind -> decrypted signing/HMAC secrets valid now, current first (sign with
        all, accept any). Tokens are not here: see :attr:`token_hashes`."""
        now = datetime.now(UTC)
        found: dict[str, list[str]] = {}
        for secret in self.stored_secrets:
            if secret.value is not None and secret.valid_at(now):
                found.setdefault(secret.kind, []).append(secret.value)
        return {kind: tuple(values) for kind, values in found.items()}

    @property
    def token_hashes(self) -> tuple[str, ...]:
        """SHA-256 hex of every token valid now, current first."""
        return tuple(self.valid_token_hashes())

    def valid_secrets(self, kind: SecretKind, *, now: datetime | None = None) -> list[str]:
        """Decrypted signing/HMAC secrets of ``kind`` valid at ``now``, current first."""
        when = now or datetime.now(UTC)
        return [s.value for s in self.stored_secrets
                if s.kind == kind and s.value is not None and s.valid_at(when)]

    def valid_token_hashes(self, *, now: datetime | None = None) -> list[str]:
        when = now or datetime.now(UTC)
        return [s.token_hash for s in self.stored_secrets
                if s.kind == "token" and s.token_hash is not None and s.valid_at(when)]

    def verify_token(self, token: str, *, now: datetime | None = None) -> bool:
        """Whether ``token`` is the current token or a previous one in grace (compared in
        constant time with every candidate)."""
        candidate = hash_token(token)
        matched = False
        for stored in self.valid_token_hashes(now=now):
            matched |= hmac.compare_digest(stored, candidate)
        return matched

    @property
    def token_prefix(self) -> str | None:
        """Display prefix of the current token, if the resource has one."""
        for s in self.stored_secrets:
            if s.kind == "token" and s.status == "current":
                return s.display_prefix
        return None

    def has_secret(self, kind: SecretKind | None = None) -> bool:
        """Whether a current generated secret (of ``kind``, or of any kind) is stored."""
        return any(s.status == "current" and (kind is None or s.kind == kind)
                   for s in self.stored_secrets)


@dataclass(frozen=True)
class RuntimeView:
    """Every applied resource of one environment, as of ``serial``."""

    environment: str
    lineage: str
    serial: int
    """0 when the environment was never applied (then there are no resources)."""
    resources: tuple[RuntimeResource, ...] = ()
    """Sorted by kind, then name."""
    _index: dict[str, RuntimeResource] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {r.address: r for r in self.resources}
        index.update({r.id: r for r in self.resources})
        object.__setattr__(self, "_index", index)

    @property
    def valid_until(self) -> datetime | None:
        """When the earliest grace period in the view ends (None if none runs): a rotated
        secret stops being valid then without the serial moving, so a runtime that caches
        what it derived from this view should rebuild after this time."""
        ends = [s.expires_at for r in self.resources for s in r.stored_secrets
                if s.status != "current" and s.expires_at is not None]
        return min(ends) if ends else None

    def get(self, kind: str, name: str) -> RuntimeResource | None:
        return self._index.get(f"{kind}.{name}")

    def by_id(self, resource_id: str) -> RuntimeResource | None:
        found = self._index.get(resource_id)
        return found if found is not None and found.id == resource_id else None

    def of_kind(self, kind: str) -> list[RuntimeResource]:
        """Resources of ``kind``, sorted by name."""
        return [r for r in self.resources if r.kind == kind]
