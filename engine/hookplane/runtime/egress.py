"""THE outbound sender: every request Hookplane makes to another system goes through it.

Trigger deliveries, test sends, redeliveries, external writes, hydration fetches and invoke
calls all use one :class:`Sender` (a port of two methods, :meth:`Sender.send` and
:meth:`Sender.aclose`), and the runtime builds exactly one implementation of it,
:class:`GuardedSender` (``aiohttp``, chosen for its CPU cost per request: about a sixth of
``httpx``'s). No other module of the runtime may open an HTTP client or a socket to a
configured destination; ``tests/hardening/test_egress_boundary.py`` reads the imports of
every module to keep it so, and sends from each call site to a loopback receiver to prove
the refusal.

A URL is configuration, and configuration can point anywhere — at the cloud metadata
service, at the state database, at an admin port on localhost. At connect time the sender
resolves the destination host (``getaddrinfo``, off the event loop) and refuses the
connection when **any** resolved address is

- loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::), private (RFC 1918, ULA
  fc00::/7), shared address space (CGNAT 100.64.0.0/10), link-local (169.254.0.0/16,
  fe80::/10), cloud metadata (169.254.169.254, fd00:ec2::254), multicast, broadcast,
  documentation/benchmark or otherwise reserved — anything outside the global unicast space;
- or an IPv6 address that embeds such an IPv4 address (IPv4-mapped, NAT64, 6to4),

unless it lies inside one of the operator's allowed networks (``HOOKPLANE_ALLOW_NETWORKS``,
comma-separated CIDRs, read by :func:`allowed_networks_from_env`; the constructor itself
never reads the environment).

The connection is then made to the vetted address itself (the address is *pinned*), while
the URL — and so the ``Host`` header, TLS SNI and certificate verification — keeps the host
name: the sender's resolver is the guard (it answers only vetted addresses, which
``aiohttp``'s connector then connects to; its DNS cache is off), and the socket of every
connection is vetted once more against the address it is about to connect to (IP literal
URLs included). A DNS answer that changes between the check and the connect (DNS
rebinding) therefore cannot redirect the connection. Pooled keep-alive connections were
vetted when they were opened. Redirects are never followed and proxies from the
environment never used, so a public URL cannot bounce a request to an internal one either.

Failures are raised in Hookplane's vocabulary (:mod:`hookplane.errors`):
:class:`~hookplane.errors.EgressRefused`, :class:`~hookplane.errors.EgressInvalidURL`,
:class:`~hookplane.errors.EgressTimeout`, :class:`~hookplane.errors.EgressUnreachable`, all
:class:`~hookplane.errors.EgressError`. Their messages name the destination by scheme, host
and port only — never the path, the query, user info or a header value, which often carry a
secret (Slack, Discord and Teams URLs are credentials) — also when the URL is malformed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import aiohttp.abc
import anyio
import certifi
import yarl

from hookplane import __version__
from hookplane.errors import (
    DeliveryError,
    EgressError,
    EgressInvalidURL,
    EgressRefused,
    EgressTimeout,
    EgressUnreachable,
)

__all__ = [
    "ALLOW_NETWORKS_VAR",
    "USER_AGENT",
    "Answer",
    "EgressError",
    "EgressInvalidURL",
    "EgressRefused",
    "EgressTimeout",
    "EgressUnreachable",
    "GuardedSender",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "Sender",
    "allowed_networks_from_env",
    "parse_networks",
    "refusal_reason",
    "safe_destination",
    "sender_from_env",
]

ALLOW_NETWORKS_VAR = "HOOKPLANE_ALLOW_NETWORKS"
USER_AGENT = f"Hookplane-Webhooks/{__version__}"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: how host names are resolved (injectable for tests)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer as the sender read it."""

    status_code: int
    headers: Mapping[str, str]
    """The response headers (names case-insensitive)."""
    content: bytes | None
    """The body (decoded as its ``Content-Encoding`` says); None when it was longer than the
    cap (the connection is then closed without reading the rest)."""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class Sender(Protocol):
    """The outbound port: what every caller of another system is given."""

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes = b"", timeout: float, cap: int) -> Answer:
        """Send one request; read at most ``cap`` bytes of the answer, within ``timeout``
        seconds for the whole exchange. Raises :class:`~hookplane.errors.EgressError`."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections."""
        ...


