"""What the console believes about a request's origin: the client's address, whether it came
over https, and the user a trusted reverse proxy names (single sign-on).

Why only from listed proxies: X-Forwarded-For, X-Forwarded-Proto and the user header are text
any client can send. They are honoured only when the connection itself comes from an address
in CONSOLE_TRUSTED_PROXIES; from anyone else they are ignored (the peer's address is the
client, the scheme is the connection's, and nobody is signed in by a header).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from starlette.requests import Request

from pipelines.settings import ConsoleSettings


@dataclass(frozen=True)
class Origin:
    client: str  # the address throttling and the access events name
    https: bool
    header_user: str | None  # the user the trusted proxy's header names, if any


class ProxyPolicy:
    """The trusted proxies and the user header of `settings` (both off by default)."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.networks = [ipaddress.ip_network(net) for net in settings.trusted_proxies]
        self.user_header = settings.trusted_user_header

    def trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def origin(self, request: Request) -> Origin:
        peer = request.client.host if request.client else ""
        https = request.url.scheme == "https"
        if not self.trusted(peer):
            return Origin(peer or "unknown", https, None)
        forwarded = request.headers.get("x-forwarded-for", "")
        # The proxy appends the address it saw: the last entry is the one it vouches for.
        client = forwarded.split(",")[-1].strip() if forwarded.strip() else peer
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        user = None
        if self.user_header:
            user = (request.headers.get(self.user_header) or "").strip() or None
        return Origin(client or peer, https or proto == "https", user)
