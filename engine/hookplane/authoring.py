"""Authoring from the command line: add or remove one trigger, inbound webhook or API key by
editing the environment's YAML.

The YAML in git stays the source of truth. ``hookplane triggers create preview NAME …``
writes the resource into ``environments/preview`` and the user reviews the diff, commits, and
plans; the state database is not opened.

- The options take the shapes the seeds' CLIs show (``--events '["create","update"]'`` as
  well as ``create,update``; JSON for ``--hydration``, ``--field-mapping``,
  ``--ingest-auth`` …). Option problems are reported together, each naming its option.
- Where: ``--file``, else the file that already holds the section, else a new
  ``<kind>.yaml`` (``triggers.yaml``, ``inbound-webhooks.yaml``, ``api-keys.yaml``) that
  starts with the schema comment. Files are edited with ruamel.yaml round-trip
  (:mod:`hookplane.yamledit`): comments, key order and quoting survive.
- The whole environment is loaded with the edit applied, in a shadow directory, before
  anything is written: any problem (an unknown collection, a bad CIDR, a mapping that does not
  fit the collection) is reported with its position and no file changes.
- A production environment creates and destroys triggers and inbound webhooks only by
  promotion (SPEC §3): those edits are refused there, naming the preview to make them in.
- Secrets are never options: they are generated at apply, or referenced with
  ``--secret-env NAME``, which writes ``secret: ${env:NAME}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ruamel.yaml.comments import CommentedMap

from hookplane.config import Config, list_environments, load_environment
from hookplane.config.applied import ENV_REF
from hookplane.config.loader import ENVIRONMENT_FILE, environments_root, suggest
from hookplane.config.models import (
    AUTH_TYPES,
    RECORD_EVENTS,
    RESOURCE_NAME,
    SYSTEM_EVENTS,
)
from hookplane.config.yamlio import YamlProblem, decode, parse
from hookplane.errors import AuthoringError, ConfigError
from hookplane.plan.rules import PROMOTED_ONLY, env_dir, singular
from hookplane.yamledit import (
    SCHEMA_COMMENT,
    FileChange,
    append_entry,
    append_text,
    dump,
    remove_entry,
    remove_text,
    round_trip_value,
    round_trip_yaml,
    validate_environment,
    write_changes,
)

EVENTS = (*RECORD_EVENTS, *SYSTEM_EVENTS)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_COMMAND = {"triggers": "triggers", "inbound_webhooks": "inbound-webhooks",
            "api_keys": "api-keys"}


# --------------------------------------------------------------------------- options


@dataclass(frozen=True, kw_only=True)
class TriggerOptions:
    """``hookplane triggers create`` options, as typed."""

    kind: ClassVar[str] = "triggers"
    collection: str | None = None
    url: str | None = None
    external_write: str | None = None
    events: str = ""
    filters: tuple[str, ...] = ()
    body_template: str | None = None
    retry: str | None = None
    headers: tuple[str, ...] = ()
    secret_env: str | None = None
    secret_given: bool = False
    """``--secret`` was passed (its value never reaches the engine): refused."""
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class InboundWebhookOptions:
    """``hookplane inbound-webhooks create`` options, as typed."""

    kind: ClassVar[str] = "inbound_webhooks"
    collection: str | None = None
    auth: str | None = None
    ingest_auth: str | None = None
    header: str | None = None
    secret_env: str | None = None
    secret_given: bool = False
    source_binding: str | None = None
    field_mapping: str | None = None
    hydration: str | None = None
    ip_allow: tuple[str, ...] = ()
    rate_limit: str | None = None
    action_create: str | None = None
    action_invoke: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApiKeyOptions:
    """``hookplane api-keys create`` options, as typed."""

    kind: ClassVar[str] = "api_keys"
    scopes: str = ""
    description: str | None = None


Options = TriggerOptions | InboundWebhookOptions | ApiKeyOptions


@dataclass(frozen=True)
class Edit:
    """One resource added to or removed from one file, validated, not yet written."""

    environment: str
    kind: str
    name: str
    action: Literal["create", "delete"]
    change: FileChange
    notes: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.name}"

    @property
    def file(self) -> str:
        return self.change.path


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, option: str, message: str) -> None:
        self.lines.append(f"{option}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise AuthoringError("\n".join(self.lines))


def _json(problems: _Problems, option: str, text: str, example: str) -> dict[str, Any] | None:
    """A JSON object option. The text is never echoed back (it may hold a secret)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(option, f"not valid JSON ({exc.msg} at column {exc.colno}); "
                             f"expected an object such as {example}")
        return None
    if not isinstance(value, dict):
        problems.add(option, f"expected a JSON object such as {example}")
        return None
    return value


