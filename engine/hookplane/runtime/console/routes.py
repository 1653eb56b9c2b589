"""The console's pages: ``/console/…``, server-rendered with Jinja2.

Thin controllers like the API's (:mod:`hookplane.runtime.controllers`): each handler is fed
the runtime's services and the console (:class:`Console`: sessions, declarations) by
dependency injection, and refuses with the domain errors of :mod:`hookplane.errors`; the
error page takes its status from the one table (:mod:`hookplane.runtime.problems`), so a
console page and the API answer the same error alike.

Every route passes :meth:`Console.gate` first (the router's ``before_request`` hook):

- the console is off (404 page) when no admin token is configured, like ``/admin``;
- a POST must come from this origin (``Origin``, when the browser sends one) and carry the
  session's CSRF token (``csrf_token`` form field), else 403;
- everything but the sign-in page needs a session: a GET is redirected to the sign-in page,
  a POST is refused with 403.

Routes call the same store and admin functions as the management API (``admin.rotate``,
``Dispatcher.send_test``, ``RuntimeStore.redeliver`` …); nothing here edits configuration.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import quote, urlsplit

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from hookplane.errors import BadRequest, HookplaneError, NotFound
from hookplane.runtime.admin import enable_trigger, recover_deliveries, rotate
from hookplane.runtime.console import views
from hookplane.runtime.console.declared import Declarations
from hookplane.runtime.console.session import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    SIGNIN_SECONDS,
    Session,
    Sessions,
)
from hookplane.runtime.controllers._base import BaseController
from hookplane.runtime.controllers.deps import (
    ServicesDep,
    provide,
    provide_services,
    services_of,
)
from hookplane.runtime.problems import (
    headers_of,
    is_framework_refusal,
    log_unexpected,
    message_of,
    status_of,
)
from hookplane.state.store import DatabaseUnavailable

if TYPE_CHECKING:
    from hookplane.runtime.registry import EnvironmentView
    from hookplane.runtime.services import Services

log = logging.getLogger("hookplane.runtime.console")

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
_PUBLIC_OPT = "console_public"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_DELIVERY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What ``?queued=`` (the redeliver form's redirect) may name for its notice."""
_T = TypeVar("_T")
_Request: TypeAlias = Request[Any, Any, Any]


# --------------------------------------------------------------------------- helpers


def _session(request: _Request) -> Session | None:
    session: Session | None = request.state.get("console_session")
    return session


async def _thread(call: Callable[[], _T]) -> _T:
    return await anyio.to_thread.run_sync(call)


def _view(services: Services, environment: str) -> EnvironmentView:
    view = services.registry.get(environment)
    if view is None:
        raise NotFound(f"no applied environment '{environment}'")
    return view


def _trigger_view(services: Services, environment: str, name: str) -> EnvironmentView:
    view = _view(services, environment)
    if name not in view.triggers:
        raise NotFound(f"no trigger '{name}' in '{environment}'")
    return view


def _base_url(request: _Request) -> str:
    return str(request.base_url).rstrip("/")


def _redirect(path: str) -> Redirect:
    return Redirect(path, status_code=303, headers=dict(SECURITY_HEADERS))


