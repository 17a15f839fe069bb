"""Requests to subscribers' callbacks: the hub's only outside requests, with their guards.

A callback URL comes from anyone who can POST to the hub, so each request is
held on a short leash:

- the host is resolved here and every address it resolves to is checked
  (loopback, private, link-local, multicast, reserved and unspecified are
  refused unless GATEWAY_PUSH_ALLOW_PRIVATE=1); the connection then goes to
  an address that was checked, not to a second lookup, so DNS rebinding
  between the check and the connect changes nothing;
- no redirects are followed (http.client never does; WebSub says a 3xx is a failure);
- TIMEOUT seconds to connect and for each read;
- at most MAX_ANSWER bytes of the answer are read (enough for a challenge).

http.client is enough: one request per connection, and its
`_create_connection` hook is where the checked address is put in.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT = 5.0
MAX_ANSWER = 4096
USER_AGENT = "flickr-feed-gateway-hub (WebSub)"


class Refused(Exception):
    """The request was not made or did not complete; the text says why (safe to log: no secret)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # the first MAX_ANSWER bytes


def check_url(url: str) -> str:
    """The reason a callback URL is malformed ("" when it is fine): absolute http(s), a host, no fragment."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "hub.callback is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "hub.callback must be an absolute http or https URL"
    if parts.fragment or "#" in url:
        return "hub.callback must not have a fragment"
    if parts.username or parts.password:
        return "hub.callback must not carry credentials"
    if any(c in url for c in "\r\n\t ") or len(url) > 2000:
        return "hub.callback must be a URL of at most 2000 characters without spaces"
    return ""


def public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified)


def literal_private(host: str) -> bool:
    """A callback host that is a private address as written (refused at once, before any lookup)."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return not public_address(host.strip("[]"))
    except ValueError:
        return False


def _connector(allow_private: bool):
    def create_connection(address, timeout=TIMEOUT, source_address=None, **_):
        host, port = address
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Refused(f"cannot resolve {host}: {exc}") from None
        addresses = [info for info in infos if allow_private or public_address(info[4][0])]
        if not addresses:
            raise Refused(f"{host} resolves to a private, loopback or link-local address")
        last: OSError | None = None
        for family, kind, proto, _name, sockaddr in addresses:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(timeout)
            try:
                sock.connect(sockaddr)  # the very address that was checked above
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise Refused(f"cannot connect to {host}: {last}")

    return create_connection


def request(method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
            allow_private: bool = False, timeout: float = TIMEOUT) -> Answer:
    """One request to a callback; raises Refused for a refused address, a timeout or a broken connection."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not allow_private and literal_private(host):
        raise Refused(f"{host} is a private, loopback or link-local address")
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    conn._create_connection = _connector(allow_private)  # type: ignore[attr-defined]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})})
        response = conn.getresponse()
        return Answer(response.status, response.read(MAX_ANSWER))
    except Refused:
        raise
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        raise Refused(f"{type(exc).__name__}: {exc}"[:200]) from None
    finally:
        conn.close()