def _list(problems: _Problems, option: str, text: str, example: str) -> list[str]:
    """``a,b`` or ``'["a","b"]'``."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            problems.add(option, f"not valid JSON ({exc.msg} at column {exc.colno}); "
                                 f"write {example}")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.add(option, f"expected a JSON list of names such as {example}")
            return []
        return [v.strip() for v in value]
    return [part.strip() for part in stripped.split(",") if part.strip()]


def _pairs(problems: _Problems, option: str, items: tuple[str, ...], shape: str,
           value: Callable[[str], Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.add(option, f"'{item}' is not {shape}")
        elif key in found:
            problems.add(option, f"'{key}' is given twice")
        else:
            found[key] = value(text)
    return found


def _json_or_text(text: str) -> Any:
    """``3``, ``true``, ``["p1","p2"]``, ``{"gte":2}`` as JSON; anything else as text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _secret_refusal(kind: str, environment: str, name: str) -> str:
    command = _COMMAND[kind]
    read = (f"'hookplane {command} get {environment} {name} --show-secret' after apply")
    return (
        "secrets are never written in YAML or passed on the command line. Omit it: "
        f"Hookplane generates the secret at apply (read it with {read}). For a secret the "
        "sender issues, pass --secret-env NAME instead: it writes secret: ${env:NAME}, "
        "and NAME is read from the environment 'hookplane apply' runs in"
    )


def _secret_ref(problems: _Problems, name: str | None) -> str | None:
    if name is None:
        return None
    if not _ENV_NAME.match(name):
        problems.add("--secret-env", f"'{name}' is not an environment variable name "
                                     "(letters, digits and '_', not starting with a digit)")
        return None
    return f"${{env:{name}}}"


def _trigger_spec(options: TriggerOptions, environment: str, name: str) -> dict[str, Any]:
    problems = _Problems()
    if options.secret_given:
        problems.add("--secret", _secret_refusal("triggers", environment, name))
    spec: dict[str, Any] = {}
    if options.description is not None:
        spec["description"] = options.description
    if options.collection is not None:
        spec["collection"] = options.collection
    known = len(problems.lines)
    events = _list(problems, "--events", options.events, '\'["create","update"]\'')
    for event in events:
        if event not in EVENTS:
            problems.add("--events", f"'{event}' is not an event{suggest(event, EVENTS)}; "
                                     f"events are {', '.join(EVENTS)}")
    if not events and len(problems.lines) == known:
        problems.add("--events", f"name at least one of {', '.join(EVENTS)}")
    spec["events"] = events
    if options.url is not None and options.external_write is not None:
        problems.add("--external-write", "a trigger sends to --url or to a source's write "
                                         "endpoint (--external-write), not both")
    elif options.url is None and options.external_write is None:
        problems.add("--url", "give the URL to send to (or --external-write SOURCE)")
    if options.url is not None:
        spec["url"] = options.url
    if options.external_write is not None:
        spec["external_write"] = {"source": options.external_write}
    filters = _pairs(problems, "--filter", options.filters, "FIELD=VALUE", _json_or_text)
    if filters:
        spec["filter"] = filters
    if options.body_template is not None:
        text = options.body_template
        if text.lstrip()[:1] in ("{", "["):
            try:
                spec["body"] = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.add("--body-template", f"not valid JSON ({exc.msg} at column "
                             f"{exc.colno}); a template that is not JSON must not start with "
                             "'{' or '['")
        else:
            spec["body"] = text
    headers = _pairs(problems, "--header", options.headers, "NAME=VALUE", str)
    if headers:
        spec["headers"] = headers
    secret = _secret_ref(problems, options.secret_env)
    if secret is not None:
        spec["signing"] = {"secret": secret}
    if options.retry is not None:
        if options.retry.strip() == "none":
            spec["retry"] = "none"
        elif options.retry.lstrip().startswith("{"):
            policy = _json(problems, "--retry", options.retry,
                           '\'{"attempts":5,"backoff":"exponential","max_seconds":60}\'')
            if policy is not None:
                spec["retry"] = policy
        else:
            problems.add("--retry", "use 'none' or a JSON policy such as "
                                    '\'{"attempts":5,"backoff":"exponential"}\'')
    problems.raise_if_any()
    return spec