def _same_origin(request: _Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not every client sends it; the CSRF token is the check that counts
    host = request.headers.get("host", "")
    try:
        return urlsplit(origin).netloc.lower() == host.lower() and bool(host)
    except ValueError:
        return False


def _safe_next(value: str | None) -> str:
    """Only a console path (no scheme, no host, no ``//``): no open redirect."""
    if not value or not value.startswith(COOKIE_PATH + "/") or value.startswith("//") \
            or "\\" in value or any(ord(ch) < 32 for ch in value):
        return COOKIE_PATH
    return value


# --------------------------------------------------------------------------- the console


class Console:
    """One app's console: its sessions (keyed by the admin token, fixed for the app's life)
    and the declarations it points at (``root``'s ``environments/``). Handlers receive it as
    the ``console`` dependency; its :meth:`gate` and :meth:`error_page` run before
    dependency injection (or without it) and ask :func:`services_of` for the services."""

    def __init__(self, *, admin_token: str | None, root: Path) -> None:
        self.enabled = bool(admin_token)
        self.sessions = Sessions(admin_token or "")
        self.declarations = Declarations(root)

    def render(self, request: _Request, services: Services, template: str,
               context: dict[str, Any], *, status: int = 200, section: str = "") -> Template:
        session = _session(request)
        base = {
            "environments": services.registry.environments(),
            "environment": None,
            "section": section,
            "signed_in": session is not None,
            "csrf_token": self.sessions.csrf_token(session) if session is not None else "",
            "notice": None,
            "error": None,
        }
        return Template(template_name=template, context={**base, **context},
                        status_code=status, headers=dict(SECURITY_HEADERS),
                        media_type="text/html")

    def message(self, request: _Request, services: Services, status: int, title: str,
                message: str) -> Template:
        return self.render(request, services, "message.html.j2",
                           {"title": title, "message": message}, status=status)

    async def gate(self, request: _Request) -> Response[Any] | None:
        """The router's ``before_request`` hook (see the module's docstring)."""
        services = services_of(request.app)
        if not self.enabled:
            request.state.console_session = None
            return self.render(request, services, "message.html.j2", {
                "title": "The console is off",
                "message": "Set HOOKPLANE_ADMIN_TOKEN and restart 'hookplane serve' to use it.",
                "off": True}, status=404)
        session = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        request.state.console_session = session
        if request.method == "POST" and not _same_origin(request):
            return self.message(request, services, 403, "Refused",
                                "This form was posted from another site.")
        if request.route_handler.opt.get(_PUBLIC_OPT):
            return None
        if session is None:
            if request.method in ("GET", "HEAD"):
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                return _redirect(f"{COOKIE_PATH}/sign-in?next={quote(target, safe='')}")
            return self.message(request, services, 403, "Sign in first",
                                "Your session has ended. Sign in again and repeat the action.")
        if request.method == "POST":
            form = await request.form()
            if not self.sessions.csrf_valid(session, form.get("csrf_token")):
                return self.message(request, services, 403, "Refused",
                                    "The form's CSRF token is missing or wrong. Reload the "
                                    "page and try again.")
        return None

    def error_page(self, request: _Request, exc: Exception) -> Response[Any]:
        """The console's answer to any exception: the status, message and headers of the one
        table (:mod:`hookplane.runtime.problems`), as a page."""
        status = status_of(exc)
        log_unexpected(request, exc, status)
        if isinstance(exc, DatabaseUnavailable):
            title, message = "State database unavailable", "Try again in a moment."
        elif status == 500:
            title, message = "Internal error", "The log has the details."
        else:
            title = "Not found" if status == 404 else "Request refused"
            message = message_of(exc, status)
        if request.state.get("console_session", "unset") == "unset":
            request.state.console_session = None
        response = self.message(request, services_of(request.app), status, title, message)
        if not is_framework_refusal(exc):  # a 503's Retry-After; a page, no WWW-Authenticate
            response.headers.update(headers_of(exc, status))
        return response


ConsoleDep: TypeAlias = NamedDependency[Console]
"""A handler's ``console`` parameter."""

# --------------------------------------------------------------------------- sign-in


def _sign_in_form(request: _Request, services: Services, console: Console, *, status: int,
                  error: str | None) -> Response[Any]:
    sessions = console.sessions
    nonce = sessions.signin_nonce()
    response = console.render(request, services, "sign_in.html.j2", {
        "signin_token": sessions.signin_token(nonce), "error": error,
        "next": _safe_next(request.query_params.get("next")),
    }, status=status)
    response.cookies.append(Cookie(
        key=SIGNIN_COOKIE, value=nonce, path=COOKIE_PATH, max_age=SIGNIN_SECONDS,
        httponly=True, secure=True, samesite="strict"))
    return response


class SessionPages(BaseController):
    """Sign-in (admin token) and sign-out."""

    path = "/"

    @get("/sign-in", opt={_PUBLIC_OPT: True})
    async def sign_in_page(self, request: _Request, services: ServicesDep,
                           console: ConsoleDep) -> Response[Any]:
        """The sign-in form (admin token)."""
        if _session(request) is not None:
            return _redirect(_safe_next(request.query_params.get("next")))
        return _sign_in_form(request, services, console, status=200, error=None)

    @post("/sign-in", opt={_PUBLIC_OPT: True}, status_code=303)
    async def sign_in(self, request: _Request, services: ServicesDep,
                      console: ConsoleDep) -> Response[Any]:
        """Check the admin token and start a session."""
        sessions = console.sessions
        form = await request.form()
        if not sessions.signin_valid(request.cookies.get(SIGNIN_COOKIE),
                                     form.get("csrf_token")):
            return console.message(request, services, 403, "Refused",
                                   "The sign-in form expired or was not sent from this "
                                   "console. Open the sign-in page again.")
        address = request.client.host if request.client else None
        auth = services.auth
        wait = auth.retry_after(address)
        if wait is not None:  # too many wrong tokens from this client: not even checked
            response = _sign_in_form(request, services, console, status=429,
                                     error=f"Too many wrong tokens from your address: try "
                                           f"again in {wait} seconds.")
            response.headers["Retry-After"] = str(wait)
            return response
        if not sessions.token_matches(str(form.get("token") or "")):
            auth.failed(address, "console sign-in")
            log.warning("console sign-in refused: wrong admin token (from %s)",
                        address or "?")
            return _sign_in_form(request, services, console, status=401,
                                 error="That is not the admin token of this runtime.")
        auth.succeeded(address)
        session, value = sessions.issue()
        request.state.console_session = session
        response = _redirect(_safe_next(str(form.get("next") or "")))
        response.cookies.append(Cookie(
            key=SESSION_COOKIE, value=value, path=COOKIE_PATH, max_age=sessions.lifetime,
            httponly=True, secure=True, samesite="strict"))
        response.delete_cookie(SIGNIN_COOKIE, path=COOKIE_PATH)
        return response

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: _Request, console: ConsoleDep) -> Response[Any]:
        """End the session (revoked here, cookie cleared)."""
        session = _session(request)
        if session is not None:
            console.sessions.revoke(session)
        response = _redirect(f"{COOKIE_PATH}/sign-in")
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response


