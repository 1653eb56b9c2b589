"""Invalid configurations: YAML text -> the exact ``file:line:column`` and message a user sees.

Every case writes ``environments/preview/main.yaml`` (or another file) into a fresh project
whose ``environments/preview/base.yaml`` declares a few valid collections and sources to
refer to, and whose ``environments/production`` is valid and empty. The whole project is
loaded with :func:`hookplane.config.load_all` and the diagnostics are compared with the
case: exactly ``count`` problems (1 unless stated), the first at ``where`` (relative to
``environments/preview/``) and containing ``fragment``. Asking for exactly one problem is
what keeps a single mistake from cascading into several messages.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hookplane.config import load_all, yamlio
from hookplane.errors import ConfigError, Diagnostic

ENVIRONMENT = "name: preview\nkind: preview\npromotes_to: production\n"

BASE = """\
collections:
  incidents:
    schema:
      type: object
      required: [title, severity]
      properties:
        title: {type: string}
        severity: {type: string, enum: [p1, p2, p3]}
        status: {type: string}
        opened_at: {type: string, format: date-time}
        count: {type: integer}
        owner:
          type: object
          properties:
            name: {type: string}
  tasks:
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}
        priority: {type: string}
sources:
  pagerduty:
    collection: incidents
    base_url: https://api.pagerduty.example
    read: {path: "/incidents/{id}"}
    write: {method: PUT, path: "/incidents/{id}"}
  reader:
    collection: incidents
    base_url: https://reader.example
    read: {path: "/r/{id}"}
  writer:
    collection: incidents
    base_url: https://writer.example
    write: {method: PUT, path: "/w/{id}"}
  task-api:
    collection: tasks
    base_url: https://tasks.example
    read: {path: "/t/{id}"}
"""
"""Valid resources the cases refer to; ``tasks`` is declared at base.yaml:16:3."""

SECRET_HINT = "(omit it to have Hookplane generate one at apply, or write ${env:NAME})"
ENV_ONLY = ("environment references (${env:NAME}) are allowed only in URLs, headers, "
            "source settings and secret fields")


@dataclass(frozen=True)
class Case:
    text: str | bytes | None
    """Content of ``file``; ``None`` writes nothing. Text is dedented."""
    where: str
    """``file:line:column`` (or just ``file``) relative to environments/preview/."""
    fragment: str
    file: str = "main.yaml"
    environment: str | bytes | None = ENVIRONMENT
    count: int = 1


def case(text: str | bytes | None, where: str, fragment: str, *, id: str,
         **options: Any) -> Any:
    return pytest.param(Case(text, where, fragment, **options), id=id)


def _laughs(levels: int = 9) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for index in range(1, levels):
        name, previous = chr(ord("a") + index), chr(ord("a") + index - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "\n".join(lines) + "\n"


DISCORD_KEY = "e2ade43bfaf88e2d468a51c1b44f2e6cc3057a204d804a76b9e8a72186b61cdf"
"""A well-formed Ed25519 public key (hex), as Discord's Developer Portal shows one."""

TRIGGER = """\
triggers:
  t:
    collection: incidents
    events: [create]
    url: https://hooks.example.com/t
"""
"""A valid trigger; cases append one line at line 6 (column 5 is its key)."""