def _inbound_spec(options: InboundWebhookOptions, environment: str,
                  name: str) -> dict[str, Any]:
    problems = _Problems()
    if options.secret_given:
        problems.add("--secret", _secret_refusal("inbound_webhooks", environment, name))
    spec: dict[str, Any] = {}
    if options.description is not None:
        spec["description"] = options.description
    if options.collection is not None:
        spec["collection"] = options.collection

    auth: dict[str, Any] | None = None
    if options.ingest_auth is not None:
        if options.auth is not None:
            problems.add("--ingest-auth", "give --auth TYPE or --ingest-auth JSON, not both")
        if options.header is not None:
            problems.add("--header", "with --ingest-auth, put \"header\" inside its JSON")
        auth = _json(problems, "--ingest-auth", options.ingest_auth,
                     '\'{"type":"static_header","header":"X-Account-Key"}\'')
    elif options.auth is not None or options.header is not None:
        kind = options.auth or "hmac"
        if kind not in AUTH_TYPES:
            problems.add("--auth", f"'{kind}' is not an authentication type"
                                   f"{suggest(kind, AUTH_TYPES)}; types are "
                                   f"{', '.join(AUTH_TYPES)}")
        auth = {"type": kind}
        if options.header is not None:
            auth["header"] = options.header
    secret = _secret_ref(problems, options.secret_env)
    if auth is not None and "secret" in auth:
        if not (isinstance(auth["secret"], str) and ENV_REF.fullmatch(auth["secret"])):
            problems.add("--ingest-auth", "\"secret\": "
                         + _secret_refusal("inbound_webhooks", environment, name))
        elif secret is not None:
            problems.add("--secret-env", "the secret is already given in --ingest-auth")
    if secret is not None:
        auth = {"type": "hmac", **(auth or {}), "secret": secret}
    if auth is not None:
        spec["auth"] = auth

    if options.source_binding is not None and options.field_mapping is not None:
        problems.add("--field-mapping", "--field-mapping and --source-binding are mutually "
                     "exclusive: reuse the source's mapping (--source-binding) or give an "
                     "inline one (--field-mapping), not both")
    if options.source_binding is not None:
        text = options.source_binding.strip()
        example = "incidents/pagerduty or '{\"collection\":\"incidents\",\"source\":\"pagerduty\"}'"
        if text.startswith("{"):
            binding = _json(problems, "--source-binding", text, example)
            if binding is not None:
                spec["source_binding"] = binding
        else:
            collection, sep, source = text.partition("/")
            if not sep or not collection.strip() or not source.strip() or "/" in source:
                problems.add("--source-binding", f"'{text}' is not COLLECTION/SOURCE; "
                                                 f"write {example}")
            else:
                spec["source_binding"] = {"collection": collection.strip(),
                                          "source": source.strip()}
    if options.field_mapping is not None:
        mapping = _json(problems, "--field-mapping", options.field_mapping,
                        '\'{"to_external":{"status":"state"}}\'')
        if mapping is not None:
            spec["mapping"] = mapping
    if options.hydration is not None:
        hydration = _json(problems, "--hydration", options.hydration,
                          '\'{"id_path":"record_id","merge":true}\'')
        if hydration is not None:
            spec["hydration"] = hydration
    if options.action_create is not None and options.action_invoke is not None:
        problems.add("--action-invoke", "an inbound webhook has one action: give "
                                        "--action-create or --action-invoke, not both")
    elif options.action_create is not None:
        action = _json(problems, "--action-create", options.action_create,
                       '\'{"collection":"tasks","fields":{"title":"{{payload.title}}"}}\'')
        if action is not None:
            spec["action"] = {"create": action}
    elif options.action_invoke is not None:
        action = _json(problems, "--action-invoke", options.action_invoke,
                       '\'{"url":"https://agents.example.com/run"}\'')
        if action is not None:
            spec["action"] = {"invoke": action}
    networks = [part.strip() for item in options.ip_allow for part in item.split(",")
                if part.strip()]
    if networks:
        spec["ip_allowlist"] = networks
    if options.rate_limit is not None:
        match = _RATE.match(options.rate_limit)
        if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
            problems.add("--rate-limit", f"'{options.rate_limit}' is not REQUESTS/SECONDS "
                                         "with both above zero (e.g. 30/60: 30 requests a "
                                         "minute per client IP)")
        else:
            spec["rate_limit"] = {"requests": int(match.group(1)),
                                  "per_seconds": int(match.group(2))}
    problems.raise_if_any()
    return spec