# --------------------------------------------------------------------------- overview


class OverviewPages(BaseController):
    path = "/"

    @get("/")
    async def home(self, request: _Request, services: ServicesDep,
                   console: ConsoleDep) -> Response[Any]:
        """The first applied environment's overview."""
        names = services.registry.environments()
        if not names:
            return console.message(request, services, 200, "Nothing applied yet",
                                   "Run 'hookplane apply ENV' and this page will show it.")
        return _redirect(f"{COOKIE_PATH}/{quote(names[0])}")

    @get("/{environment:str}")
    async def overview(self, request: _Request, services: ServicesDep, console: ConsoleDep,
                       environment: FromPath[str]) -> Template:
        """Serial, last apply and promotion, counts, deliveries per minute."""
        view = _view(services, environment)
        data = await _thread(lambda: views.overview(services, view, now=datetime.now(UTC)))
        return console.render(request, services, "overview.html.j2",
                              {"environment": environment, **data})


# --------------------------------------------------------------------------- shared by
# the trigger and inbound pages


async def _rotate(request: _Request, services: Services, environment: str, kind: str,
                  name: str) -> tuple[dict[str, Any], int] | None:
    """None when the form was not confirmed (no JavaScript: show the confirmation page).
    A refusal the table answers below 500 is shown on the page with its status."""
    form = await request.form()
    if form.get("confirm") != "yes":
        return None
    _view(services, environment)
    try:
        return await _thread(lambda: rotate(services, environment, kind, name,
                                            actor="console")), 200
    except HookplaneError as exc:
        status = status_of(exc)
        if status >= 500:  # the error page says it
            raise
        return {"error": str(exc)}, status


def _confirm_page(request: _Request, services: Services, console: Console, environment: str,
                  *, action: str, what: str, back: str, section: str) -> Template:
    return console.render(request, services, "confirm.html.j2",
                          {"environment": environment, "action": action, "what": what,
                           "back": back}, section=section)


# --------------------------------------------------------------------------- triggers


async def _trigger_page(request: _Request, services: Services, console: Console,
                        environment: str, name: str, *, status: int = 200,
                        **extra: Any) -> Template:
    view = _view(services, environment)
    declared = console.declarations
    wanted = request.query_params.get("status") if request.method == "GET" else None
    data = await _thread(lambda: views.trigger_detail(
        services, view, name, status=wanted, declared=declared.of(environment)))
    if data is None:
        raise NotFound(f"no trigger '{name}' in '{environment}'")
    return console.render(request, services, "trigger.html.j2",
                          {"environment": environment, "name": name, "test_result": None,
                           "revealed": None, **data, **extra},
                          status=status, section="triggers")