CASES = [
    # ------------------------------------------------------------------ YAML itself
    case("collections:\n\tincidents: {}\n", "main.yaml:2:1",
         "invalid YAML: tab character: YAML must be indented with spaces, not tabs",
         id="yaml-tab-indent"),
    case("triggers:\n  t:\n    url: https://x.example\n   events: [create]\n",
         "main.yaml:4:4", "invalid YAML: while parsing a block mapping, did not find expected key",
         id="yaml-bad-indentation"),
    case("collections:\n  a: {schema: {type: object}\n", "main.yaml:3:1",
         "invalid YAML: while parsing a flow mapping", id="yaml-unclosed-flow-mapping"),
    case(b"collections:\n  caf\xe9:\n    schema: {type: object}\n", "main.yaml:2:6",
         "file is not UTF-8 (byte 0xe9); save it as UTF-8", id="non-utf8-byte"),
    case("collections:\n  a: {schema: {type: object}}\n  a: {schema: {type: object}}\n",
         "main.yaml:3:3",
         "invalid YAML: duplicate key 'a' (first defined at line 2, column 3); a key may appear "
         "once per mapping", id="duplicate-key"),
    case("triggers:\n  t:\n    url: https://a.example\n    events: [create]\n"
         "    url: https://b.example\n", "main.yaml:5:5", "duplicate key 'url'",
         id="duplicate-key-nested"),
    case('triggers: !!python/object/apply:os.system ["echo owned"]\n', "main.yaml:1:11",
         "invalid YAML: YAML tags that construct objects are not allowed: "
         "'tag:yaml.org,2002:python/object/apply:os.system'", id="python-object-tag"),
    case("collections: !!python/name:os.system\n", "main.yaml:1:14",
         "YAML tags that construct objects are not allowed", id="python-name-tag"),
    case(_laughs(), "main.yaml:1:1",
         "document expands to too many values through aliases (more than 2,000,000)",
         id="billion-laughs"),
    case("a: &a [*a]\n", "main.yaml:1:4", "recursive alias: a node contains itself",
         id="recursive-alias"),
    case("x: " + "[" * 150 + "]" * 150 + "\n", "main.yaml:1:104",
         "invalid YAML: document nested deeper than 100 levels", id="deep-nesting-flow"),
    case("".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n",
         "main.yaml:102:203", "document nested deeper than 100 levels",
         id="deep-nesting-block"),
    case("- collections\n- triggers\n", "main.yaml:1:1",
         "a resource file must be a mapping of sections (collections, sources, triggers, "
         "inbound_webhooks, api_keys)", id="file-is-a-list"),
    # ------------------------------------------------------------------ sections and names
    case("trigers:\n  t: {}\n", "main.yaml:1:1",
         "unknown section 'trigers' (did you mean 'triggers'?); sections are collections, "
         "sources, triggers, inbound_webhooks, api_keys", id="unknown-section"),
    case("name: preview\n", "main.yaml:1:1",
         "unknown section 'name' (environment fields belong in environment.yaml)",
         id="environment-field-in-resource-file"),
    case("triggers: [a, b]\n", "main.yaml:1:11", "'triggers' must map names to definitions",
         id="section-not-a-mapping"),
    case("collections:\n  Bad_Name: {schema: {type: object}}\n", "main.yaml:2:3",
         "invalid name 'Bad_Name': use lowercase letters, digits, '-' and '_' (at most 63 "
         "characters, starting with a letter or digit)", id="invalid-name-case"),
    case("api_keys:\n  -ci: {scopes: [read]}\n", "main.yaml:2:3", "invalid name '-ci'",
         id="invalid-name-leading-dash"),
    case("api_keys:\n  " + "k" * 64 + ": {scopes: [read]}\n", "main.yaml:2:3",
         "invalid name 'kkkk", id="invalid-name-too-long"),
    case("api_keys:\n  ci: [read]\n", "main.yaml:2:7", "api_keys.ci: must be a mapping of fields",
         id="resource-not-a-mapping"),
    case("collections:\n  tasks:\n    schema: {type: object}\n", "main.yaml:2:3",
         "collections.tasks: defined twice: also at environments/preview/base.yaml:16:3; keep "
         "one definition", id="defined-twice-across-files"),
    case("collections:\n  tasks:\n    schema: {type: object}\n", "nested/deeper/more.yml:2:3",
         "defined twice: also at environments/preview/base.yaml:16:3",
         file="nested/deeper/more.yml", id="defined-twice-yml-in-subdirectory"),
    # ------------------------------------------------------------------ unknown keys
    case(TRIGGER.replace("    events", "    evnts"), "main.yaml:4:5",
         "triggers.t: unknown key 'evnts' (did you mean 'events'?)", id="typo-trigger-key"),
    case(TRIGGER + "    retry: {attempts: 2, max_second: 3}\n", "main.yaml:6:26",
         "unknown key 'max_second' (did you mean 'max_seconds'?)", id="typo-retry-key"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: hmac, headr: X-Sig}\n", "main.yaml:4:24",
         "inbound_webhooks.w: unknown key 'headr' (did you mean 'header'?)", id="typo-auth-key"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             source_binding: {collection: incidents, source: pagerduty}
             hydration:
               id_path: id
               mrege: true
         """, "main.yaml:7:7", "unknown key 'mrege' (did you mean 'merge'?)",
         id="typo-hydration-key"),
    case("""\
         collections:
           c:
             schema:
               type: object
               properties:
                 at: {type: string, formt: date-time}
         """, "main.yaml:6:28", "collections.c: unknown key 'formt' (did you mean 'format'?)",
         id="typo-schema-property-key"),
    case("""\
         collections:
           c:
             schema:
               type: object
               properties:
                 tags:
                   type: array
                   items: {type: object, propertes: {}}
         """, "main.yaml:8:33", "unknown key 'propertes' (did you mean 'properties'?)",
         id="typo-schema-items-key"),
    case("""\
         inbound_webhooks:
           w:
             action:
               create:
                 collection: tasks
                 feilds: {title: x}
         """, "main.yaml:6:9", "unknown key 'feilds' (did you mean 'fields'?)",
         id="typo-create-action-key"),
    case("collections:\n  c:\n    schema: {type: objekt}\n", "main.yaml:3:20",
         "schema.type: \"objekt\" is not one of 'object', 'string', 'number', 'integer', "
         "'boolean', 'array' or 'null' (did you mean 'object'?)", id="bad-json-type"),
    # ------------------------------------------------------------------ environment.yaml
    case("collections: {}\n", "environment.yaml",
         "missing environment.yaml (name, kind: preview|production, promotes_to); "
         "'hookplane init' scaffolds one", environment=None, id="missing-environment-yaml"),
    case(None, "environment.yaml:1:7",
         "name 'staging' does not match the directory 'preview'; rename one of them",
         environment="name: staging\nkind: preview\n", id="environment-name-mismatch"),
    case(None, "environment.yaml:2:7",
         "kind: \"prod\" is not one of 'preview' or 'production' (did you mean 'production'?)",
         environment="name: preview\nkind: prod\n", id="environment-bad-kind"),
    case(None, "environment.yaml:1:1", "missing required field 'kind'",
         environment="name: preview\n", id="environment-missing-kind"),
    case(None, "environment.yaml:3:1", "unknown key 'promote_to' (did you mean 'promotes_to'?)",
         environment="name: preview\nkind: preview\npromote_to: production\n",
         id="environment-typo"),
    case(None, "environment.yaml:3:14",
         "promotes_to 'prodution' is not an environment (did you mean 'production'?)",
         environment="name: preview\nkind: preview\npromotes_to: prodution\n",
         id="promotes-to-unknown"),
    case(None, "environment.yaml:3:14", "an environment cannot promote to itself",
         environment="name: preview\nkind: preview\npromotes_to: preview\n",
         id="promotes-to-itself"),
    case(None, "environment.yaml:2:7",
         "invalid YAML: mapping values are not allowed in this context",
         environment="name: preview\n  kind: preview\n", id="environment-broken-yaml"),
    case(None, "environment.yaml:3:1",
         "'triggers' belongs in a resource file, not in environment.yaml (e.g. triggers.yaml)",
         environment="name: preview\nkind: preview\ntriggers: {}\n",
         id="environment-with-section"),
    case(None, "environment.yaml:1:1", "environment.yaml must be a mapping with name and kind",
         environment="- preview\n", id="environment-not-a-mapping"),
    # ------------------------------------------------------------------ secrets and ${env:}
    case(TRIGGER + "    signing: {secret: hunter2}\n", "main.yaml:6:23",
         "triggers.t: a secret must not be written in YAML " + SECRET_HINT,
         id="literal-signing-secret"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: hmac, secret: s3cr3t-value}\n", "main.yaml:4:32",
         "inbound_webhooks.w: a secret must not be written in YAML " + SECRET_HINT,
         id="literal-auth-secret"),
    case(TRIGGER + "    headers: {Authorization: Bearer abc123}\n", "main.yaml:6:30",
         "header 'Authorization' carries a credential and must not be literal in YAML (write "
         "its value with ${env:NAME}, e.g. 'Bearer ${env:API_TOKEN}')",
         id="literal-authorization-header"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             headers:
               X-Api-Key: abc123
         """, "main.yaml:6:18", "header 'X-Api-Key' carries a credential",
         id="literal-api-key-header"),
    case("""\
         inbound_webhooks:
           run:
             auth: {type: bearer}
             action:
               invoke:
                 url: https://agents.example.com/run
                 headers: {Authorization: "Bearer sk-live-1"}
         """, "main.yaml:7:34", "header 'Authorization' carries a credential",
         id="literal-invoke-authorization"),
    case("""\
         inbound_webhooks:
           w:
             auth: {type: hmac, signature: {}}
         """, "main.yaml:3:11", "'signature' applies to auth type 'bearer'",
         id="signature-on-hmac"),
    case("""\
         inbound_webhooks:
           w:
             auth: {type: bearer, secret: "${env:TOKEN}"}
         """, "main.yaml:3:11", "auth type 'bearer' takes no 'secret'",
         id="bearer-with-secret-and-no-signature"),
    case("""\
         inbound_webhooks:
           w:
             auth: {type: bearer, signature: {encoding: sha1}}
         """, "main.yaml:3:48", "auth.signature.encoding: \"sha1\" is not one of",
         id="bearer-signature-bad-encoding"),
    case(TRIGGER + "    rate_limit: {deliveries: 0}\n", "main.yaml:6:30",
         "rate_limit.deliveries", id="trigger-rate-limit-zero"),
    case(TRIGGER.replace("https://hooks.example.com/t", '"${env:slack-url}"'), "main.yaml:5:10",
         "malformed reference '${env:slack-url}': write ${env:NAME} (NAME: letters, digits, '_')",
         id="malformed-env-name"),
    case(TRIGGER + '    headers: {X-Token: "${env:TOKEN"}\n', "main.yaml:6:24",
         "malformed reference '${env:TOKEN'", id="malformed-env-unclosed"),
    case(TRIGGER + '    signing: {secret: "${ENV:SECRET}"}\n', "main.yaml:6:23",
         "malformed reference '${ENV:SECRET}'", id="malformed-env-prefix"),
    case("""\
         collections:
           c:
             schema:
               type: object
               properties:
                 a: {type: string, description: "${env:X}"}
         """, "main.yaml:6:40", "collections.c: " + ENV_ONLY, id="env-ref-in-schema"),
    case(TRIGGER + '    filter: {severity: "${env:SEVERITY}"}\n', "main.yaml:6:24",
         "triggers.t: " + ENV_ONLY, id="env-ref-in-filter"),
    case(TRIGGER + '    body: {text: "${env:MESSAGE}"}\n', "main.yaml:6:18", ENV_ONLY,
         id="env-ref-in-body"),
    case("""\
         inbound_webhooks:
           w:
             action:
               create:
                 collection: tasks
                 fields: {title: "${env:TITLE}"}
         """, "main.yaml:6:25", ENV_ONLY, id="env-ref-in-create-fields"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             mapping:
               computed: {title: "${env:TITLE}"}
         """, "main.yaml:6:25", ENV_ONLY, id="env-ref-in-mapping"),
    case("api_keys:\n  k: {scopes: [read], description: \"${env:WHO}\"}\n", "main.yaml:2:36",
         ENV_ONLY, id="env-ref-in-api-key"),
    # ------------------------------------------------------------------ references
    case(TRIGGER.replace("collection: incidents", "collection: incident"), "main.yaml:3:17",
         "triggers.t: unknown collection 'incident' (did you mean 'incidents'?)",
         id="unknown-collection-trigger"),
    case("sources:\n  s:\n    collection: ticket\n    base_url: https://s.example\n",
         "main.yaml:3:17", "sources.s: unknown collection 'ticket'",
         id="unknown-collection-source"),
    case("triggers:\n  t:\n    collection: incidents\n    events: [update]\n"
         "    external_write: {source: pagerduti}\n", "main.yaml:5:30",
         "unknown source 'pagerduti' (did you mean 'pagerduty'?)", id="unknown-source-write"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    source_binding: {collection: incidents, source: pager}\n", "main.yaml:4:53",
         "unknown source 'pager'", id="unknown-source-binding"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    mapping: {to_external: {title: summary}}\n"
         "    source_binding: {collection: incidents, source: pagerduty}\n", "main.yaml:3:5",
         "inbound_webhooks.w: 'mapping' and 'source_binding' are mutually exclusive: use the "
         "source's mapping or an inline one, not both", id="mapping-and-source-binding"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    hydration: {id_path: id}\n",
         "main.yaml:3:5",
         "'hydration' needs a 'source_binding' (the source's read endpoint is fetched)",
         id="hydration-without-binding"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    source_binding: {collection: incidents, source: writer}\n"
         "    hydration: {id_path: id}\n", "main.yaml:5:16",
         "hydration fetches from source 'writer', which has no 'read' endpoint; add read: "
         "{method: GET, path: \"/…/{id}\"}", id="hydration-source-without-read"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    source_binding: {collection: incidents, source: task-api}\n", "main.yaml:4:21",
         "source 'task-api' belongs to collection 'tasks', not 'incidents'",
         id="binding-source-collection-mismatch"),
    case("inbound_webhooks:\n  w:\n    collection: tasks\n"
         "    source_binding: {collection: incidents, source: pagerduty}\n", "main.yaml:4:34",
         "the binding's collection 'incidents' must be the webhook's target collection 'tasks'",
         id="binding-collection-not-target"),
    case("inbound_webhooks:\n  w:\n    auth: {type: hmac}\n", "main.yaml:3:5",
         "an upsert inbound webhook needs a target 'collection'", id="upsert-without-collection"),
    # ------------------------------------------------------------------ filters and templates
    case(TRIGGER + "    filter: {severty: p1}\n", "main.yaml:6:14",
         "filter field 'severty' is not in collection 'incidents' (did you mean 'severity'?)",
         id="filter-unknown-field"),
    case(TRIGGER + "    filter: {owner.nmae: ada}\n", "main.yaml:6:14",
         "filter field 'owner.nmae' is not in collection 'incidents'",
         id="filter-unknown-nested-field"),
    case(TRIGGER + "    filter:\n      count: {gtee: 1}\n", "main.yaml:7:7",
         "unknown filter operator 'gtee' (did you mean 'gte'?); operators are eq, ne, in, "
         "not_in, exists, gt, gte, lt, lte", id="filter-bad-operator"),
    case(TRIGGER + "    filter: {severity: {in: p1}}\n", "main.yaml:6:14",
         "'in' needs a list of values", id="filter-in-not-a-list"),
    case(TRIGGER + "    filter: {status: {exists: maybe}}\n", "main.yaml:6:14",
         "'exists' needs true or false", id="filter-exists-not-boolean"),
    case(TRIGGER + "    filter: {severity: {}}\n", "main.yaml:6:14",
         "filter field 'severity': no condition; give a value, a list of values, or operators "
         "such as {ne: closed}", id="filter-no-condition"),
    case(TRIGGER + "    filter: {first name: ada}\n", "main.yaml:6:14",
         "filter field 'first name': 'first name' is not a field path", id="filter-bad-path"),
    case(TRIGGER + '    body: {text: "ok\\n{{ record.title }} {{ nope!"}\n', "main.yaml:6:18",
         "template error at line 2, column 20: unclosed '{{'", id="template-error-line-2"),
    case(TRIGGER + '    body: {text: "{{ 1+1 }}"}\n', "main.yaml:6:18",
         "template error at column 1: '{{ 1+1 }}' is not a placeholder: only a dotted path "
         "such as {{ payload.alert.severity }} is allowed (no expressions, filters or calls)",
         id="template-expression"),
    case(TRIGGER + '    body: {text: "{{ record.title | upper }}"}\n', "main.yaml:6:18",
         "'{{ record.title | upper }}' is not a placeholder", id="template-filter-syntax"),
    case(TRIGGER + '    body: {text: "P1: {{record.title"}\n', "main.yaml:6:18",
         "template error at column 5: unclosed '{{': close the placeholder with '}}'",
         id="template-unclosed"),
    case(TRIGGER + '    body: {text: "{{recrd.title}}"}\n', "main.yaml:6:18",
         "template refers to '{{recrd.title}}': 'recrd' is not available here (did you mean "
         "'record'?)", id="template-unknown-root"),
    case(TRIGGER + "    body:\n      blocks:\n        - type: section\n"
         '          text: "{{record.title}} {{record.sevrity}}"\n', "main.yaml:9:17",
         "template refers to '{{record.sevrity}}' but the collection has no field 'sevrity' "
         "(did you mean 'severity'?)", id="template-unknown-record-field"),
    case("""\
         inbound_webhooks:
           w:
             action:
               create:
                 collection: tasks
                 fields:
                   title: "{{body.title}}"
         """, "main.yaml:7:18",
         "template refers to '{{body.title}}': 'body' is not available here; use payload.…",
         id="create-template-unknown-root"),
    case("""\
         inbound_webhooks:
           w:
             action:
               create:
                 collection: tasks
                 fields:
                   title: "{{payload.title}}"
                   priorty: high
         """, "main.yaml:8:11",
         "collection 'tasks' has no field 'priorty' (did you mean 'priority'?)",
         id="create-unknown-field"),
    case("""\
         inbound_webhooks:
           w:
             action:
               create:
                 collection: tasks
                 fields:
                   priority: high
         """, "main.yaml:7:11",
         "required field(s) title of collection 'tasks' are not set, so every delivery would be "
         "rejected", id="create-missing-required-field"),
    case("""\
         inbound_webhooks:
           w:
             action:
               create:
                 collection: task
                 fields: {title: x}
         """, "main.yaml:5:21", "unknown collection 'task' (did you mean 'tasks'?)",
         id="create-unknown-collection"),
    # ------------------------------------------------------------------ inbound settings
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    ip_allowlist: [203.0.113.0/24, 10.0.0.300]\n", "main.yaml:4:36",
         "ip_allowlist.1: '10.0.0.300' is not an IP address or CIDR range (e.g. "
         "203.0.113.0/24, 2001:db8::/32)", id="ip-v4-invalid"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    ip_allowlist:\n"
         '      - "2001:db8::/32"\n      - "2001:db8:::1"\n', "main.yaml:6:9",
         "ip_allowlist.1: '2001:db8:::1' is not an IP address or CIDR range",
         id="ip-v6-invalid"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    ip_allowlist: [10.0.0.0/33]\n", "main.yaml:4:20",
         "'10.0.0.0/33' is not an IP address or CIDR range", id="cidr-v4-bad-prefix"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    trusted_proxies: ['2001:db8::/129']\n", "main.yaml:4:23",
         "'2001:db8::/129' is not an IP address or CIDR range", id="cidr-v6-bad-prefix"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    rate_limit: {requests: 0}\n",
         "main.yaml:4:28", "rate_limit.requests: Input should be greater than 0",
         id="rate-limit-zero"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    rate_limit: {requests: 10, per_seconds: -5}\n", "main.yaml:4:45",
         "rate_limit.per_seconds: Input should be greater than 0", id="rate-limit-negative"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    auth: {type: static_header}\n",
         "main.yaml:4:11",
         "auth type 'static_header' needs 'header' (the header to compare)",
         id="static-header-without-header"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    auth: {type: stripe}\n",
         "main.yaml:4:11",
         "stripe issues the signing secret itself, so Hookplane cannot generate it (set "
         "auth.secret: ${env:STRIPE_WEBHOOK_SECRET} and export it where you run apply)",
         id="provider-secret-required"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    auth: {type: zoom}\n",
         "main.yaml:4:11",
         "zoom issues the signing secret itself, so Hookplane cannot generate it (set "
         "auth.secret: ${env:ZOOM_WEBHOOK_SECRET} and export it where you run apply)",
         id="zoom-secret-required"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: twitch, header: X-Sig}\n", "main.yaml:4:11",
         "auth type 'twitch' uses its own header; remove 'header'", id="twitch-own-header"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: github, tolerance_seconds: 60}\n", "main.yaml:4:11",
         "'tolerance_seconds' applies to timestamped schemes (stripe, slack, zoom, twitch, "
         "standard_webhooks, svix, paddle, discord, sendgrid, mailgun, zendesk, hubspot, "
         "linear, hmac with timestamp_header), not 'github'",
         id="tolerance-untimestamped"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: meta, secret: \"${env:META_APP_SECRET}\"}\n", "main.yaml:4:11",
         "auth type 'meta' needs 'verify_token': ${env:NAME}, the token you type into the "
         "provider's dashboard", id="meta-without-verify-token"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: meta, secret: \"${env:META_APP_SECRET}\", verify_token: hunter2}\n",
         "main.yaml:4:72",
         f"a secret must not be written in YAML {SECRET_HINT}", id="verify-token-literal"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: discord, secret: \"${env:DISCORD_SECRET}\", public_key: "
         f"{DISCORD_KEY}}}\n", "main.yaml:4:11",
         "auth type 'discord' takes no 'secret': it is verified with the provider's public "
         "key ('public_key')", id="discord-with-secret"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    auth: {type: discord, public_key: abc123}\n", "main.yaml:4:11",
         "auth.public_key is not an Ed25519 public key: 64 hex digits, the *Public Key* on the "
         "application's General Information page", id="discord-public-key-malformed"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         f"    auth: {{type: github, public_key: {DISCORD_KEY}}}\n", "main.yaml:4:11",
         "'public_key' applies to auth type discord and sendgrid, not 'github'",
         id="public-key-on-github"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    auth: {type: githb}\n",
         "main.yaml:4:18", "(did you mean 'github'?)", id="auth-type-typo"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n    action: upsertt\n",
         "main.yaml:4:13",
         "action: unknown action 'upsertt'; use 'upsert', or a mapping with one of 'upsert', "
         "'create', 'invoke'", id="action-unknown-shorthand"),
    case("inbound_webhooks:\n  w:\n    collection: incidents\n"
         "    action: {upsert: {}, invoke: {url: https://a.example/run}}\n", "main.yaml:4:13",
         "an action has exactly one of 'upsert', 'create', 'invoke' (found upsert, invoke)",
         id="action-two-kinds"),
    # ------------------------------------------------------------------ triggers
    case(TRIGGER.replace("[create]", "[create, updated]"), "main.yaml:4:22",
         "events.1: unknown event 'updated' (did you mean 'update'?): use create, update, "
         "delete, config.applied, config.promoted, delivery.failed, trigger.disabled or an "
         "event declared under the collection's 'events'",
         id="event-not-allowed"),
    case(TRIGGER.replace("[create]", "[create, update, create]"), "main.yaml:4:13",
         "events: event 'create' is listed twice", id="event-duplicated"),
    case(TRIGGER.replace("[create]", "[]"), "main.yaml:4:13",
         "events: List should have at least 1 item", id="events-empty"),
    case(TRIGGER.replace("    collection: incidents\n", ""), "main.yaml:3:5",
         "record events (create) need a 'collection' to watch", id="record-event-no-collection"),
    case(TRIGGER + "    retry: {attempts: 3, initial_seconds: 30, max_seconds: 5}\n",
         "main.yaml:6:12", "retry: max_seconds must be at least initial_seconds",
         id="retry-max-below-initial"),
    case(TRIGGER + "    retry: {attempts: 0}\n", "main.yaml:6:23",
         "retry.attempts: Input should be greater than or equal to 1", id="retry-zero-attempts"),
    case(TRIGGER + "    retry: always\n", "main.yaml:6:12",
         "retry: \"always\" is not one of 'none'", id="retry-unknown-word"),
    case(TRIGGER + "    timeout: 10 seconds\n", "main.yaml:6:14",
         "timeout: '10 seconds' is not a duration; use e.g. 10, '500ms', '10s' or '2m'",
         id="duration-invalid"),
    case(TRIGGER + "    timeout: 2h\n", "main.yaml:6:14",
         "timeout: Input should be less than or equal to 3600", id="duration-too-long"),
    case(TRIGGER + "    external_write: {source: pagerduty}\n", "main.yaml:3:5",
         "'url' and 'external_write' are mutually exclusive: an external write is sent to the "
         "source's write endpoint", id="url-and-external-write"),
    case(TRIGGER.replace("    url: https://hooks.example.com/t\n", ""), "main.yaml:3:5",
         "a trigger needs a 'url' (or 'external_write: {source: NAME}')", id="trigger-no-url"),
    case(TRIGGER.replace("https://hooks.example.com/t", "hooks.example.com/t"), "main.yaml:5:10",
         "not an http(s) URL", id="url-without-scheme"),
    case("triggers:\n  t:\n    collection: incidents\n    events: [update]\n"
         "    external_write: {source: reader}\n", "main.yaml:5:30",
         "source 'reader' has no 'write' endpoint to send the record to; add write: "
         "{method: PUT, path: \"/…/{id}\"}", id="external-write-source-without-write"),
    case("triggers:\n  t:\n    collection: tasks\n    events: [update]\n"
         "    external_write: {source: pagerduty}\n", "main.yaml:5:30",
         "source 'pagerduty' is bound to collection 'incidents', but the trigger watches 'tasks'",
         id="external-write-other-collection"),
    # ------------------------------------------------------------------ sources and mappings
    case("sources:\n  s:\n    collection: incidents\n    base_url: https://s.example\n"
         "    read: {path: /incidents}\n", "main.yaml:3:5",
         "read.path must contain '{id}' (the external record id)", id="read-path-without-id"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             mapping:
               to_external: {titel: summary}
         """, "main.yaml:6:21",
         "sources.s: mapping field 'titel' is not in the collection schema (did you mean "
         "'title'?)", id="mapping-unknown-field"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_native: {owner.nmae: user.name}
         """, "main.yaml:5:19", "mapping field 'owner.nmae' is not in the collection schema",
         id="mapping-unknown-nested-field"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             mapping:
               to_external:
                 title: summary
                 status: summary
         """, "main.yaml:8:17",
         "'status' and 'title' are both mapped onto 'summary'; two fields cannot share one "
         "target", id="two-fields-one-external-target"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_external:
                 title: summary
                 status: summary.state
         """, "main.yaml:7:17",
         "'status' is mapped onto 'summary.state' and 'title' onto 'summary': one is inside "
         "the other, so writing one overwrites the other; two fields cannot share one target",
         id="two-fields-overlapping-external-targets"),
    case("triggers:\n  t:\n    events: [config.applied]\n    url: https://hooks.example.com/t\n"
         '    body: {text: "{{dta.serial}}"}\n', "main.yaml:5:18",
         "template refers to '{{dta.serial}}': 'dta' is not available here (did you mean "
         "'data'?)", id="system-event-template-unknown-root"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_native:
                 title: summary
                 status: summary
         """, "main.yaml:7:17",
         "'status' and 'title' both read 'summary'; use computed for a second copy",
         id="two-fields-read-one-external"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_native: {title: summary}
               computed: {title: "{{payload.name}}"}
         """, "main.yaml:6:18",
         "field 'title' is mapped twice (in to_native and computed); each native field has one "
         "origin", id="one-field-two-origins"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             read: {path: "/x/{id}"}
             mapping:
               value_maps:
                 severity: {p1: high, p2: high, p3: low}
         """, "main.yaml:8:19",
         "value map for 'severity' is not invertible: 'p1' and 'p2' both map to 'high', so an "
         "inbound 'high' is ambiguous", id="value-map-not-invertible-read-source"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             write: {method: PUT, path: "/x/{id}"}
             mapping:
               value_maps:
                 severity: {p1: high, p2: high}
         inbound_webhooks:
           w:
             collection: incidents
             source_binding: {collection: incidents, source: s}
         """, "main.yaml:8:19", "value map for 'severity' is not invertible",
         id="value-map-not-invertible-bound-source"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               value_maps:
                 count: {one: 1, uno: 1.0}
         """, "main.yaml:6:16",
         "'one' and 'uno' both map to 1.0", id="value-map-not-invertible-json-equal"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               value_maps:
                 severity: {1: p1, "2": p2}
         """, "main.yaml:6:19",
         "mapping.value_maps.severity: key 1 must be text: quote it ('1': …)",
         id="value-map-key-not-text"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             mapping:
               dates:
                 opened_at: {external: YYYY-MM-DD}
         """, "main.yaml:7:31",
         "'YYYY-MM-DD' is not a date format: use epoch_s, epoch_ms, iso8601 or a strftime "
         "pattern such as '%d/%m/%Y %H:%M'", id="date-format-unknown"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             mapping:
               dates:
                 opened_at: {external: "%H:%M"}
         """, "main.yaml:7:31",
         "the strftime pattern '%H:%M' does not keep the date (year, month and day), so it "
         "cannot be read back", id="date-format-loses-date"),
    case("""\
         sources:
           s:
             collection: incidents
             base_url: https://s.example
             mapping:
               dates:
                 count: {external: epoch_s}
         """, "main.yaml:7:9",
         "'count' is a date field, so its schema type must be string (ISO-8601), not integer",
         id="date-field-not-string"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               compose:
                 title: "{first} {last"
         """, "main.yaml:6:16",
         "compose pattern error at column 9: unclosed '{': close the field with '}' (write "
         "'{{' for a literal brace)", id="compose-unbalanced"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               compose:
                 title: "{first name}"
         """, "main.yaml:6:16", "compose pattern error at column 1: '{first name}' is not a "
         "field path", id="compose-bad-field-path"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               compose:
                 title: "{a{{b}"
         """, "main.yaml:6:16", "compose pattern error at column 1: empty or broken field "
         "'{a{{b}'", id="compose-brace-inside-field"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_external: {title: summary..x}
         """, "main.yaml:5:28", "external path: 'summary..x' is not a field path",
         id="mapping-bad-external-path"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               compose:
                 title: Untitled
         """, "main.yaml:6:16", "a compose pattern needs at least one {field}",
         id="compose-without-field"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_native: {title: summary}
               computed:
                 status: "{{record.severity}}"
         """, "main.yaml:7:17",
         "computed 'status' refers to record.severity, which the mapping does not produce",
         id="computed-unknown-record-field"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               computed:
                 status: "{{record.severity}}"
                 severity: "{{payload.sev}}"
         """, "main.yaml:6:17",
         "computed 'status' refers to record.severity, which the mapping does not produce "
         "before this one (computed fields run in the order written)",
         id="computed-refers-to-later-computed"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               computed:
                 status: "{{ env.HOME }}"
         """, "main.yaml:6:17",
         "computed 'status' refers to 'env'; use payload.… (the external payload) or record.… "
         "(mapped fields)", id="computed-unknown-root"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               computed:
                 status: "{{ paylod.state }}"
         """, "main.yaml:6:17",
         "computed 'status' refers to 'paylod' (did you mean 'payload'?); use payload.…",
         id="computed-root-typo"),
    case("""\
         inbound_webhooks:
           w:
             collection: incidents
             mapping:
               to_external:
                 title: status
                 status: title
         """, "main.yaml:6:9",
         "rename cycle title → status → title: fields exchange names, which is almost always a "
         "mistake; rename through distinct names", id="rename-cycle"),
    # ------------------------------------------------------------------ api keys, renames
    case("api_keys:\n  k: {scopes: [read, admin]}\n", "main.yaml:2:22",
         "scopes.1: scope 'admin' is not 'read', 'write', 'read:COLLECTION' or 'write:COLLECTION'",
         id="api-key-bad-scope"),
    case("api_keys:\n  k: {scopes: [read, 'write:incident']}\n", "main.yaml:2:22",
         "api_keys.k: unknown collection 'incident' (did you mean 'incidents'?)",
         id="api-key-scope-unknown-collection"),
    case("api_keys:\n  k: {scopes: []}\n", "main.yaml:2:15",
         "scopes: List should have at least 1 item", id="api-key-no-scopes"),
    case("collections:\n  todo:\n    renamed_from: tasks\n    schema: {type: object}\n",
         "main.yaml:3:19",
         "collections.todo: renamed_from 'tasks', but 'collections.tasks' is still declared; "
         "remove the old definition", id="renamed-from-still-declared"),
]


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(textwrap.dedent(content), encoding="utf-8")


