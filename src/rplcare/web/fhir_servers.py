"""Which FHIR servers the CDS services may read from (review finding S3).

A server matches an allowed base URL by its parsed scheme, host and port, and by a path that
equals the allowed path or continues it after a "/": never by string prefix, so
`https://fhir.example.attacker.net` and `https://fhir.example@attacker.net` do not pass for
`https://fhir.example`. Without a configured list, development and test read only from this
machine (loopback) and production from nowhere.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ServerAddress:
    scheme: str
    host: str
    port: int
    path: str  # without a trailing "/"

    def contains(self, other: ServerAddress) -> bool:
        """Whether `other` is this server, at this base path or below it."""
        if (self.scheme, self.host, self.port) != (other.scheme, other.host, other.port):
            return False
        return other.path == self.path or other.path.startswith(self.path + "/")


def parse_server(url: str, *, query: bool = False) -> ServerAddress | None:
    """The parsed address, or None for anything that is not a plain http(s) URL (user info,
    a missing host, a bad port, or a query or fragment unless `query`)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    if (parts.query or parts.fragment) and not query:
        return None
    return ServerAddress(
        scheme=parts.scheme,
        host=parts.hostname.lower().rstrip("."),
        port=port or DEFAULT_PORTS[parts.scheme],
        path=parts.path.rstrip("/"),
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_servers(setting: str) -> list[ServerAddress]:
    """The comma-separated allow-list setting, parsed; a malformed entry is an error."""
    out = []
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        address = parse_server(entry)
        if address is None:
            raise ValueError(f"not an http(s) base URL: {entry!r}")
        out.append(address)
    return out


def may_read(url: str, allowed: list[ServerAddress], environment: str) -> str | None:
    """None when the services may read from `url`, else the reason they may not."""
    address = parse_server(url)
    if address is None:
        return f"fhirServer {url} is not a plain http(s) URL"
    if allowed:
        if any(a.contains(address) for a in allowed):
            return None
        return f"fhirServer {url} is not on the allowed list"
    if environment == "production":
        return "reading from a FHIR server is not enabled on this service"
    if is_loopback(address.host):
        return None
    return (
        f"fhirServer {url} is not on this machine; set RPLCARE_CDS_FHIR_SERVERS to read from "
        "other servers"
    )


def on_server(link: str, server: str) -> bool:
    """Whether a link (a search's next page, with its query) stays on the client's server."""
    base, target = parse_server(server), parse_server(link, query=True)
    return base is not None and target is not None and base.contains(target)