class TriggerPages(BaseController):
    """Triggers: cards, detail and delivery history, test sends, rotation, redelivery,
    re-enabling and bulk recovery."""

    path = "/{environment:str}/triggers"

    @get("/")
    async def triggers(self, request: _Request, services: ServicesDep, console: ConsoleDep,
                       environment: FromPath[str]) -> Template:
        """Trigger cards."""
        view = _view(services, environment)
        declared = console.declarations
        cards = await _thread(lambda: views.trigger_cards(services, view,
                                                          declared.of(environment)))
        return console.render(request, services, "triggers.html.j2",
                              {"environment": environment, "cards": cards},
                              section="triggers")

    @get("/{name:str}")
    async def trigger(self, request: _Request, services: ServicesDep, console: ConsoleDep,
                      environment: FromPath[str], name: FromPath[str]) -> Template:
        """A trigger: configuration, secrets (prefixes), delivery history."""
        notice = None
        queued = request.query_params.get("queued")
        if queued and _DELIVERY_ID.fullmatch(queued):  # an id, not a link's own words
            notice = f"Delivery {queued} is queued again; refresh to see the new attempt."
        if request.query_params.get("not_queued"):
            notice = "Only a failed delivery can be redelivered; nothing was queued."
        if request.query_params.get("enabled"):
            notice = ("The circuit breaker is closed: the trigger's waiting deliveries are "
                      "being sent.")
        recovered = request.query_params.get("recovered")
        if recovered is not None and recovered.isdigit():
            notice = (f"{recovered} deliveries queued again (recorded in the audit log); "
                      "refresh to follow them." if recovered != "0" else
                      "No delivery matched: nothing was queued (deliveries already queued "
                      "are left alone).")
        return await _trigger_page(request, services, console, environment, name,
                                   notice=notice)

    @get("/{name:str}/deliveries/{delivery_id:str}")
    async def delivery(self, request: _Request, services: ServicesDep, console: ConsoleDep, *,
                       environment: FromPath[str], name: FromPath[str],
                       delivery_id: FromPath[str]) -> Template:
        """One delivery: the request as stored, and every attempt's response."""
        view = _view(services, environment)
        data = await _thread(lambda: views.delivery_detail(services, view, name, delivery_id))
        if data is None:
            raise NotFound(f"no delivery '{delivery_id}' of trigger '{name}'")
        return console.render(request, services, "delivery.html.j2",
                              {"environment": environment, "name": name, **data},
                              section="triggers")

    @post("/{name:str}/test", status_code=200)
    async def send_test(self, request: _Request, services: ServicesDep, console: ConsoleDep,
                        environment: FromPath[str], name: FromPath[str]) -> Template:
        """Send a synthetic signed ``test`` event now; show the receiver's answer."""
        view = _trigger_view(services, environment, name)
        result: dict[str, Any]
        if services.dispatcher is None:
            result = {"success": False, "status_code": None, "latency_ms": None,
                      "response_excerpt": None,
                      "error": "this runtime runs without delivery workers; nothing was sent"}
        else:
            try:
                result = await services.dispatcher.send_test(view, name)
            except HookplaneError as exc:
                result = {"success": False, "status_code": None, "latency_ms": None,
                          "response_excerpt": None, "error": str(exc)}
        result["response"] = views._pretty_text(result.get("response_excerpt"))
        return await _trigger_page(request, services, console, environment, name,
                                   test_result=result)

    @post("/{name:str}/rotate", status_code=200)
    async def rotate_trigger(self, request: _Request, services: ServicesDep,
                             console: ConsoleDep, environment: FromPath[str],
                             name: FromPath[str]) -> Template:
        """Rotate the signing secret; the new one is shown once in this response."""
        outcome = await _rotate(request, services, environment, "triggers", name)
        here = f"{COOKIE_PATH}/{environment}/triggers/{name}"
        if outcome is None:
            return _confirm_page(request, services, console, environment,
                                 action=here + "/rotate",
                                 what=f"the signing secret of {name}", back=here,
                                 section="triggers")
        body, status = outcome
        if status != 200:
            return await _trigger_page(request, services, console, environment, name,
                                       error=body["error"], status=status)
        return await _trigger_page(request, services, console, environment, name,
                                   revealed=body)

    @post("/{name:str}/deliveries/{delivery_id:str}/redeliver", status_code=303)
    async def redeliver(self, services: ServicesDep, environment: FromPath[str],
                        name: FromPath[str], delivery_id: FromPath[str]) -> Response[Any]:
        """Queue a failed delivery again (same id)."""
        view = _view(services, environment)
        trigger = view.triggers.get(name)
        found = await _thread(lambda: services.runtime.delivery(delivery_id))
        if trigger is None or found is None or found.environment != environment \
                or found.trigger_id != trigger.id:
            raise NotFound(f"no delivery '{delivery_id}' of trigger '{name}'")
        done = await _thread(lambda: services.runtime.redeliver(delivery_id,
                                                                environment=environment))
        if done and services.dispatcher is not None:
            services.dispatcher.notify()
        here = f"{COOKIE_PATH}/{quote(environment)}/triggers/{quote(name)}"
        return _redirect(f"{here}?queued={quote(delivery_id)}" if done
                         else f"{here}?not_queued={quote(delivery_id)}")

    @post("/{name:str}/enable", status_code=303)
    async def enable(self, services: ServicesDep, environment: FromPath[str],
                     name: FromPath[str]) -> Response[Any]:
        """Close the trigger's circuit breaker (re-enable it after ``trigger.disabled``),
        audited like the CLI's and admin API's."""
        view = _trigger_view(services, environment, name)
        await _thread(lambda: enable_trigger(services.store, services.runtime, environment,
                                             name, actor="console"))
        if services.dispatcher is not None:
            services.dispatcher.resume(view.triggers[name].id)
        return _redirect(f"{COOKIE_PATH}/{quote(environment)}/triggers/{quote(name)}"
                         "?enabled=1")

    @post("/{name:str}/recover", status_code=303)
    async def recover(self, request: _Request, services: ServicesDep,
                      environment: FromPath[str], name: FromPath[str]) -> Response[Any]:
        """Bulk recovery: queue again every failed (or every finished) delivery of the
        trigger created in the chosen window; one audited operation, idempotent while
        queued."""
        _trigger_view(services, environment, name)
        form = await request.form()
        window = str(form.get("since") or "")
        if window not in views.RECOVER_WINDOWS:
            raise BadRequest(f"since: one of {', '.join(views.RECOVER_WINDOWS)}")
        amount, unit = int(window[:-1]), window[-1]
        since = datetime.now(UTC) - (timedelta(hours=amount) if unit == "h"
                                     else timedelta(days=amount))
        include_delivered = form.get("include_delivered") == "yes"
        queued = await _thread(lambda: recover_deliveries(
            services.store, services.runtime, environment, name, since=since,
            include_delivered=include_delivered, actor="console"))
        if queued and services.dispatcher is not None:
            services.dispatcher.notify()
        return _redirect(f"{COOKIE_PATH}/{quote(environment)}/triggers/{quote(name)}"
                         f"?recovered={queued}")