def _project(root: Path, case: Case) -> Path:
    preview = root / "environments" / "preview"
    preview.mkdir(parents=True)
    _write(root / "environments" / "production" / "environment.yaml",
           "name: production\nkind: production\n")
    if case.environment is not None:
        _write(preview / "environment.yaml", case.environment)
    _write(preview / "base.yaml", BASE)
    if case.text is not None:
        _write(preview / case.file, case.text)
    return root


def _problems(root: Path) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as caught:
        load_all(root)
    return caught.value.diagnostics


def _assert_reported(problems: list[Diagnostic], case: Case) -> None:
    shown = "\n".join(d.format() for d in problems)
    assert len(problems) == case.count, f"expected {case.count} problem(s), got:\n{shown}"
    first = problems[0].format()
    where = f"environments/preview/{case.where}"
    assert first.startswith(where + ": "), f"expected a problem at {where}, got:\n{shown}"
    assert case.fragment in first, f"expected {case.fragment!r} in:\n{shown}"


def test_the_table_is_large_and_its_ids_unique() -> None:
    ids = [param.id for param in CASES]
    assert len(ids) >= 45
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES)
def test_invalid_configuration(tmp_path: Path, case: Case) -> None:
    _assert_reported(_problems(_project(tmp_path, case)), case)