def _api_key_spec(options: ApiKeyOptions) -> dict[str, Any]:
    problems = _Problems()
    spec: dict[str, Any] = {}
    if options.description is not None:
        spec["description"] = options.description
    scopes = _list(problems, "--scopes", options.scopes, "read,write:tasks")
    if not scopes and not problems.lines:
        problems.add("--scopes", "name at least one of read, write, read:COLLECTION, "
                                 "write:COLLECTION")
    spec["scopes"] = scopes
    problems.raise_if_any()
    return spec


def resource_spec(options: Options, environment: str, name: str) -> dict[str, Any]:
    """The YAML data the options stand for (option problems raise :class:`AuthoringError`).
    Whether it is a valid resource is decided by loading the environment with it."""
    if isinstance(options, TriggerOptions):
        return _trigger_spec(options, environment, name)
    if isinstance(options, InboundWebhookOptions):
        return _inbound_spec(options, environment, name)
    return _api_key_spec(options)


# --------------------------------------------------------------------------- the edits


def _current(root: Path, environment: str) -> Config:
    """The environment as it is; an invalid one must be fixed before it is edited."""
    try:
        return load_environment(root, environment)
    except ConfigError as exc:
        directory = environments_root(root) / environment
        if not (directory / ENVIRONMENT_FILE).is_file():
            raise  # no such environment: the loader says so (with did-you-mean)
        raise AuthoringError(
            f"environments/{environment} is not valid as it stands; fix it first "
            f"(hookplane validate {environment}). Nothing was written:\n"
            + "\n".join(f"  {d.format()}" for d in exc.diagnostics)
        ) from exc


def _promotion_source(root: Path, environment: str) -> str | None:
    """The preview environment whose ``promotes_to`` is ``environment``."""
    for name in list_environments(root):
        if name == environment:
            continue
        path = environments_root(root) / name / ENVIRONMENT_FILE
        try:
            data = parse(decode(path.read_bytes()))
        except (OSError, YamlProblem):
            continue
        if isinstance(data, dict) and data.get("promotes_to") == environment and (
            data.get("kind") == "preview"
        ):
            return name
    return None


def _where(config: Config, kind: str, name: str) -> str:
    resource = config.get(kind, name)
    if resource is None:
        return env_dir(config)
    line, column = config.position(resource.file, (kind, name), key=True)
    return f"{resource.file}:{line}:{column}"


