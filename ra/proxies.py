"""The real client address behind the reverse proxy (``RA_TRUSTED_PROXIES``), so
that throttles and audit records key on the client, not on the proxy that every
client shares.

Two forms, as deployments come:
- a hop count ``N``: exactly N proxies in front of the app, each appending to
  ``X-Forwarded-For`` (Werkzeug's ``ProxyFix`` with ``x_for=N``);
- a list of addresses or CIDRs: the proxies' own addresses. ``X-Forwarded-For``
  is read from the right while the hop is one of them; the first address that is
  not is the client. A request that does not come from a listed proxy keeps its
  own peer address (a client cannot forge ``X-Forwarded-For`` around the proxy).

Unset, nothing is trusted and ``X-Forwarded-*`` is ignored.
"""
from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix


def parse(value: str | None) -> int | list:
    """``""`` → 0; ``"2"`` → 2; ``"10.0.0.0/8, 192.0.2.7"`` → networks. Raises ValueError."""
    text = (value or "").strip()
    if not text:
        return 0
    if text.isdigit():
        hops = int(text)
        if hops > 10:
            raise ValueError("at most 10 proxy hops")
        return hops
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def install(app, value: str | None) -> None:
    trusted = parse(value)
    if trusted == 0 or trusted == []:
        return
    if isinstance(trusted, int):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=0, x_port=0, x_prefix=0)
    else:
        app.wsgi_app = TrustedNetworks(app.wsgi_app, trusted)


class TrustedNetworks:
    """ProxyFix for proxies known by address: counts the trusted hops of this
    request, then lets ``ProxyFix`` apply exactly that many."""

    def __init__(self, wsgi_app, networks: list):
        self.app = wsgi_app
        self.networks = networks
        self._fixes: dict[int, ProxyFix] = {}

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def hops(self, environ) -> int:
        if not self._trusted(environ.get("REMOTE_ADDR", "")):
            return 0
        chain = [a for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        hops = 1
        while hops < len(chain) and self._trusted(chain[-hops]):
            hops += 1
        return min(hops, len(chain))

    def __call__(self, environ, start_response):
        hops = self.hops(environ)
        if hops == 0:
            return self.app(environ, start_response)
        fix = self._fixes.get(hops)
        if fix is None:
            fix = self._fixes[hops] = ProxyFix(self.app, x_for=hops, x_proto=1, x_host=0, x_port=0, x_prefix=0)
        return fix(environ, start_response)