def test_base_project_is_valid(tmp_path: Path) -> None:
    """Every case's error comes from its own text: the surroundings are valid."""
    root = _project(tmp_path, Case(TRIGGER, "", ""))
    configs = load_all(root)
    assert sorted(configs) == ["preview", "production"]
    assert configs["preview"].get("triggers", "t") is not None


def test_non_invertible_value_map_is_fine_when_nothing_maps_inbound(tmp_path: Path) -> None:
    """A write-only source that no inbound webhook binds only maps outbound: p1 and p2 may
    both become 'high'. Binding it (case value-map-not-invertible-bound-source) is an error."""
    text = """\
    sources:
      s:
        collection: incidents
        base_url: https://s.example
        write: {method: PUT, path: "/x/{id}"}
        mapping:
          value_maps:
            severity: {p1: high, p2: high, p3: low}
    triggers:
      push:
        collection: incidents
        events: [update]
        external_write: {source: s}
    """
    config = load_all(_project(tmp_path, Case(text, "", "")))["preview"]
    assert config.get("sources", "s") is not None


def test_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlio, "MAX_FILE_BYTES", 2048)  # base.yaml stays below
    text = "api_keys:\n" + "".join(f"  key-{i}: {{scopes: [read]}}\n" for i in range(100))
    problems = _problems(_project(tmp_path, Case(text, "", "")))
    assert [d.format() for d in problems] == [
        f"environments/preview/main.yaml: file is {len(text):,} bytes; configuration files are "
        "limited to 2,048 bytes (split it into several files)",
    ]


