"""Outbound network guard: trigger deliveries never reach internal addresses by accident.

A trigger URL is configuration, and configuration can point anywhere — at the cloud metadata
service, at the state database, at an admin port on localhost. :class:`GuardedClient` is the
dispatcher's client (``aiohttp``, chosen for its CPU cost per request: about a sixth of
``httpx``'s); :class:`GuardedTransport` gives an ``httpx`` client the same guard. At connect
time both resolve the destination host (``getaddrinfo``, off the event loop), refuse the
connection when **any** resolved address is

- loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0/8, ::), private (RFC 1918, ULA
  fc00::/7), shared address space (CGNAT 100.64.0.0/10), link-local (169.254.0.0/16,
  fe80::/10), cloud metadata (169.254.169.254, fd00:ec2::254), multicast, broadcast,
  documentation/benchmark or otherwise reserved — anything outside the global unicast space;
- or an IPv6 address that embeds such an IPv4 address (IPv4-mapped, NAT64, 6to4),

unless it lies inside one of the operator's allowed networks (``HOOKPLANE_ALLOW_NETWORKS``,
comma-separated CIDRs, read by :func:`allowed_networks_from_env`; the constructor itself
never reads the environment). A refusal raises :class:`EgressRefused`, which the dispatcher
records as the attempt's error.

The connection is then made to the vetted address itself (the address is *pinned*), while
the URL — and so the ``Host`` header, TLS SNI and certificate verification — keeps the host
name. :class:`GuardedClient`'s resolver is the guard (it answers only vetted addresses, which
``aiohttp``'s connector then connects to; its DNS cache is off), and the socket of every
connection is vetted once more against the address it is about to connect to (IP literal
URLs included); :class:`GuardedTransport` swaps the network backend of ``httpx``'s
connection pool for one that connects to the addresses it just checked. A DNS answer that
changes between the check and the connect (DNS rebinding) therefore cannot redirect the
connection. Pooled keep-alive connections were vetted when they were opened.

Redirects are never followed and proxies from the environment never used, so a public URL
cannot bounce a delivery to an internal one either. :class:`GuardedClient` raises ``httpx``'s
exception classes (``ConnectError``, ``ReadTimeout``, ``RemoteProtocolError`` …) for transport
failures, so callers handle both clients alike.
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
from typing import Any

import aiohttp
import aiohttp.abc
import anyio
import httpcore
import httpx

from hookplane.errors import DeliveryError

__all__ = [
    "ALLOW_NETWORKS_VAR",
    "Answer",
    "EgressRefused",
    "GuardedClient",
    "GuardedTransport",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "allowed_networks_from_env",
    "guarded_client_from_env",
    "guarded_transport_from_env",
    "parse_networks",
    "refusal_reason",
]

ALLOW_NETWORKS_VAR = "HOOKPLANE_ALLOW_NETWORKS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: how host names are resolved (injectable for tests)."""


class EgressRefused(DeliveryError, httpx.ConnectError):
    """A delivery destination resolved to an address deliveries may not reach.

    A :class:`~hookplane.errors.DeliveryError` (the engine's tree) and, so that any code
    handling ``httpx`` transport errors handles it too, an ``httpx.ConnectError``.
    """

    def __init__(self, message: str, *, host: str = "", address: str = "",
                 reason: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.address = address
        self.reason = reason


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
                raise httpcore.ConnectTimeout(
                    f"resolving {host} took longer than {timeout:g}s") from exc
            except OSError as exc:
                raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"could not resolve {host}: no addresses")
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
        """Raise :class:`EgressRefused` when deliveries may not connect to ``address``."""
        reason = refusal_reason(address, self.allowed)
        if reason is not None:
            shown = host if str(address) == host else f"{host} ({address})"
            hint = ("webhooks never need it" if "metadata" in reason else
                    "deliveries only go to public addresses unless the operator allows "
                    f"the network in {ALLOW_NETWORKS_VAR} (e.g. "
                    f"{ALLOW_NETWORKS_VAR}={_suggest(address)})")
            raise EgressRefused(f"refused to connect to {shown}: {reason}; {hint}",
                                host=host, address=str(address), reason=reason)