def safe_destination(url: str) -> str:
    """``scheme://host:port`` of ``url`` — what an error text may show of a destination.

    Never the path, query, fragment or user info (they often carry a secret); for a URL
    that cannot be parsed, a fixed text.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        port = None
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return "(a malformed URL)"
    scheme = parts.scheme.lower()
    if not host or scheme not in ("http", "https"):
        return "(a malformed URL)"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def _target(url: str) -> tuple[str, str]:
    """``(scheme, host)`` of a URL the sender will send to; raises when it cannot."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise EgressInvalidURL("invalid destination (a malformed URL): it cannot be parsed; "
                               "check the URL's host and brackets") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"a '{scheme}' URL" if scheme else "a URL without a scheme"
        raise EgressRefused(f"refused to send to {shown}: outbound requests use http or "
                            "https", reason="scheme")
    destination = safe_destination(url)
    try:
        port = parts.port
    except ValueError:
        raise EgressInvalidURL(f"invalid destination {destination}: the port is not a number "
                               "from 1 to 65535") from None
    if port == 0:
        raise EgressInvalidURL(f"invalid destination {destination}: the port is not a number "
                               "from 1 to 65535")
    host = parts.hostname
    if not host:
        raise EgressInvalidURL(f"invalid destination {destination}: the URL has no host")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise EgressInvalidURL(f"invalid destination {destination}: the URL contains "
                               "white space or control characters")
    return scheme, host


