"""`bgone serve`'s GET ?url= form: fetch an image from an allow-listed public host, never from
this machine or its network (SSRF). Every address a name resolves to is checked, and the
connection goes to the checked address itself (no second lookup a rebinding DNS could answer
differently); redirects are followed by hand and checked the same way; the body is capped.
Stdlib only, so the check is plain to read."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from urllib.parse import urljoin, urlsplit

from .errors import BgoneError

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(BgoneError):
    """The address is not one this server may fetch (403)."""

    kind = "url_refused"


class UrlFailed(BgoneError):
    """The fetch itself failed (502)."""

    kind = "url_failed"


def _embedded(ip: IP) -> IP:
    """The IPv4 address an IPv6 transition address carries (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_internal(ip: IP) -> bool:
    """True for loopback, private, link-local, reserved, multicast and unspecified addresses,
    and for public-looking IPv6 wrappers of those."""

    def bad(a: IP) -> bool:
        return (a.is_private or a.is_loopback or a.is_link_local or a.is_reserved
                or a.is_multicast or a.is_unspecified or not a.is_global)

    return bad(ip) or bad(_embedded(ip))


def host_allowed(host: str, allow: Iterable[str]) -> bool:
    """``allow`` holds host names; ``*.example.com`` also admits its subdomains (not itself)."""
    host = host.lower().rstrip(".")
    for entry in allow:
        entry = entry.lower().rstrip(".")
        if entry == "*" or host == entry or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def resolve_public(host: str, port: int, internal: Callable[[IP], bool] = is_internal) -> list[str]:
    """Every address ``host`` resolves to, all of them public, or UrlRefused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UrlFailed(f"Cannot resolve the host {host}.", "Check the URL.") from None
    ips = list(dict.fromkeys(str(i[4][0]).split("%")[0] for i in infos))
    for ip in ips:
        if internal(ipaddress.ip_address(ip)):
            raise UrlRefused(f"{host} is an internal address ({ip}); this server never fetches those.",
                             "Send the image in the request body instead.")
    if not ips:
        raise UrlFailed(f"Cannot resolve the host {host}.", "Check the URL.")
    return ips


def _too_large(host: str, max_bytes: int) -> UrlRefused:
    return UrlRefused(f"The image at {host} is larger than this server's {max_bytes / 1e6:g} MB limit.", "")


class _Pinned(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:  # the certificate is checked against the name, not the address
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch(url: str, allow: Iterable[str], max_bytes: int, timeout: float = 30.0,
          internal: Callable[[IP], bool] = is_internal) -> bytes:
    """The body at ``url`` (at most ``max_bytes``), after every check above; redirects are
    checked like the first address. ``internal`` is the address policy (tests replace it to
    reach their own 127.0.0.1 server)."""
    allow = list(allow)
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UrlRefused(f"Only http and https URLs can be fetched, not {url[:200]!r}.", "")
        host = parts.hostname
        if not host_allowed(host, allow):
            raise UrlRefused(f"{host} is not in this server's allow-list.",
                             "Start the server with --allow-url " + host + " to fetch from it.")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and internal(literal):
            raise UrlRefused(f"{host} is an internal address; this server never fetches those.",
                             "Send the image in the request body instead.")
        ip = str(literal) if literal is not None else resolve_public(host, port, internal)[0]
        conn = (_PinnedTLS if parts.scheme == "https" else _Pinned)(host, port, ip, timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", path, headers={"User-Agent": "bgone-serve", "Accept": "image/*"})
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location")
                if not location:
                    raise UrlFailed(f"{host} redirected without a Location.", "")
                url = urljoin(url, location)
                continue
            if resp.status != 200:
                raise UrlFailed(f"{host} answered {resp.status} for the image.", "Check the URL.")
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(host, max_bytes)
            body = resp.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise _too_large(host, max_bytes)
            return body
        except (OSError, http.client.HTTPException) as e:
            raise UrlFailed(f"Could not fetch the image from {host} ({e}).", "Check the URL.") from None
        finally:
            conn.close()
    raise UrlFailed(f"More than {MAX_REDIRECTS} redirects fetching {url[:200]}.", "")