def test_python_tags_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "owned"
    text = f'triggers: !!python/object/apply:os.system ["touch {marker}"]\n'
    problems = _problems(_project(tmp_path / "p", Case(text, "", "")))
    assert len(problems) == 1
    assert "YAML tags that construct objects are not allowed" in problems[0].message
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    root = _project(tmp_path, Case(_laughs(12), "", ""))
    started = time.perf_counter()
    problems = _problems(root)
    elapsed = time.perf_counter() - started
    assert [d.line for d in problems] == [1]
    assert "expands to too many values" in problems[0].message
    assert elapsed < 0.5, f"refusing the alias bomb took {elapsed:.2f}s"


def test_legitimate_aliases_below_the_limit_load(tmp_path: Path) -> None:
    text = """\
    triggers:
      a: &hook
        collection: incidents
        events: [create]
        url: https://hooks.example.com/a
      b: *hook
    """
    config = load_all(_project(tmp_path, Case(text, "", "")))["preview"]
    assert sorted(config.section("triggers")) == ["a", "b"]


# --------------------------------------------------------------------------- all at once


def test_every_problem_of_a_file_is_reported_sorted(tmp_path: Path) -> None:
    text = """\
    triggers:
      late:
        collection: incidents
        events: [create]
        url: https://hooks.example.com/late
        signing: {secret: plain}
      early:
        collection: incidnets
        events: [create]
        url: https://hooks.example.com/early
    api_keys:
      k: {scopes: [admin]}
    collections:
      c:
        schema: {type: object, propertis: {}}
    """
    root = _project(tmp_path, Case(text, "", ""))
    _write(root / "environments" / "preview" / "a-first.yaml",
           "api_keys:\n  other: {scopes: [read], colour: blue}\n")
    problems = _problems(root)
    assert [(d.file.rsplit("/", 1)[-1], d.line, d.column) for d in problems] == [
        ("a-first.yaml", 2, 27),
        ("main.yaml", 6, 23),
        ("main.yaml", 8, 17),
        ("main.yaml", 12, 16),
        ("main.yaml", 15, 28),
    ]
    assert [d.address for d in problems] == [
        "api_keys.other", "triggers.late", "triggers.early", "api_keys.k", "collections.c",
    ]