_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# (network, reason), most specific first: the first match names the refusal.
_BLOCKED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("169.254.169.254/32"), "the cloud metadata service"),
    (_V4("0.0.0.0/8"), "an unspecified address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("100.64.0.0/10"), "a shared (CGNAT) address"),
    (_V4("169.254.0.0/16"), "a link-local address"),
    (_V4("192.0.0.0/24"), "a reserved address"),
    (_V4("192.0.2.0/24"), "a documentation address"),
    (_V4("198.51.100.0/24"), "a documentation address"),
    (_V4("203.0.113.0/24"), "a documentation address"),
    (_V4("192.88.99.0/24"), "a reserved address"),
    (_V4("198.18.0.0/15"), "a benchmarking address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("255.255.255.255/32"), "the broadcast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)

_METADATA_V6 = _V6("fd00:ec2::254/128")
_GLOBAL_V6 = _V6("2000::/3")
_MAPPED_V6 = _V6("::ffff:0:0/96")
_NAT64_V6 = _V6("64:ff9b::/96")
_SIXTOFOUR_V6 = _V6("2002::/16")
_BLOCKED_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_METADATA_V6, "the cloud metadata service"),
    (_V6("::/128"), "an unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("fc00::/7"), "a private (unique local) address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
    (_V6("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_V6("100::/64"), "a discard-only address"),
    (_V6("2001:db8::/32"), "a documentation address"),
    (_V6("2001::/23"), "a reserved (IETF protocol) address"),
    (_V6("3fff::/20"), "a documentation address"),
)


def _contains(networks: Iterable[IPNetwork], address: IPAddress) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def refusal_reason(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why deliveries may not connect to ``address`` (None when they may).

    An address inside ``allowed`` is always permitted. IPv6 addresses that embed an IPv4
    address (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the
    embedded address as well.
    """
    if _contains(allowed, address):
        return None
    if isinstance(address, ipaddress.IPv4Address):
        for v4, reason in _BLOCKED_V4:
            if address in v4:
                return reason
        return None
    for v6, reason in _BLOCKED_V6:
        if address in v6:
            return reason
    embedded: ipaddress.IPv4Address | None = None
    if address in _MAPPED_V6:
        embedded = address.ipv4_mapped
    elif address in _NAT64_V6:
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    elif address in _SIXTOFOUR_V6:
        embedded = address.sixtofour
    if embedded is not None:
        inner = refusal_reason(embedded, allowed)
        return f"{inner} (embedded in {address})" if inner is not None else None
    if address not in _GLOBAL_V6:
        return "a reserved address (outside global unicast 2000::/3)"
    return None


def parse_networks(items: Iterable[str], *, source: str = ALLOW_NETWORKS_VAR
                   ) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) as networks; :class:`DeliveryError` names a bad one."""
    networks: list[IPNetwork] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise DeliveryError(
                f"{source}: '{text}' is not a network; write CIDRs separated by commas, e.g. "
                "127.0.0.0/8,10.0.0.0/8,fd00::/8"
            ) from None
    return tuple(networks)


def allowed_networks_from_env(environ: Mapping[str, str] | None = None
                              ) -> tuple[IPNetwork, ...]:
    """The operator's allowlist from ``HOOKPLANE_ALLOW_NETWORKS`` (empty when unset)."""
    env = os.environ if environ is None else environ
    return parse_networks(env.get(ALLOW_NETWORKS_VAR, "").split(","))


async def _system_resolver(host: str, port: int) -> Sequence[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (run in a worker thread)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)


class _Guard:
    def __init__(self, allowed: Sequence[IPNetwork], resolver: Resolver) -> None:
        self.allowed = tuple(allowed)
        self.resolver = resolver

    async def vet(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The addresses to connect to, each checked; raises when any is refused."""
        try:
            literal: IPAddress | None = _address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                with anyio.fail_after(timeout):
                    addresses = list(dict.fromkeys(await self.resolver(host, port)))
            except TimeoutError as exc:
                raise EgressTimeout(
                    f"resolving {host} took longer than {timeout:g}s") from exc
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise EgressUnreachable(f"could not resolve {host}: {reason}") from exc
            if not addresses:
                raise EgressUnreachable(f"could not resolve {host}: no addresses")
        for text in addresses:
            try:
                address = _address(text)
            except ValueError:
                raise EgressRefused(f"refused to connect to {host}: the resolver answered "
                                    f"{text!r}, which is not an IP address",
                                    host=host, address=text, reason="invalid") from None
            self.check(host, address)
        return addresses

    def check(self, host: str, address: IPAddress) -> None:
        """Raise :class:`EgressRefused` when requests may not connect to ``address``."""
        reason = refusal_reason(address, self.allowed)
        if reason is not None:
            shown = host if str(address) == host else f"{host} ({address})"
            hint = ("webhooks never need it" if "metadata" in reason else
                    "outbound requests only go to public addresses unless the operator "
                    f"allows the network in {ALLOW_NETWORKS_VAR} (e.g. "
                    f"{ALLOW_NETWORKS_VAR}={_suggest(address)})")
            raise EgressRefused(f"refused to connect to {shown}: {reason}; {hint}",
                                host=host, address=str(address), reason=reason)


def _suggest(address: IPAddress) -> str:
    prefix = 32 if address.version == 4 else 128
    return str(ipaddress.ip_network(f"{address}/{prefix}"))


class _GuardResolver(aiohttp.abc.AbstractResolver):
    """``aiohttp``'s resolver: the guard's vetted addresses, nothing else.

    Errors are not ``OSError``: ``aiohttp`` lets them through unchanged."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET
                      ) -> list[aiohttp.abc.ResolveResult]:
        addresses = await self._guard.vet(host, port, None)
        return [{"hostname": host, "host": text, "port": port,
                 "family": socket.AF_INET6 if ":" in text else socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for text in addresses]

    async def close(self) -> None:
        return None


def _failure(exc: aiohttp.ClientError | OSError, destination: str) -> EgressError:
    """``exc`` in Hookplane's vocabulary. Library texts are not reused where they can hold
    the URL (``InvalidURL``, ``ClientResponseError``): only fixed words, the exception's
    class and an OS error's reason."""
    kind = type(exc).__name__
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return EgressInvalidURL(f"invalid destination {destination}: the URL cannot be "
                                f"sent ({kind})")
    if isinstance(exc, aiohttp.ConnectionTimeoutError | aiohttp.ServerTimeoutError):
        return EgressTimeout(f"no answer from {destination} in time ({kind})")
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
            reason = f"TLS: {exc.os_error.__class__.__name__}: {reason}"
        return EgressUnreachable(f"could not connect to {destination}: {reason} ({kind})")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return EgressUnreachable(f"{destination} closed the connection before answering "
                                 f"({kind})")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return EgressUnreachable(f"{destination} answered with a malformed HTTP response "
                                 f"({kind})")
    if isinstance(exc, OSError):
        return EgressUnreachable(f"the connection to {destination} failed: "
                                 f"{exc.strerror or kind} ({kind})")
    return EgressUnreachable(f"the request to {destination} failed ({kind})")


_URL_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                            "-._~:/?#[]@!$&'()*+,;=%")


def _as_sent(url: str) -> str | yarl.URL:
    """A URL already made only of URL characters is sent byte for byte (``yarl`` would
    otherwise re-normalise it: ``%3D`` in a path becomes ``=``, which changes what a
    percent-encoded id means to some servers); anything else is encoded by ``yarl``."""
    if _URL_CHARACTERS.issuperset(url):
        return yarl.URL(url, encoded=True)
    return url


def _ssl_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext | bool:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if not verify:
        return False
    return ssl.create_default_context(cafile=certifi.where())


class GuardedSender:
    """The one :class:`Sender` implementation (``aiohttp``): vets and pins every
    destination address.

    ``allow_networks`` opens networks that are refused by default (tests open 127.0.0.0/8);
    ``resolver`` replaces ``getaddrinfo`` (tests map names to addresses). Only ``http`` and
    ``https`` URLs are sent; redirects are not followed, proxies and certificate settings
    from the environment are never used (certificates are checked against ``certifi``'s
    bundle), cookies are neither stored nor sent. Keep-alive connections (at most
    ``max_connections`` open) are closed after ``keepalive_seconds`` idle. A request without
    a ``User-Agent`` gets :data:`USER_AGENT`.

    The ``aiohttp`` session is made on first use inside the running event loop (and again
    if the sender is used from another loop); :meth:`aclose` closes it.
    """

    def __init__(self, *, allow_networks: Iterable[str | IPNetwork] = (),
                 resolver: Resolver | None = None, verify: bool | ssl.SSLContext = True,
                 max_connections: int = 200, keepalive_seconds: float = 5.0) -> None:
        allowed = parse_networks(str(item) for item in allow_networks)
        self.allow_networks: tuple[IPNetwork, ...] = allowed
        self._guard = _Guard(allowed, resolver or _system_resolver)
        self._verify = verify
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._ssl: ssl.SSLContext | bool | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """Every connection's socket: its destination is vetted once more (the pin)."""
        family, kind, proto, _, sockaddr = addr_info
        text = str(sockaddr[0])
        self._guard.check(text, _address(text))
        return socket.socket(family=family, type=kind, proto=proto)

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop and not self._session.closed:
            return self._session
        if self._ssl is None:
            self._ssl = _ssl_context(self._verify)
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0,
            keepalive_timeout=self._keepalive_seconds, use_dns_cache=False,
            resolver=_GuardResolver(self._guard), ssl=self._ssl,
            happy_eyeballs_delay=None, socket_factory=self._socket)
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None), raise_for_status=False,
            auto_decompress=True)
        self._loop = loop
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) > 64:
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes = b"", timeout: float, cap: int) -> Answer:
        """Send one request and read at most ``cap`` bytes of the answer.

        Raises :class:`~hookplane.errors.EgressRefused` for a refused destination or scheme,
        :class:`~hookplane.errors.EgressInvalidURL` for a URL or header that cannot be sent,
        :class:`~hookplane.errors.EgressTimeout` when the whole exchange takes longer than
        ``timeout`` seconds, else :class:`~hookplane.errors.EgressUnreachable`.
        """
        _target(url)
        destination = safe_destination(url)
        session = self._open()
        if "user-agent" not in {name.lower() for name in headers}:
            headers = {**headers, "User-Agent": USER_AGENT}
        try:
            async with session.request(method, _as_sent(url), data=body or None,
                                       headers=headers,
                                       allow_redirects=False,
                                       timeout=self._timeout(timeout)) as response:
                stream = response.content
                parts: list[bytes] = []
                size = 0
                while chunk := await stream.readany():
                    size += len(chunk)
                    if size > cap:
                        response.close()  # stop reading: the connection is not reused
                        return Answer(response.status, response.headers, None)
                    parts.append(chunk)
                return Answer(response.status, response.headers, b"".join(parts))
        except EgressError:
            raise
        except TimeoutError as exc:  # aiohttp's total timeout (asyncio.TimeoutError)
            raise EgressTimeout(f"no answer within {timeout:g}s (timeout)") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise _failure(exc, destination) from exc
        except (ValueError, TypeError, UnicodeError) as exc:
            # header names/values or a URL aiohttp cannot encode; its text may hold them
            raise EgressInvalidURL(f"invalid request to {destination}: a header name or "
                                   "value, or the URL, cannot be sent as HTTP "
                                   f"({type(exc).__name__})") from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> GuardedSender:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc_value: BaseException | None = None,
                        traceback: TracebackType | None = None) -> None:
        await self.aclose()


def sender_from_env(environ: Mapping[str, str] | None = None, **options: Any) -> GuardedSender:
    """The runtime's sender: a :class:`GuardedSender` allowing the networks of
    ``HOOKPLANE_ALLOW_NETWORKS`` (every other setting its default)."""
    return GuardedSender(allow_networks=allowed_networks_from_env(environ), **options)