# --------------------------------------------------------------------------- inbound


async def _inbound_page(request: _Request, services: Services, console: Console,
                        environment: str, name: str, *, status: int = 200,
                        **extra: Any) -> Template:
    view = _view(services, environment)
    declared = console.declarations
    base = _base_url(request)
    data = await _thread(lambda: views.inbound_detail(
        services, view, name, base_url=base, declared=declared.of(environment)))
    if data is None:
        raise NotFound(f"no inbound webhook '{name}' in '{environment}'")
    return console.render(request, services, "inbound.html.j2",
                          {"environment": environment, "name": name, "revealed": None,
                           **data, **extra},
                          status=status, section="inbound")


class InboundPages(BaseController):
    """Inbound webhooks: cards, detail with the delivery log, secret rotation."""

    path = "/{environment:str}/inbound"

    @get("/")
    async def inbound(self, request: _Request, services: ServicesDep, console: ConsoleDep,
                      environment: FromPath[str]) -> Template:
        """Inbound webhook cards."""
        view = _view(services, environment)
        declared = console.declarations
        base = _base_url(request)
        cards = await _thread(lambda: views.inbound_cards(
            services, view, base_url=base, declared=declared.of(environment)))
        return console.render(request, services, "inbound_list.html.j2",
                              {"environment": environment, "cards": cards},
                              section="inbound")

    @get("/{name:str}")
    async def inbound_webhook(self, request: _Request, services: ServicesDep,
                              console: ConsoleDep, environment: FromPath[str],
                              name: FromPath[str]) -> Template:
        """An inbound webhook: ingest URL, auth, delivery log with job progress."""
        return await _inbound_page(request, services, console, environment, name)

    @post("/{name:str}/rotate", status_code=200)
    async def rotate_inbound(self, request: _Request, services: ServicesDep,
                             console: ConsoleDep, environment: FromPath[str],
                             name: FromPath[str]) -> Template:
        """Rotate the webhook's generated secret or token; shown once in this response."""
        outcome = await _rotate(request, services, environment, "inbound_webhooks", name)
        here = f"{COOKIE_PATH}/{environment}/inbound/{name}"
        if outcome is None:
            return _confirm_page(request, services, console, environment,
                                 action=here + "/rotate", what=f"the secret of {name}",
                                 back=here, section="inbound")
        body, status = outcome
        if status != 200:
            return await _inbound_page(request, services, console, environment, name,
                                       error=body["error"], status=status)
        return await _inbound_page(request, services, console, environment, name,
                                   revealed=body)