def _refuse_in_production(root: Path, config: Config, kind: str, name: str,
                          action: Literal["create", "delete"]) -> None:
    if kind not in PROMOTED_ONLY or config.environment.kind != "production":
        return
    env = config.name
    preview = _promotion_source(root, env)
    if preview is None:
        place = f"a preview environment (none declares promotes_to: {env})"
        promote = f"'hookplane promote PREVIEW {env}'"
    else:
        place = f"environments/{preview}"
        promote = f"'hookplane promote {preview} {env}'"
    done, verb = ("created", "Create") if action == "create" else ("deleted", "Delete")
    raise AuthoringError(
        f"{_where(config, kind, name)}: {singular(kind)} '{name}' cannot be {done} in "
        f"production environment '{env}': triggers and inbound webhooks reach production only "
        f"by promotion. {verb} it in {place} and run {promote}"
    )


def _target_file(config: Config, kind: str, file: str | None,
                 spec: dict[str, Any]) -> tuple[Path, tuple[str, ...]]:
    """The file to add a resource of ``kind`` to, and notes about the choice.

    Without ``--file``: a file that holds the section -- preferably the one that declares
    the resource's collection, else ``<kind>.yaml``, else the first; none: ``<kind>.yaml``.
    """
    directory = config.directory
    root = config.root
    if file is not None:
        given = Path(file)
        prefix = directory.relative_to(root).parts
        if given.is_absolute():
            path = given
        elif given.parts[: len(prefix)] == prefix:
            path = root / given
        else:
            path = directory / given
        path = Path(*_normal_parts(path))
        inside = path.parts[: len(directory.parts)] == directory.parts
        if not inside or path == directory:
            raise AuthoringError(f"--file: '{file}' is not a file of {env_dir(config)}; give a "
                                 "file name in it, e.g. --file incidents.yaml")
        if path.suffix not in (".yaml", ".yml"):
            raise AuthoringError(f"--file: '{file}' must end in .yaml or .yml (only those are "
                                 "read)")
        if path == directory / ENVIRONMENT_FILE:
            raise AuthoringError(f"--file: resources belong in a resource file, not in "
                                 f"{ENVIRONMENT_FILE}")
        return path, ()
    holding = sorted({r.file for r in config.section(kind).values()})
    default = directory / f"{_COMMAND[kind]}.yaml"
    if not holding:
        return default, ()
    default_rel = default.relative_to(root).as_posix()
    collection = config.get("collections", str(spec.get("collection")))
    reason = ""
    if collection is not None and collection.file in holding:
        chosen = collection.file
        reason = f", which declares collection '{collection.name}'"
    else:
        chosen = default_rel if default_rel in holding else holding[0]
    notes: tuple[str, ...] = ()
    if len(holding) > 1:
        notes = (f"{len(holding)} files declare {kind}; added to {chosen}{reason} (choose "
                 "another with --file)",)
    return root / chosen, notes


