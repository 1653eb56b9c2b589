"""``/schema``: the runtime's API reference without outside assets.

Litestar's documentation UIs (Scalar, Swagger, Redoc …) load their scripts, styles and a
favicon from public CDNs: a browser opening ``/schema`` on a private deployment fetched
third-party code into a page that sits next to the admin API. The runtime serves instead:

- ``/schema`` — one self-contained HTML page (no script, no external link): every operation
  grouped by tag, with its method, path, summary and documented answers;
- ``/schema/openapi.json`` and ``/schema/openapi.yaml`` — the document itself, for tools.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin

__all__ = ["schema_plugins"]

_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = ("<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
          "padding:0 1rem;color:#1b1f24}code{font:13px ui-monospace,monospace}"
          "h2{margin-top:2rem;border-bottom:1px solid #d0d7de}"
          ".op{margin:.75rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:600}"
          ".a{color:#57606a;font-size:13px}</style>")


class _SelfContained(OpenAPIRenderPlugin):
    """The reference page: server-rendered HTML, nothing loaded from elsewhere."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style=_STYLE)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        info = openapi_schema.get("info", {})
        title = f"{info.get('title', 'API')} {info.get('version', '')}".strip()
        by_tag: dict[str, list[str]] = {}
        for path, item in sorted(openapi_schema.get("paths", {}).items()):
            for method in _METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict):
                    continue
                tag = (operation.get("tags") or ["other"])[0]
                answers = ", ".join(sorted(operation.get("responses", {})))
                summary = operation.get("summary") or operation.get("description") or ""
                by_tag.setdefault(tag, []).append(
                    f"<div class='op'><span class='m'>{method.upper()}</span>"
                    f"<code>{escape(path)}</code><br>{escape(str(summary))}"
                    f"<br><span class='a'>answers: {escape(answers)}</span></div>")
        sections = "".join(f"<h2>{escape(tag)}</h2>{''.join(ops)}"
                           for tag, ops in sorted(by_tag.items()))
        json_url = escape(self.get_openapi_json_route(request))
        page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                f"<title>{escape(title)}</title>{self.style}</head><body>"
                f"<h1>{escape(title)}</h1><p>The OpenAPI document: "
                f"<a href='{json_url}'>openapi.json</a> (also <code>openapi.yaml</code>)."
                f"</p>{sections}</body></html>")
        return page.encode("utf-8")


def schema_plugins() -> list[OpenAPIRenderPlugin]:
    """The page, the JSON and the YAML document; nothing that loads outside assets."""
    return [_SelfContained(), JsonRenderPlugin(), YamlRenderPlugin()]
