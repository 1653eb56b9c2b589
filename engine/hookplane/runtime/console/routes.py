"""The console's routes: ``/console/…``, server-rendered with Jinja2.

Every route passes :func:`_gate` first (a ``before_request`` hook of the router):

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from hookplane.errors import HookplaneError
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
from hookplane.runtime.problems import headers_of, log_unexpected, message_of, status_of
from hookplane.state.store import DatabaseUnavailable

if TYPE_CHECKING:
    from hookplane.runtime.registry import EnvironmentView
    from hookplane.runtime.services import Services

log = logging.getLogger("hookplane.runtime.console")

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"
_ROOT_OPT = "console_root"
_PUBLIC_OPT = "console_public"
_STATE = "console_state"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_T = TypeVar("_T")


@dataclass
class _Console:
    sessions: Sessions
    declarations: Declarations


# --------------------------------------------------------------------------- helpers


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


def _console(request: Request[Any, Any, Any]) -> _Console:
    """Per-app state, made on first use (the admin token is fixed for the app's life)."""
    state = request.app.state
    console: _Console | None = getattr(state, _STATE, None)
    if console is None:
        token = _services(request).admin_token or ""
        root = request.route_handler.opt.get(_ROOT_OPT) or Path.cwd()
        console = _Console(Sessions(token), Declarations(Path(root)))
        setattr(state, _STATE, console)
    return console


def _session(request: Request[Any, Any, Any]) -> Session | None:
    session: Session | None = request.state.get("console_session")
    return session


async def _thread(call: Callable[[], _T]) -> _T:
    return await anyio.to_thread.run_sync(call)


def _view(request: Request[Any, Any, Any], environment: str) -> EnvironmentView:
    view = _services(request).registry.get(environment)
    if view is None:
        raise NotFoundException(f"no applied environment '{environment}'")
    return view


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def _render(request: Request[Any, Any, Any], template: str, context: dict[str, Any], *,
            status: int = 200, section: str = "") -> Template:
    services = _services(request)
    session = _session(request)
    console = _console(request)
    base = {
        "environments": services.registry.environments(),
        "environment": None,
        "section": section,
        "signed_in": session is not None,
        "csrf_token": console.sessions.csrf_token(session) if session is not None else "",
        "notice": None,
        "error": None,
    }
    return Template(template_name=template, context={**base, **context}, status_code=status,
                    headers=dict(SECURITY_HEADERS), media_type="text/html")


def _redirect(path: str) -> Redirect:
    return Redirect(path, status_code=303, headers=dict(SECURITY_HEADERS))


def _message_page(request: Request[Any, Any, Any], status: int, title: str,
                  message: str) -> Template:
    return _render(request, "message.html.j2", {"title": title, "message": message},
                   status=status)


def _same_origin(request: Request[Any, Any, Any]) -> bool:
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


# --------------------------------------------------------------------------- gate


async def _gate(request: Request[Any, Any, Any]) -> Response[Any] | None:
    services = _services(request)
    if not services.admin_token:
        request.state.console_session = None
        return _render(request, "message.html.j2", {
            "title": "The console is off",
            "message": "Set HOOKPLANE_ADMIN_TOKEN and restart 'hookplane serve' to use it.",
            "off": True}, status=404)
    console = _console(request)
    session = console.sessions.read(request.cookies.get(SESSION_COOKIE))
    request.state.console_session = session
    if request.method == "POST" and not _same_origin(request):
        return _message_page(request, 403, "Refused",
                             "This form was posted from another site.")
    if request.route_handler.opt.get(_PUBLIC_OPT):
        return None
    if session is None:
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return _redirect(f"{COOKIE_PATH}/sign-in?next={quote(target, safe='')}")
        return _message_page(request, 403, "Sign in first",
                             "Your session has ended. Sign in again and repeat the action.")
    if request.method == "POST":
        form = await request.form()
        if not console.sessions.csrf_valid(session, form.get("csrf_token")):
            return _message_page(request, 403, "Refused",
                                 "The form's CSRF token is missing or wrong. Reload the page "
                                 "and try again.")
    return None


def _html_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The console's answer to any exception: the status of the one table
    (:mod:`hookplane.runtime.problems`), as a page."""
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
    response = _message_page(request, status, title, message)
    if not isinstance(exc, HTTPException):  # Retry-After of a 503
        response.headers.update(headers_of(exc, status))
    return response


# --------------------------------------------------------------------------- sign-in


@get("/sign-in", opt={_PUBLIC_OPT: True})
async def sign_in_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The sign-in form (admin token)."""
    if _session(request) is not None:
        return _redirect(_safe_next(request.query_params.get("next")))
    return _sign_in_form(request, status=200, error=None)


def _sign_in_form(request: Request[Any, Any, Any], *, status: int,
                  error: str | None) -> Response[Any]:
    sessions = _console(request).sessions
    nonce = sessions.signin_nonce()
    response = _render(request, "sign_in.html.j2", {
        "signin_token": sessions.signin_token(nonce), "error": error,
        "next": _safe_next(request.query_params.get("next")),
    }, status=status)
    response.cookies.append(Cookie(
        key=SIGNIN_COOKIE, value=nonce, path=COOKIE_PATH, max_age=SIGNIN_SECONDS,
        httponly=True, secure=True, samesite="strict"))
    return response


@post("/sign-in", opt={_PUBLIC_OPT: True}, status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    """Check the admin token and start a session."""
    sessions = _console(request).sessions
    form = await request.form()
    if not sessions.signin_valid(request.cookies.get(SIGNIN_COOKIE), form.get("csrf_token")):
        return _message_page(request, 403, "Refused",
                             "The sign-in form expired or was not sent from this console. "
                             "Open the sign-in page again.")
    address = request.client.host if request.client else None
    auth = _services(request).auth
    wait = auth.retry_after(address)
    if wait is not None:  # too many wrong tokens from this client: not even checked
        response = _sign_in_form(request, status=429,
                                 error=f"Too many wrong tokens from your address: try again "
                                       f"in {wait} seconds.")
        response.headers["Retry-After"] = str(wait)
        return response
    if not sessions.token_matches(str(form.get("token") or "")):
        auth.failed(address, "console sign-in")
        log.warning("console sign-in refused: wrong admin token (from %s)", address or "?")
        return _sign_in_form(request, status=401,
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
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    """End the session (revoked here, cookie cleared)."""
    session = _session(request)
    if session is not None:
        _console(request).sessions.revoke(session)
    response = _redirect(f"{COOKIE_PATH}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


# --------------------------------------------------------------------------- overview


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    """The first applied environment's overview."""
    names = _services(request).registry.environments()
    if not names:
        return _message_page(request, 200, "Nothing applied yet",
                             "Run 'hookplane apply ENV' and this page will show it.")
    return _redirect(f"{COOKIE_PATH}/{quote(names[0])}")


@get("/{environment:str}")
async def overview(request: Request[Any, Any, Any], environment: FromPath[str]) -> Template:
    """Serial, last apply and promotion, counts, deliveries per minute."""
    services = _services(request)
    view = _view(request, environment)
    data = await _thread(lambda: views.overview(services, view, now=datetime.now(UTC)))
    return _render(request, "overview.html.j2", {"environment": environment, **data})


# --------------------------------------------------------------------------- triggers


@get("/{environment:str}/triggers")
async def triggers(request: Request[Any, Any, Any], environment: FromPath[str]) -> Template:
    """Trigger cards."""
    services = _services(request)
    view = _view(request, environment)
    declared = _console(request).declarations
    cards = await _thread(lambda: views.trigger_cards(services, view, declared.of(environment)))
    return _render(request, "triggers.html.j2", {"environment": environment, "cards": cards},
                   section="triggers")


async def _trigger_page(request: Request[Any, Any, Any], environment: str, name: str, *,
                        status: int = 200, **extra: Any) -> Template:
    services = _services(request)
    view = _view(request, environment)
    declared = _console(request).declarations
    wanted = request.query_params.get("status") if request.method == "GET" else None
    data = await _thread(lambda: views.trigger_detail(
        services, view, name, status=wanted, declared=declared.of(environment)))
    if data is None:
        raise NotFoundException(f"no trigger '{name}' in '{environment}'")
    return _render(request, "trigger.html.j2", {"environment": environment, "name": name,
                                                "test_result": None, "revealed": None,
                                                **data, **extra},
                   status=status, section="triggers")


@get("/{environment:str}/triggers/{name:str}")
async def trigger(request: Request[Any, Any, Any], environment: FromPath[str],
                  name: FromPath[str]) -> Template:
    """A trigger: configuration, secrets (prefixes), delivery history."""
    notice = None
    queued = request.query_params.get("queued")
    if queued:
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
                  "No delivery matched: nothing was queued (deliveries already queued are "
                  "left alone).")
    return await _trigger_page(request, environment, name, notice=notice)


@get("/{environment:str}/triggers/{name:str}/deliveries/{delivery_id:str}")
async def delivery(request: Request[Any, Any, Any], environment: FromPath[str],
                   name: FromPath[str], delivery_id: FromPath[str]) -> Template:
    """One delivery: the request as stored, and every attempt's response."""
    services = _services(request)
    view = _view(request, environment)
    data = await _thread(lambda: views.delivery_detail(services, view, name, delivery_id))
    if data is None:
        raise NotFoundException(f"no delivery '{delivery_id}' of trigger '{name}'")
    return _render(request, "delivery.html.j2",
                   {"environment": environment, "name": name, **data}, section="triggers")


@post("/{environment:str}/triggers/{name:str}/test", status_code=200)
async def send_test(request: Request[Any, Any, Any], environment: FromPath[str],
                    name: FromPath[str]) -> Template:
    """Send a synthetic signed ``test`` event now; show the receiver's answer."""
    services = _services(request)
    view = _view(request, environment)
    if name not in view.triggers:
        raise NotFoundException(f"no trigger '{name}' in '{environment}'")
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
    return await _trigger_page(request, environment, name, test_result=result)


async def _rotate(request: Request[Any, Any, Any], environment: str, kind: str,
                  name: str) -> tuple[dict[str, Any], int] | None:
    """None when the form was not confirmed (no JavaScript: show the confirmation page)."""
    form = await request.form()
    if form.get("confirm") != "yes":
        return None
    services = _services(request)
    _view(request, environment)
    try:
        return await _thread(lambda: rotate(services, environment, kind, name,
                                            actor="console")), 200
    except HookplaneError as exc:
        status = status_of(exc)
        if status >= 500:  # the error page says it
            raise
        return {"error": str(exc)}, status


def _confirm_page(request: Request[Any, Any, Any], environment: str, *, action: str, what: str,
                  back: str, section: str) -> Template:
    return _render(request, "confirm.html.j2", {"environment": environment, "action": action,
                                                "what": what, "back": back},
                   section=section)


@post("/{environment:str}/triggers/{name:str}/rotate", status_code=200)
async def rotate_trigger(request: Request[Any, Any, Any], environment: FromPath[str],
                         name: FromPath[str]) -> Template:
    """Rotate the signing secret; the new one is shown once in this response."""
    outcome = await _rotate(request, environment, "triggers", name)
    here = f"{COOKIE_PATH}/{environment}/triggers/{name}"
    if outcome is None:
        return _confirm_page(request, environment, action=here + "/rotate",
                             what=f"the signing secret of {name}", back=here,
                             section="triggers")
    body, status = outcome
    if status != 200:
        return await _trigger_page(request, environment, name, error=body["error"],
                                   status=status)
    return await _trigger_page(request, environment, name, revealed=body)


@post("/{environment:str}/triggers/{name:str}/deliveries/{delivery_id:str}/redeliver",
      status_code=303)
async def redeliver(request: Request[Any, Any, Any], environment: FromPath[str],
                    name: FromPath[str], delivery_id: FromPath[str]) -> Response[Any]:
    """Queue a failed delivery again (same id)."""
    services = _services(request)
    view = _view(request, environment)
    trigger = view.triggers.get(name)
    found = await _thread(lambda: services.runtime.delivery(delivery_id))
    if trigger is None or found is None or found.environment != environment \
            or found.trigger_id != trigger.id:
        raise NotFoundException(f"no delivery '{delivery_id}' of trigger '{name}'")
    done = await _thread(lambda: services.runtime.redeliver(delivery_id,
                                                            environment=environment))
    if done and services.dispatcher is not None:
        services.dispatcher.notify()
    here = f"{COOKIE_PATH}/{quote(environment)}/triggers/{quote(name)}"
    return _redirect(f"{here}?queued={quote(delivery_id)}" if done
                     else f"{here}?not_queued={quote(delivery_id)}")


@post("/{environment:str}/triggers/{name:str}/enable", status_code=303)
async def enable(request: Request[Any, Any, Any], environment: FromPath[str],
                 name: FromPath[str]) -> Response[Any]:
    """Close the trigger's circuit breaker (re-enable it after ``trigger.disabled``),
    audited like the CLI's and admin API's."""
    services = _services(request)
    view = _view(request, environment)
    if name not in view.triggers:
        raise NotFoundException(f"no trigger '{name}' in '{environment}'")
    await _thread(lambda: enable_trigger(services.store, services.runtime, environment, name,
                                         actor="console"))
    if services.dispatcher is not None:
        services.dispatcher.resume(view.triggers[name].id)
    return _redirect(f"{COOKIE_PATH}/{quote(environment)}/triggers/{quote(name)}?enabled=1")


@post("/{environment:str}/triggers/{name:str}/recover", status_code=303)
async def recover(request: Request[Any, Any, Any], environment: FromPath[str],
                  name: FromPath[str]) -> Response[Any]:
    """Bulk recovery: queue again every failed (or every finished) delivery of the trigger
    created in the chosen window; one audited operation, idempotent while queued."""
    services = _services(request)
    view = _view(request, environment)
    if name not in view.triggers:
        raise NotFoundException(f"no trigger '{name}' in '{environment}'")
    form = await request.form()
    window = str(form.get("since") or "")
    if window not in views.RECOVER_WINDOWS:
        raise ValidationException(f"since: one of {', '.join(views.RECOVER_WINDOWS)}")
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


@get("/{environment:str}/inbound")
async def inbound(request: Request[Any, Any, Any], environment: FromPath[str]) -> Template:
    """Inbound webhook cards."""
    services = _services(request)
    view = _view(request, environment)
    declared = _console(request).declarations
    base = _base_url(request)
    cards = await _thread(lambda: views.inbound_cards(
        services, view, base_url=base, declared=declared.of(environment)))
    return _render(request, "inbound_list.html.j2", {"environment": environment,
                                                     "cards": cards}, section="inbound")


async def _inbound_page(request: Request[Any, Any, Any], environment: str, name: str, *,
                        status: int = 200, **extra: Any) -> Template:
    services = _services(request)
    view = _view(request, environment)
    declared = _console(request).declarations
    base = _base_url(request)
    data = await _thread(lambda: views.inbound_detail(
        services, view, name, base_url=base, declared=declared.of(environment)))
    if data is None:
        raise NotFoundException(f"no inbound webhook '{name}' in '{environment}'")
    return _render(request, "inbound.html.j2", {"environment": environment, "name": name,
                                                "revealed": None, **data, **extra},
                   status=status, section="inbound")


@get("/{environment:str}/inbound/{name:str}")
async def inbound_webhook(request: Request[Any, Any, Any], environment: FromPath[str],
                          name: FromPath[str]) -> Template:
    """An inbound webhook: ingest URL, auth, delivery log with job progress."""
    return await _inbound_page(request, environment, name)


@post("/{environment:str}/inbound/{name:str}/rotate", status_code=200)
async def rotate_inbound(request: Request[Any, Any, Any], environment: FromPath[str],
                         name: FromPath[str]) -> Template:
    """Rotate the webhook's generated secret or token; shown once in this response."""
    outcome = await _rotate(request, environment, "inbound_webhooks", name)
    here = f"{COOKIE_PATH}/{environment}/inbound/{name}"
    if outcome is None:
        return _confirm_page(request, environment, action=here + "/rotate",
                             what=f"the secret of {name}", back=here,
                             section="inbound")
    body, status = outcome
    if status != 200:
        return await _inbound_page(request, environment, name, error=body["error"],
                                   status=status)
    return await _inbound_page(request, environment, name, revealed=body)


# --------------------------------------------------------------------------- records


@get("/{environment:str}/records")
async def collections(request: Request[Any, Any, Any], environment: FromPath[str]) -> Template:
    """Collections with their record counts."""
    services = _services(request)
    view = _view(request, environment)
    declared = _console(request).declarations
    rows = await _thread(lambda: views.collections(services, view, declared.of(environment)))
    return _render(request, "collections.html.j2", {"environment": environment,
                                                    "collections": rows}, section="records")


@get("/{environment:str}/records/{collection:str}")
async def records(request: Request[Any, Any, Any], environment: FromPath[str],
                  collection: FromPath[str], cursor: FromQuery[str | None] = None) -> Template:
    """A page of records, newest first."""
    services = _services(request)
    view = _view(request, environment)
    data = await _thread(lambda: views.records_page(services, view, collection,
                                                    cursor=cursor))
    if data is None:
        raise NotFoundException(f"no collection '{collection}' in '{environment}'")
    return _render(request, "records.html.j2", {"environment": environment, **data},
                   section="records")


@get("/{environment:str}/records/{collection:str}/{record_id:str}")
async def record(request: Request[Any, Any, Any], environment: FromPath[str],
                 collection: FromPath[str], record_id: FromPath[str]) -> Template:
    """One record: its JSON and origin."""
    services = _services(request)
    view = _view(request, environment)
    data = await _thread(lambda: views.record_detail(services, view, collection, record_id))
    if data is None:
        raise NotFoundException(f"no record '{record_id}' in collection '{collection}'")
    return _render(request, "record.html.j2", {"environment": environment,
                                               "collection": collection, **data},
                   section="records")


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


def console_handlers(*, root: Path) -> list[ControllerRouterHandler]:
    """The ``/console`` router and its static files (``root``: the project whose
    ``environments/`` the pages point at for declarations)."""
    handlers: list[ControllerRouterHandler] = [
        sign_in_page, sign_in, sign_out, home, overview, triggers, trigger, delivery,
        send_test, rotate_trigger, redeliver, enable, recover, inbound, inbound_webhook,
        rotate_inbound, collections, records, record]
    return [
        Router(path=COOKIE_PATH, route_handlers=handlers, before_request=_gate,
               exception_handlers={Exception: _html_error}, include_in_schema=False,
               opt={_ROOT_OPT: root}),
        create_static_files_router(path=f"{COOKIE_PATH}/static", directories=[STATIC],
                                   name="console-static", include_in_schema=False),
    ]