def _normal_parts(path: Path) -> list[str]:
    """``a/b/../c`` -> ``a/c`` without touching the file system."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if len(parts) > 1:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return parts


def _validated(root: Path, config: Config, path: Path, after: str | None,
               address: str) -> Config:
    try:
        return validate_environment(root, config.directory, {path: after})
    except ConfigError as exc:
        raise AuthoringError(
            f"{address} would leave environment '{config.name}' invalid; nothing was written "
            "(positions are in the files as they would be):\n"
            + "\n".join(f"  {d.format()}" for d in exc.diagnostics)
        ) from exc


def _reformatted(yaml: Any, text: str, path: str) -> tuple[str, ...]:
    if dump(yaml, yaml.load(text)) == text:
        return ()
    return (f"ruamel.yaml re-indents {path} where its indentation differs from Hookplane's "
            "(mappings by 2, lists by 4 with the dash at 2); review those lines too",)


def create(root: Path, environment: str, name: str, options: Options, *,
           file: str | None = None) -> Edit:
    """Add one resource to the environment's YAML (validated; nothing is written)."""
    kind = options.kind
    config = _current(root, environment)
    _refuse_in_production(root, config, kind, name, "create")
    if not RESOURCE_NAME.match(name):
        raise AuthoringError(f"invalid name '{name}': use lowercase letters, digits, '-' and "
                             "'_' (at most 63 characters, starting with a letter or digit)")
    if config.get(kind, name) is not None:
        raise AuthoringError(f"{_where(config, kind, name)}: {kind}.{name} already exists; "
                             "choose another name, or change it in that file")
    spec = resource_spec(options, environment, name)
    path, notes = _target_file(config, kind, file, spec)
    relative = path.relative_to(root).as_posix()
    yaml = round_trip_yaml()
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    loaded = yaml.load(before) if before else None
    if before is not None and not isinstance(loaded, CommentedMap | None):
        raise AuthoringError(f"{relative}: not a mapping of sections; choose another --file")
    value = round_trip_value(spec, flow=False)
    spliced = (append_text(before, kind, name, value)
               if before is not None and loaded is not None else None)
    if spliced is not None:  # the entry's lines inserted, every other byte as it was
        after = spliced
    else:
        doc = append_entry(yaml, loaded if loaded is not None else CommentedMap(), kind, name,
                           value)
        after = dump(yaml, doc)
        if before is None:
            after = SCHEMA_COMMENT + after
        elif loaded is None:  # a file of comments only: keep them on top
            after = before.rstrip("\n") + "\n" + after if before.strip() else after
        else:
            notes += _reformatted(yaml, before, relative)
    address = f"{kind}.{name}"
    result = _validated(root, config, path, after, address)
    written = result.get(kind, name)
    if written is None or written.raw != spec:
        raise AuthoringError(f"{address} cannot be written faithfully to {relative} (it would "
                             "read back differently); add it by hand")
    return Edit(environment, kind, name, "create", FileChange(relative, before, after), notes)


def delete(root: Path, environment: str, kind: str, name: str) -> Edit:
    """Remove one resource from the file that declares it (validated; nothing written)."""
    config = _current(root, environment)
    _refuse_in_production(root, config, kind, name, "delete")
    resource = config.get(kind, name)
    if resource is None:
        known = sorted(config.section(kind))
        listed = (f"{kind} declared here: {', '.join(known)}" if known
                  else f"it declares no {kind}")
        raise AuthoringError(f"{env_dir(config)}: no {singular(kind)} '{name}'"
                             f"{suggest(name, known)}; {listed}")
    path = root / resource.file
    before = path.read_text(encoding="utf-8")
    spliced = remove_text(before, kind, name)
    after: str | None
    if spliced is not None:  # the entry's lines cut out, every other byte as it was
        after = spliced or None
        notes: tuple[str, ...] = () if after is not None else (
            f"{resource.file} declared nothing else and is removed",)
    else:
        yaml = round_trip_yaml()
        doc = remove_entry(yaml, yaml.load(before), kind, name)
        after = dump(yaml, doc) if len(doc) else None
        notes = _reformatted(yaml, before, resource.file) if after is not None else (
            f"{resource.file} declared nothing else and is removed",)
    if getattr(resource.spec, "protect", False):
        notes += (f"{kind}.{name} has protect: true: once applied, plan refuses to destroy "
                  "it until protect: false has been applied first",)
    _validated(root, config, path, after, f"{kind}.{name}")
    return Edit(environment, kind, name, "delete", FileChange(resource.file, before, after),
                notes)


def write(root: Path, edit: Edit) -> None:
    """Write an edit (atomically), unless its file changed since the edit was made."""
    path = root / edit.change.path
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if current != edit.change.before:
        raise AuthoringError(f"{edit.change.path} changed while the edit was being made; "
                             "nothing was written, run the command again")
    write_changes(root, [edit.change])


__all__ = [
    "EVENTS",
    "ApiKeyOptions",
    "Edit",
    "InboundWebhookOptions",
    "Options",
    "TriggerOptions",
    "create",
    "delete",
    "resource_spec",
    "write",
]
