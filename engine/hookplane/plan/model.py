"""A plan is data: frozen records, no behaviour beyond (de)serialisation.

``Plan`` never holds a secret value: sensitive attributes carry the ``${env:…}`` reference
as written and a keyed fingerprint of the resolved value; generated secrets are only named.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

from hookplane.errors import PlanError

FORMAT_VERSION = "1.0"


class Action(enum.Enum):
    NOOP = "no-op"
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def actions(self) -> list[str]:
        """Terraform-style action list for JSON output."""
        return {
            Action.NOOP: ["no-op"],
            Action.CREATE: ["create"],
            Action.UPDATE: ["update"],
            Action.REPLACE: ["delete", "create"],
            Action.DELETE: ["delete"],
        }[self]


@dataclass(frozen=True)
class AttributeChange:
    """One changed leaf or subtree, by dotted path (``filter.severity``, ``events.1``)."""

    path: str
    before: Any
    after: Any
    sensitive: bool = False


@dataclass(frozen=True)
class Change:
    address: str
    kind: str
    name: str
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    diff: tuple[AttributeChange, ...] = ()
    id: str | None = None
    """The resource's id in the state (None when it will be created)."""
    moved_from: str | None = None
    reason: str | None = None
    """Why a replace is needed (``collection cannot change in place``)."""
    sensitive_paths: tuple[str, ...] = ()
    """Attributes whose value is secret (``${env:…}`` references, generated secrets)."""
    unknown_paths: tuple[str, ...] = ()
    """Attributes known only after apply (``id``, generated secrets)."""
    fingerprints: dict[str, str] = field(default_factory=dict)
    """Dotted path -> keyed fingerprint of the resolved ``${env:…}`` value in ``after``."""
    generate: tuple[str, ...] = ()
    """Secret kinds apply will generate."""
    drop: tuple[str, ...] = ()
    """Secret kinds apply will remove (no longer needed)."""


@dataclass(frozen=True)
class DriftNote:
    address: str
    events: tuple[str, ...]
    changed_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    environment: str
    environment_kind: str
    lineage: str
    serial: int
    config_digest: str
    changes: tuple[Change, ...]
    unchanged: int = 0
    drift: tuple[DriftNote, ...] = ()
    warnings: tuple[str, ...] = ()
    created_at: str = ""
    format_version: str = FORMAT_VERSION
    config_files: dict[str, str] = field(default_factory=dict)
    """Every YAML file the plan was made from: path under the project root -> sha256 (hex)
    of its bytes. Apply refuses a saved plan when the checked-out files differ."""
    mode: str = "normal"
    """``normal``; ``destroy`` (every applied resource goes); ``refresh-only`` (no resource
    changes: applying it acknowledges the drift notes)."""
    targets: tuple[str, ...] = ()
    """Addresses the plan was limited to (``--target``), with what they depend on."""

    @property
    def has_changes(self) -> bool:
        if self.mode == "refresh-only":
            return bool(self.drift)
        return any(c.action is not Action.NOOP for c in self.changes) or any(
            c.moved_from for c in self.changes
        )

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    # ------------------------------------------------------------------ (de)serialisation

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON data (what :meth:`from_dict` reads). Shallow: the ``before`` and
        ``after`` of each change are the plan's own dicts, not copies (``asdict`` deep-copied
        every one, half of an apply of 10,000 updates); do not modify the result."""
        data = _fields(self)
        data["changes"] = [{**_fields(change), "action": change.action.value,
                            "diff": [_fields(item) for item in change.diff]}
                           for change in self.changes]
        data["drift"] = [_fields(note) for note in self.drift]
        return data

    def dumps(self) -> str:
        return json.dumps({"hookplane_plan": self.to_dict()}, indent=2, sort_keys=True) + "\n"

    def digest(self) -> str:
        """``sha256:`` of the plan's canonical JSON (compact, keys sorted: the C encoder)."""
        text = json.dumps({"hookplane_plan": self.to_dict()}, sort_keys=True,
                          separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def loads(cls, text: str) -> Plan:
        """The plan :meth:`dumps` wrote. Checks nothing but the shape: a saved plan file is
        read with :func:`hookplane.plan.planfile.load_plan_file`, which verifies its MAC."""
        try:
            data = json.loads(text)["hookplane_plan"]
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"not a Hookplane plan file ({type(exc).__name__}: {exc})") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Plan:
        """The plan :meth:`to_dict` made (``PlanError`` when ``data`` is not one)."""
        try:
            if data.get("format_version") != FORMAT_VERSION:
                raise PlanError(
                    f"saved plan has format {data.get('format_version')!r}; this Hookplane "
                    f"reads {FORMAT_VERSION!r}. Make the plan again with this version."
                )
            changes = tuple(
                Change(
                    **{
                        **c,
                        "action": Action(c["action"]),
                        "diff": tuple(AttributeChange(**d) for d in c["diff"]),
                        "sensitive_paths": tuple(c["sensitive_paths"]),
                        "unknown_paths": tuple(c["unknown_paths"]),
                        "generate": tuple(c["generate"]),
                        "drop": tuple(c["drop"]),
                    }
                )
                for c in data["changes"]
            )
            drift = tuple(
                DriftNote(d["address"], tuple(d["events"]), tuple(d["changed_paths"]))
                for d in data["drift"]
            )
            return cls(**{**data, "changes": changes, "drift": drift,
                          "warnings": tuple(data["warnings"]),
                          "config_files": dict(data.get("config_files", {})),
                          "targets": tuple(data.get("targets", ()))})
        except PlanError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(f"not a Hookplane plan file ({type(exc).__name__}: {exc})") from exc


def _fields(instance: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, tuples as lists (JSON's arrays), values not copied."""
    return {f.name: (list(value) if isinstance(value := getattr(instance, f.name), tuple)
                     else value)
            for f in fields(instance)}