# --------------------------------------------------------------------------- records


class RecordPages(BaseController):
    """Collections, pages of records, one record."""

    path = "/{environment:str}/records"

    @get("/")
    async def collections(self, request: _Request, services: ServicesDep,
                          console: ConsoleDep, environment: FromPath[str]) -> Template:
        """Collections with their record counts."""
        view = _view(services, environment)
        declared = console.declarations
        rows = await _thread(lambda: views.collections(services, view,
                                                       declared.of(environment)))
        return console.render(request, services, "collections.html.j2",
                              {"environment": environment, "collections": rows},
                              section="records")

    @get("/{collection:str}")
    async def records(self, request: _Request, services: ServicesDep, console: ConsoleDep, *,
                      environment: FromPath[str], collection: FromPath[str],
                      cursor: FromQuery[str | None] = None) -> Template:
        """A page of records, newest first."""
        view = _view(services, environment)
        data = await _thread(lambda: views.records_page(services, view, collection,
                                                        cursor=cursor))
        if data is None:
            raise NotFound(f"no collection '{collection}' in '{environment}'")
        return console.render(request, services, "records.html.j2",
                              {"environment": environment, **data}, section="records")

    @get("/{collection:str}/{record_id:str}")
    async def record(self, request: _Request, services: ServicesDep, console: ConsoleDep, *,
                     environment: FromPath[str], collection: FromPath[str],
                     record_id: FromPath[str]) -> Template:
        """One record: its JSON and origin."""
        view = _view(services, environment)
        data = await _thread(lambda: views.record_detail(services, view, collection,
                                                         record_id))
        if data is None:
            raise NotFound(f"no record '{record_id}' in collection '{collection}'")
        return console.render(request, services, "record.html.j2",
                              {"environment": environment, "collection": collection,
                               **data}, section="records")


# --------------------------------------------------------------------------- mounting


def _when(value: str | None) -> str:
    """``2024-05-01T12:00:00Z`` -> ``2024-05-01 12:00:00 UTC``."""
    if not value:
        return "—"
    return value.replace("T", " ").replace("Z", " UTC")


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 over the console's templates, autoescaping everything."""
    environment = Environment(loader=FileSystemLoader(TEMPLATES),
                              autoescape=select_autoescape(default=True,
                                                           default_for_string=True),
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["when"] = _when
    environment.filters["pathquote"] = lambda value: quote(str(value), safe="")
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


CONSOLE_CONTROLLERS = (SessionPages, OverviewPages, TriggerPages, InboundPages, RecordPages)


def console_handlers(*, root: Path, admin_token: str | None) -> list[ControllerRouterHandler]:
    """The ``/console`` router and its static files (``root``: the project whose
    ``environments/`` the pages point at for declarations; ``admin_token``: the runtime's,
    the console is off without one)."""
    console = Console(admin_token=admin_token, root=root)

    # functions, not bound methods: Litestar copies a router's hooks when it mounts them
    async def gate(request: _Request) -> Response[Any] | None:
        return await console.gate(request)

    def error_page(request: _Request, exc: Exception) -> Response[Any]:
        return console.error_page(request, exc)

    return [
        Router(path=COOKIE_PATH, route_handlers=list(CONSOLE_CONTROLLERS),
               dependencies={**provide(services=provide_services),
                             "console": Provide(lambda: console, sync_to_thread=False,
                                                use_cache=True)},
               before_request=gate,
               exception_handlers={Exception: error_page}, include_in_schema=False),
        create_static_files_router(path=f"{COOKIE_PATH}/static", directories=[STATIC],
                                   name="console-static", include_in_schema=False),
    ]