def _suggest(address: IPAddress) -> str:
    prefix = 32 if address.version == 4 else 128
    return str(ipaddress.ip_network(f"{address}/{prefix}"))


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the vetted addresses of a host; TLS still uses the host name."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, guard: _Guard) -> None:
        self._inner = inner
        self._guard = guard

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        addresses = await self._guard.vet(host, port, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("refused to connect to a Unix socket", reason="unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncHTTPTransport`` that vets and pins every destination address.

    ``allow_networks`` opens networks that are refused by default (tests open 127.0.0.0/8);
    ``resolver`` replaces ``getaddrinfo`` (tests map names to addresses). Only ``http`` and
    ``https`` URLs are sent; proxies from the environment are never used.
    """

    def __init__(self, *, allow_networks: Iterable[str | IPNetwork] = (),
                 resolver: Resolver | None = None, verify: bool | Any = True,
                 limits: httpx.Limits | None = None) -> None:
        allowed = parse_networks(str(item) for item in allow_networks)
        self.allow_networks: tuple[IPNetwork, ...] = allowed
        self._guard = _Guard(allowed, resolver or _system_resolver)
        chosen = limits or httpx.Limits(max_connections=200, max_keepalive_connections=40)
        self._inner = httpx.AsyncHTTPTransport(verify=verify, limits=chosen, trust_env=False)
        # httpx does not take a network backend; give its pool one that pins vetted
        # addresses. Every other pool setting is the one httpx chose.
        pool = self._inner._pool
        if not isinstance(pool, httpcore.AsyncConnectionPool):  # pragma: no cover
            raise RuntimeError("unexpected httpx transport internals: cannot guard egress")
        pool._network_backend = _PinnedBackend(pool._network_backend, self._guard)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise EgressRefused(f"refused to send to a '{request.url.scheme}' URL: deliveries "
                                "use http or https", reason="scheme")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> GuardedTransport:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc_value: BaseException | None = None,
                        traceback: TracebackType | None = None) -> None:
        await self._inner.__aexit__(exc_type, exc_value, traceback)


def guarded_transport_from_env(environ: Mapping[str, str] | None = None,
                               **options: Any) -> GuardedTransport:
    """A :class:`GuardedTransport` allowing the networks of ``HOOKPLANE_ALLOW_NETWORKS``."""
    return GuardedTransport(allow_networks=allowed_networks_from_env(environ), **options)


@dataclass(frozen=True, slots=True)
class Answer:
    """A receiver's answer, as :meth:`GuardedClient.send` read it."""

    status_code: int
    headers: Mapping[str, str]
    """The response headers (names case-insensitive)."""
    content: bytes | None
    """The body (decoded as its ``Content-Encoding`` says); None when it was longer than the
    cap (the connection is then closed without reading the rest)."""


class _GuardResolver(aiohttp.abc.AbstractResolver):
    """``aiohttp``'s resolver: the guard's vetted addresses, nothing else."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET
                      ) -> list[aiohttp.abc.ResolveResult]:
        try:
            addresses = await self._guard.vet(host, port, None)
        except httpcore.ConnectError as exc:  # not an OSError: aiohttp lets it through
            raise httpx.ConnectError(str(exc)) from exc
        return [{"hostname": host, "host": text, "port": port,
                 "family": socket.AF_INET6 if ":" in text else socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for text in addresses]

    async def close(self) -> None:
        return None


def _transport_error(exc: aiohttp.ClientError) -> Exception:
    """The ``httpx`` exception an ``httpx`` client raises for the same failure."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.InvalidURL(text)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
                  | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(text)
    return httpx.NetworkError(text)


class GuardedClient:
    """The dispatcher's HTTP client (``aiohttp``): vets and pins every destination address.

    ``allow_networks`` opens networks that are refused by default (tests open 127.0.0.0/8);
    ``resolver`` replaces ``getaddrinfo`` (tests map names to addresses). Only ``http`` and
    ``https`` URLs are sent; redirects are not followed, proxies and certificate settings
    from the environment are never used (certificates are checked against ``certifi``'s
    bundle, as ``httpx`` does), cookies are neither stored nor sent. Keep-alive connections
    (at most ``max_connections`` open) are closed after ``keepalive_seconds`` idle.

    The ``aiohttp`` session is made on first use inside the running event loop (and again
    if the client is used from another loop); :meth:`aclose` closes it.
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
        self._ssl: ssl.SSLContext | None = None
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
            self._ssl = httpx.create_ssl_context(verify=self._verify, trust_env=False)
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0,
            keepalive_timeout=self._keepalive_seconds, use_dns_cache=False,
            resolver=_GuardResolver(self._guard), ssl=self._ssl,
            happy_eyeballs_delay=None, socket_factory=self._socket)
        self._session = aiohttp.ClientSession(
            connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None), raise_for_status=False)
        self._loop = loop
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) > 64:
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def send(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes,
                   timeout: float, cap: int) -> Answer:
        """Send one request and read at most ``cap`` bytes of the answer.

        Raises :class:`EgressRefused` for a refused destination or scheme, else ``httpx``'s
        exceptions (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``ReadError``,
        ``RemoteProtocolError``, ``InvalidURL``, ``UnsupportedProtocol`` …) for what an
        ``httpx`` client would raise them.
        """
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme not in ("http", "https"):
            raise EgressRefused(f"refused to send to a '{scheme}' URL: deliveries use http or "
                                "https", reason="scheme")
        session = self._open()
        try:
            async with session.request(method, url, data=body, headers=headers,
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
        except aiohttp.ClientError as exc:
            raise _transport_error(exc) from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> GuardedClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None = None,
                        exc_value: BaseException | None = None,
                        traceback: TracebackType | None = None) -> None:
        await self.aclose()


def guarded_client_from_env(environ: Mapping[str, str] | None = None,
                            **options: Any) -> GuardedClient:
    """A :class:`GuardedClient` allowing the networks of ``HOOKPLANE_ALLOW_NETWORKS``."""
    return GuardedClient(allow_networks=allowed_networks_from_env(environ), **options)