def test_errors_in_several_environments_are_reported_together(tmp_path: Path) -> None:
    root = _project(tmp_path, Case("api_keys:\n  k: {scopes: [admin]}\n", "", ""))
    _write(root / "environments" / "production" / "broken.yaml", "trigers: {}\n")
    problems = _problems(root)
    assert [d.file for d in problems] == [
        "environments/preview/main.yaml",
        "environments/production/broken.yaml",
    ]


def test_an_invalid_resource_does_not_cascade(tmp_path: Path) -> None:
    """A collection with a broken schema is still a known name: the triggers, webhooks,
    sources and keys that refer to it are not reported again."""
    text = """\
    collections:
      alerts:
        schema: {type: object, properties: {level: {type: strin}}}
    sources:
      alert-api:
        collection: alerts
        base_url: https://alerts.example
        read: {path: "/a/{id}"}
        mapping: {to_external: {level: severity, nothing: here}}
    triggers:
      alert:
        collection: alerts
        events: [create]
        url: https://hooks.example.com/alerts
        filter: {level: high, missing: x}
        body: {text: "{{record.unknown}}"}
    inbound_webhooks:
      ingest:
        collection: alerts
        source_binding: {collection: alerts, source: alert-api}
        hydration: {id_path: id}
    api_keys:
      reader: {scopes: ["read:alerts"]}
    """
    problems = _problems(_project(tmp_path, Case(text, "", "")))
    assert [d.format() for d in problems] == [
        "environments/preview/main.yaml:3:55: collections.alerts: "
        "schema.properties.level.type: \"strin\" is not one of 'object', 'string', 'number', "
        "'integer', 'boolean', 'array' or 'null' (did you mean 'string'?)",
    ]


def test_an_invalid_source_does_not_cascade(tmp_path: Path) -> None:
    text = """\
    sources:
      broken:
        collection: incidents
        base_url: https://b.example
        read: {path: /no-id}
        write: {method: PUT, path: "/x/{id}"}
    triggers:
      push:
        collection: incidents
        events: [update]
        external_write: {source: broken}
    inbound_webhooks:
      pull:
        collection: incidents
        source_binding: {collection: incidents, source: broken}
        hydration: {id_path: id}
    """
    problems = _problems(_project(tmp_path, Case(text, "", "")))
    assert [(d.line, d.address) for d in problems] == [(3, "sources.broken")]
    assert "read.path must contain '{id}'" in problems[0].message


def test_a_misspelt_required_key_is_one_problem(tmp_path: Path) -> None:
    """'evnts' is reported as an unknown key with its suggestion, not also as a missing
    'events'; a key that is simply missing is still reported."""
    missing = TRIGGER.replace("    events: [create]\n", "")
    problems = _problems(_project(tmp_path, Case(missing, "", "")))
    assert [d.format() for d in problems] == [
        "environments/preview/main.yaml:3:5: triggers.t: missing required field 'events'",
    ]
