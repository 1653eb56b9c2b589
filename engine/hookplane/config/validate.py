"""Cross-resource rules: references, secrets, ``${env:…}``, templates, filters, mappings.

The small languages (templates, compose patterns, filters, date formats, field paths, value
maps) are parsed and checked by :mod:`hookplane.mapping`, the implementation the runtime
runs; this module only positions their problems and adds what needs the whole
configuration (collections' fields, which roots a template may use, …).

Each rule reports through ``add(file, yaml_path, message, key=..., address=..., hint=...)``
so that the loader can position every problem. Rules only look at resources that passed
model validation, so one mistake does not cascade into many messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus, urlsplit

from hookplane import presets as _presets
from hookplane.config.applied import ENV_REF
from hookplane.config.models import (
    RECORD_EVENTS,
    SYSTEM_EVENTS,
    ApiKey,
    Collection,
    FieldSchema,
    InboundWebhook,
    Mapping,
    Source,
    Trigger,
)
from hookplane.errors import TemplateSyntaxError
from hookplane.mapping import (
    PAYLOAD_ROOTS,
    RECORD_EVENT_ROOTS,
    SYSTEM_EVENT_ROOTS,
    filter_problems,
    json_equal,
    parse_template,
    schema_field,
    validate_mapping,
)

if TYPE_CHECKING:
    from hookplane.config.loader import Config, Resource


class Add(Protocol):
    def __call__(self, file: str, path: tuple[Any, ...], message: str, *, key: bool = False,
                 address: str = "", hint: str = "") -> None: ...


SECRET_HINT = "omit it to have Hookplane generate one at apply, or write ${env:NAME}"
_SENSITIVE_HEADER = re.compile(
    r"authorization|token|secret|api[-_]?key|password|passwd|signature|cookie|credential",
    re.IGNORECASE,
)
_ANY_REF = re.compile(r"\$\{([^}]*)\}?")
PROVIDER_ISSUED_SECRET = _presets.PROVIDER_ISSUED_SECRET
"""Presets whose provider generates the secret (GitHub and Twitch let the user choose one)."""


OWN_VARIABLE_PREFIX = "HOOKPLANE_"
"""``${env:HOOKPLANE_…}`` is refused: those variables configure the runtime (its secret key,
database URL, admin token, allowed networks) and a reference would send them out with the
next delivery."""


_CREDENTIAL_SUFFIXES = (
    "token", "secret", "signature", "password", "passwd", "credential", "credentials",
    "apikey", "accesskey", "secretkey", "privatekey", "signingkey", "authkey", "clientkey",
    "appkey", "masterkey", "hmackey", "passcode",
)
"""A query parameter whose name, lower-cased and without separators, ends like this carries
a credential (``token``, ``accessToken``, ``authtoken``, ``client_secret``, ``X-Amz-Signature``,
``api-key``)."""
_CREDENTIAL_WORDS = ("key", "sig", "auth", "pwd", "pass", "jwt", "hmac")
"""… or whose last word is one of these (``key``, ``api_key``, ``sort_key``, ``sig``)."""
_CREDENTIAL_NAMES = ("code", "sas")
"""… or which is exactly one of these (Azure Functions' ``?code=``; ``country_code`` is not a
credential)."""
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
"""Words of a parameter name: ``X-Amz-Signature``, ``accessToken``, ``APIKey``, ``api_key2``."""
_CREDENTIAL_PATHS = (
    ("hooks.slack.com", re.compile(r"/(?:services|workflows|triggers)/")),
    ("discord.com", re.compile(r"/api/(?:v\d+/)?webhooks/")),
    ("discordapp.com", re.compile(r"/api/(?:v\d+/)?webhooks/")),
    ("hooks.zapier.com", re.compile(r"/hooks/catch/")),
    ("webhook.office.com", re.compile(r"/webhookb2/")),
    ("outlook.office.com", re.compile(r"/webhook/")),
    ("chat.googleapis.com", re.compile(r"/v1/spaces/")),
    ("api.telegram.org", re.compile(r"/bot")),
    ("maker.ifttt.com", re.compile(r"/trigger/[^/]+/(?:json/)?with/key/")),
)
"""Webhook URLs whose path is the credential (Slack incoming webhooks and workflows, Discord,
Zapier, Teams, Google Chat, Telegram bots, IFTTT)."""


def _credential_name(name: str) -> bool:
    """Whether a query (or fragment) parameter named ``name`` carries a credential."""
    words = [word.lower() for word in _WORDS.findall(name)]
    joined = "".join(words)
    return bool(words) and (joined.endswith(_CREDENTIAL_SUFFIXES)
                            or words[-1] in _CREDENTIAL_WORDS or joined in _CREDENTIAL_NAMES)


def _literal_credential(value: str) -> str:
    """What kind of credential a URL carries in its literal text (not in ``${env:…}``
    parts), or an empty string. Never the credential itself."""
    marker = "\x00"
    probe = ENV_REF.sub(marker, value)
    try:
        parts = urlsplit(probe)
        netloc = parts.netloc
        hostname = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    if "@" in netloc and netloc.rsplit("@", 1)[0].replace(marker, "").replace(":", ""):
        return "user info before the host"
    for where, text in (("query", parts.query), ("fragment", parts.fragment)):
        for pair in text.split("&"):
            name, _, given = pair.partition("=")
            decoded = unquote_plus(name).replace(marker, "")
            if given and given.strip(marker) and _credential_name(decoded):
                shown = decoded if decoded.isprintable() else name.replace(marker, "")
                return f"the {where} parameter '{shown}'"
    for host, prefix in _CREDENTIAL_PATHS:
        found = prefix.match(parts.path)
        if (hostname == host or hostname.endswith("." + host)) and found and \
                parts.path[found.end():].strip("/" + marker):
            return f"a {host} webhook path"
    return ""


def _has_ref(value: str) -> bool:
    return ENV_REF.search(value) is not None


def _malformed_refs(value: str) -> list[str]:
    bad = []
    for match in _ANY_REF.finditer(value):
        if not ENV_REF.fullmatch(match.group(0)):
            bad.append(match.group(0))
    return bad


# --------------------------------------------------------------------------- schema helpers


def _string_leaves(path: tuple[Any, ...], value: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(yaml path, text) for every string leaf of a JSON-like value, in document order."""
    if isinstance(value, str):
        return [(path, value)]
    found: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_string_leaves((*path, key), item))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_string_leaves((*path, index), item))
    return found


