"""Throttling of the public remote-unblock endpoints (OWASP ASVS 2.2.1
anti-automation): requests per hour and key, in a fixed window, counted in the
database so that every app node and worker shares the count.

A key is a scope and a value (the client's address, the e-mail or serial typed, …),
stored as a SHA-256 digest. Every request is counted, whether or not it matched
anything, so that being throttled says nothing about what matched. The client's
key comes first: a client over its limit is refused before it counts against the
e-mail or the serial, so a stranger cannot use up the owner's asks.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from ra import audit
from ra import throttle as counters
from ra.tokens.unblock_errors import UnblockThrottled
from ra.tokens.unblock_models import UnblockThrottle

log = logging.getLogger("ra.tokens.unblock")
THROTTLE_WINDOW = timedelta(hours=1)


def hit(session, scope: str, value: str, limit: int, now) -> bool:
    """Counts one request for ``scope:value`` in the current hour; True while within ``limit``."""
    return counters.hit(session, UnblockThrottle.__table__, f"{scope}:{value}", limit, THROTTLE_WINDOW, now)


def throttle(session, hits: list[tuple[str, str, int]], *, client: str, ports) -> None:
    """Counts the request under the keys in order (the client's first); raises
    ``UnblockThrottled`` (a recorded refusal: the caller commits the counts) at the
    first key over its limit, leaving the later keys uncounted."""
    now = ports.clock.now()
    keys = [(f"{scope}:{value}", limit, THROTTLE_WINDOW) for scope, value, limit in hits]
    if counters.hit_in_order(session, UnblockThrottle.__table__, keys, now) is not None:
        audit.record(session, "anonymous", "token_unblock.throttled", None, {"client": client})
        log.warning("remote unblock throttled for client %s", client)
        raise UnblockThrottled()