def _field_names(schema: FieldSchema) -> list[str]:
    return sorted(schema.properties or {})


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --------------------------------------------------------------------------- the rules


class _Checker:
    def __init__(self, config: Config, add: Add) -> None:
        self.config = config
        self._add = add

    def add(self, resource: Resource, path: tuple[Any, ...], message: str, *,
            key: bool = False, hint: str = "") -> None:
        self._add(resource.file, (resource.kind, resource.name, *path), message, key=key,
                  address=resource.address, hint=hint)

    # ---------------------------------------------------------------- lookups

    def collection(self, resource: Resource, path: tuple[Any, ...],
                   name: str | None) -> Collection | None:
        if name is None:
            return None
        found = self.config.get("collections", name)
        if found is None:
            known = self.config.section("collections")
            self.add(resource, path, f"unknown collection '{name}'{_did_you_mean(name, known)}"
                     + ("" if known else "; declare it under 'collections'"))
            return None
        if not found.valid:
            return None
        spec = found.spec
        assert isinstance(spec, Collection)
        return spec

    def source(self, resource: Resource, path: tuple[Any, ...], name: str) -> Source | None:
        found = self.config.get("sources", name)
        if found is None:
            known = self.config.section("sources")
            self.add(resource, path, f"unknown source '{name}'{_did_you_mean(name, known)}"
                     + ("" if known else "; declare it under 'sources'"))
            return None
        if not found.valid:
            return None
        spec = found.spec
        assert isinstance(spec, Source)
        return spec

    # ---------------------------------------------------------------- generic

    def env_refs(self, resource: Resource, allowed: Callable[[tuple[Any, ...]], bool]) -> None:
        stack: list[tuple[tuple[Any, ...], Any]] = [((), resource.raw)]
        while stack:
            path, value = stack.pop()
            if isinstance(value, dict):
                stack.extend(((*path, k), v) for k, v in value.items())
            elif isinstance(value, list):
                stack.extend(((*path, i), v) for i, v in enumerate(value))
            elif isinstance(value, str) and "${" in value:
                bad = _malformed_refs(value)
                if bad:
                    self.add(resource, path, f"malformed reference '{bad[0]}': write "
                             "${env:NAME} (NAME: letters, digits, '_')")
                elif not allowed(path):
                    self.add(resource, path, "environment references (${env:NAME}) are allowed "
                             "only in URLs, headers, source settings and secret fields")
                else:
                    own = [name for name in ENV_REF.findall(value)
                           if name.upper().startswith(OWN_VARIABLE_PREFIX)]
                    if own:
                        self.add(resource, path,
                                 f"${{env:{own[0]}}} is one of Hookplane's own variables "
                                 "(HOOKPLANE_*: the secret key, the database URL, the admin "
                                 "token …), which configuration may not send anywhere",
                                 hint="reference a variable of your own, e.g. "
                                      "${env:SLACK_WEBHOOK_URL}")

    def secret_field(self, resource: Resource, path: tuple[Any, ...], value: str | None) -> None:
        if value is None or _malformed_refs(value):
            return  # a malformed ${…} is reported once, by env_refs
        if not ENV_REF.fullmatch(value):
            self.add(resource, path, "a secret must not be written in YAML", hint=SECRET_HINT)

    def headers(self, resource: Resource, path: tuple[Any, ...],
                headers: dict[str, str]) -> None:
        for name, value in headers.items():
            if _SENSITIVE_HEADER.search(name) and not _has_ref(value) and not (
                _malformed_refs(value)
            ):
                self.add(resource, (*path, name),
                         f"header '{name}' carries a credential and must not be literal in YAML",
                         hint="write its value with ${env:NAME}, e.g. 'Bearer ${env:API_TOKEN}'")

    def url(self, resource: Resource, path: tuple[Any, ...], value: str | None) -> None:
        if value is None or ENV_REF.fullmatch(value) or _malformed_refs(value):
            return  # a malformed ${…} is reported once, by env_refs
        probe = ENV_REF.sub("x", value)
        try:
            parts = urlsplit(probe)
            hostname = parts.hostname
        except ValueError:
            hostname = None
        if hostname is None or parts.scheme not in ("http", "https"):
            self.add(resource, path, "not an http(s) URL",
                     hint="e.g. https://hooks.example.com/path, or ${env:NAME}")
            return
        credential = _literal_credential(value)
        if credential:
            self.add(resource, path,
                     f"a literal URL with a credential in it ({credential}): secrets never go "
                     "in YAML", hint="write the whole URL, or the secret part, as ${env:NAME}")

    def endpoint_path(self, resource: Resource, path: tuple[Any, ...], value: str) -> None:
        """A source endpoint's ``path`` ends up in a URL: its query may not carry a literal
        credential either."""
        if _malformed_refs(value):
            return
        credential = _literal_credential("https://endpoint.invalid" + value)
        if credential:
            self.add(resource, path,
                     f"a literal URL with a credential in it ({credential}): secrets never go "
                     "in YAML", hint="write the secret part as ${env:NAME}")

    def templates(self, resource: Resource, path: tuple[Any, ...], value: Any, *,
                  roots: tuple[str, ...], schema: FieldSchema | None) -> None:
        record_roots = ("record", "previous")
        usage = ", ".join(r + ".…" if r in (*record_roots, "payload", "data") else r
                          for r in roots)
        for leaf, text in _string_leaves(path, value):
            try:
                references = parse_template(text).references
            except TemplateSyntaxError as exc:
                self.add(resource, leaf, f"template error at {exc.where}: {exc.reason}")
                continue
            for reference in references:
                root, _, rest = reference.partition(".")
                shown = "{{" + reference + "}}"
                if root not in roots:
                    only = (" (only a trigger that lists nothing but system events gets "
                            "data)" if root in SYSTEM_EVENT_ROOTS and root not in
                            RECORD_EVENT_ROOTS and roots == RECORD_EVENT_ROOTS else "")
                    self.add(resource, leaf, f"template refers to '{shown}': '{root}' is not "
                             f"available here{_did_you_mean(root, roots)}; use {usage}{only}")
                elif (root in record_roots and schema is not None and rest
                      and schema_field(schema, rest) is None):
                    first = rest.split(".")[0]
                    self.add(resource, leaf, f"template refers to '{shown}' but the collection "
                             f"has no field '{rest}'{_did_you_mean(first, _field_names(schema))}")

    # ---------------------------------------------------------------- mappings

    def mapping(self, resource: Resource, path: tuple[Any, ...], mapping: Mapping,
                schema: FieldSchema | None, *, inbound: bool) -> None:
        """The mapping's problems (the rules are :func:`hookplane.mapping.validate_mapping`'s),
        each at its key."""
        for problem in validate_mapping(mapping, inbound=inbound, schema=schema):
            self.add(resource, (*path, *problem.where), problem.message, key=problem.key,
                     hint=problem.hint)

    # ---------------------------------------------------------------- resources

    def check_source(self, resource: Resource, spec: Source) -> None:
        self.env_refs(resource, lambda p: not (p and p[0] == "mapping"))
        self.headers(resource, ("headers",), spec.headers)
        for name in ("read", "write"):
            endpoint = getattr(spec, name)
            if endpoint is not None:
                self.headers(resource, (name, "headers"), endpoint.headers)
        self.url(resource, ("base_url",), spec.base_url)
        for name in ("read", "write"):
            endpoint = getattr(spec, name)
            if endpoint is not None:
                self.endpoint_path(resource, (name, "path"), endpoint.path)
        collection = self.collection(resource, ("collection",), spec.collection)
        inbound = spec.read is not None or self._bound_by_inbound(resource.name)
        self.mapping(resource, ("mapping",), spec.mapping,
                     collection.schema_ if collection else None, inbound=inbound)

    def _bound_by_inbound(self, source: str) -> bool:
        for item in self.config.section("inbound_webhooks").values():
            spec = item.spec
            if item.valid and isinstance(spec, InboundWebhook) and spec.source_binding and (
                spec.source_binding.source == source
            ):
                return True
        return False

    def check_trigger(self, resource: Resource, spec: Trigger) -> None:
        self.env_refs(resource, lambda p: p[:1] in (("url",), ("headers",))
                      or p == ("signing", "secret"))
        self.secret_field(resource, ("signing", "secret"), spec.signing.secret)
        self.headers(resource, ("headers",), spec.headers)
        self.url(resource, ("url",), spec.url)
        collection = self.collection(resource, ("collection",), spec.collection)
        schema = collection.schema_ if collection else None
        if spec.filter:
            self.filter(resource, ("filter",), spec.filter, schema, spec.collection)
        if collection is not None:
            for index, event in enumerate(spec.events):
                if event in RECORD_EVENTS or event in SYSTEM_EVENTS:
                    continue
                if event not in (collection.events or {}):
                    declared = ", ".join(collection.events or {}) or "none"
                    self.add(resource, ("events", index),
                             f"collection '{spec.collection}' declares no event '{event}'"
                             f"{_did_you_mean(event, collection.events or {})} (declared: "
                             f"{declared}); declare it under the collection's 'events'")
        if spec.body is not None:
            # rendered for every event listed: over a system event's data (also as 'record')
            # when the trigger lists only system events, else over the collection's records
            system_only = all(event in SYSTEM_EVENTS for event in spec.events)
            self.templates(resource, ("body",), spec.body,
                           roots=SYSTEM_EVENT_ROOTS if system_only else RECORD_EVENT_ROOTS,
                           schema=None if system_only else schema)
        if spec.external_write is not None:
            source = self.source(resource, ("external_write", "source"),
                                 spec.external_write.source)
            if source is not None:
                if source.write is None:
                    self.add(resource, ("external_write", "source"),
                             f"source '{spec.external_write.source}' has no 'write' endpoint to "
                             "send the record to; add write: {method: PUT, path: \"/…/{id}\"}")
                if spec.collection is not None and source.collection != spec.collection:
                    self.add(resource, ("external_write", "source"),
                             f"source '{spec.external_write.source}' is bound to collection "
                             f"'{source.collection}', but the trigger watches "
                             f"'{spec.collection}'")

    def check_inbound(self, resource: Resource, spec: InboundWebhook) -> None:
        def allowed(p: tuple[Any, ...]) -> bool:
            return p in (("auth", "secret"), ("auth", "verify_token")) or p[:3] in (
                ("action", "invoke", "url"), ("action", "invoke", "headers"))

        self.env_refs(resource, allowed)
        self.secret_field(resource, ("auth", "secret"), spec.auth.secret)
        self.secret_field(resource, ("auth", "verify_token"), spec.auth.verify_token)
        if spec.auth.type in PROVIDER_ISSUED_SECRET and spec.auth.secret is None:
            variable = (_presets.PRESETS[spec.auth.type].secret_env
                        or f"{spec.auth.type.upper()}_WEBHOOK_SECRET")
            self.add(resource, ("auth",),
                     f"{spec.auth.type} issues the signing secret itself, so Hookplane cannot "
                     "generate it", hint=f"set auth.secret: ${{env:{variable}}} and export it "
                     "where you run apply")
        collection = self.collection(resource, ("collection",), spec.collection)
        schema = collection.schema_ if collection else None
        if spec.source_binding is not None:
            binding = spec.source_binding
            bound = self.collection(resource, ("source_binding", "collection"),
                                    binding.collection)
            source = self.source(resource, ("source_binding", "source"), binding.source)
            if source is not None and bound is not None and source.collection != binding.collection:
                self.add(resource, ("source_binding",),
                         f"source '{binding.source}' belongs to collection "
                         f"'{source.collection}', not '{binding.collection}'")
            if spec.collection is not None and binding.collection != spec.collection:
                self.add(resource, ("source_binding", "collection"),
                         f"the binding's collection '{binding.collection}' must be the "
                         f"webhook's target collection '{spec.collection}'")
            if spec.hydration is not None and source is not None and source.read is None:
                self.add(resource, ("hydration",),
                         f"hydration fetches from source '{binding.source}', which has no "
                         "'read' endpoint; add read: {method: GET, path: \"/…/{id}\"}")
        if spec.mapping is not None:
            self.mapping(resource, ("mapping",), spec.mapping, schema, inbound=True)
        action = spec.action
        if action.create is not None:
            target = self.collection(resource, ("action", "create", "collection"),
                                     action.create.collection)
            self.templates(resource, ("action", "create", "fields"), action.create.fields,
                           roots=PAYLOAD_ROOTS, schema=None)
            if target is not None:
                names = _field_names(target.schema_)
                for field in action.create.fields:
                    if schema_field(target.schema_, field) is None:
                        self.add(resource, ("action", "create", "fields", field),
                                 f"collection '{action.create.collection}' has no field "
                                 f"'{field}'{_did_you_mean(field, names)}", key=True)
                missing = [f for f in target.schema_.required or []
                           if f not in action.create.fields]
                if missing:
                    self.add(resource, ("action", "create", "fields"),
                             f"required field(s) {', '.join(missing)} of collection "
                             f"'{action.create.collection}' are not set, so every delivery "
                             "would be rejected")
        if action.invoke is not None:
            self.url(resource, ("action", "invoke", "url"), action.invoke.url)
            self.headers(resource, ("action", "invoke", "headers"), action.invoke.headers)
            if action.invoke.input is not None:
                self.templates(resource, ("action", "invoke", "input"), action.invoke.input,
                               roots=PAYLOAD_ROOTS, schema=None)
            if action.invoke.collection is not None:
                self.collection(resource, ("action", "invoke", "collection"),
                                action.invoke.collection)

    def check_api_key(self, resource: Resource, spec: ApiKey) -> None:
        self.env_refs(resource, lambda p: False)
        for index, scope in enumerate(spec.scopes):
            _, _, name = scope.partition(":")
            if name:
                self.collection(resource, ("scopes", index), name)

    def filter(self, resource: Resource, path: tuple[Any, ...], spec: dict[str, Any],
               schema: FieldSchema | None, collection: str | None) -> None:
        """A filter's syntax, and its fields and values against the collection's schema: an
        unknown field, or a value outside the field's enum, can never match."""
        broken = set()
        for problem in filter_problems(spec):
            where = path if problem.field is None else (*path, problem.field)
            self.add(resource, where, str(problem), key=problem.field is not None)
            broken.add(problem.field)
        if schema is None:
            return
        for field, condition in spec.items():
            if not isinstance(field, str) or field in broken:
                continue
            found = schema_field(schema, field)
            if found is None:
                self.add(resource, (*path, field),
                         f"filter field '{field}' is not in collection '{collection}'"
                         f"{_did_you_mean(field.split('.')[0], _field_names(schema))}",
                         key=True)
                continue
            if isinstance(found, bool) or not found.enum:
                continue
            for value in _matched_values(condition):
                if isinstance(value, str) and ENV_REF.search(value):
                    continue  # reported as a misplaced reference
                if not any(json_equal(value, allowed) for allowed in found.enum):
                    allowed_text = ", ".join(str(v) for v in found.enum)
                    self.add(resource, (*path, field),
                             f"filter value {value!r} for '{field}' is not one of the "
                             f"field's values ({allowed_text}): it can never match")

    def check_collection(self, resource: Resource, spec: Collection) -> None:
        self.env_refs(resource, lambda p: False)
        for name, event in (spec.events or {}).items():
            if event.when:
                self.filter(resource, ("events", name, "when"), event.when, spec.schema_,
                            resource.name)
            for index, field in enumerate(event.changes):
                if schema_field(spec.schema_, field) is None:
                    self.add(resource, ("events", name, "changes", index),
                             f"field '{field}' is not in collection '{resource.name}'"
                             f"{_did_you_mean(field.split('.')[0], _field_names(spec.schema_))}")

    def renames(self) -> None:
        for kind, items in self.config.resources.items():
            for resource in items.values():
                old = resource.raw.get("renamed_from")
                if isinstance(old, str) and old in items:
                    self.add(resource, ("renamed_from",),
                             f"renamed_from '{old}', but '{kind}.{old}' is still declared; "
                             "remove the old definition")


def _matched_values(condition: Any) -> list[Any]:
    """The values a filter condition needs a field to equal (equality, one-of, ``eq``,
    ``in``); conditions that exclude values (``ne``, ``not_in``) or compare give none."""
    if isinstance(condition, list):
        return [v for v in condition if not isinstance(v, dict | list)]
    if isinstance(condition, dict):
        values: list[Any] = []
        if "eq" in condition and not isinstance(condition["eq"], dict | list):
            values.append(condition["eq"])
        if isinstance(condition.get("in"), list):
            values.extend(v for v in condition["in"] if not isinstance(v, dict | list))
        return values
    return [condition]


def validate_config(config: Config, add: Add) -> None:
    """Run every cross-resource rule over a loaded configuration."""
    checker = _Checker(config, add)
    handlers: dict[type[Any], Callable[[Any, Any], None]] = {
        Collection: checker.check_collection,
        Source: checker.check_source,
        Trigger: checker.check_trigger,
        InboundWebhook: checker.check_inbound,
        ApiKey: checker.check_api_key,
    }
    for resource in config.all_resources():
        if resource.valid:
            handlers[type(resource.spec)](resource, resource.spec)
    checker.renames()
