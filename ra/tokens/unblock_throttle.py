"""Throttling of the public remote-unblock endpoints (OWASP ASVS 2.2.1
anti-automation): requests per hour and key, in a fixed window, counted in the
database so that every app node and worker shares the count.

A key is a scope and a value (the client's address, the e-mail or serial typed, …),
stored as a SHA-256 digest. Every request is counted, whether or not it matched
anything, so that being throttled says nothing about what matched.
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ra import audit
from ra.db import UTCDateTime
from ra.tokens.unblock_errors import UnblockThrottled
from ra.tokens.unblock_models import UnblockThrottle

log = logging.getLogger("ra.tokens.unblock")
THROTTLE_WINDOW = timedelta(hours=1)


def hit(session, scope: str, value: str, limit: int, now) -> bool:
    """Counts one request for ``scope:value`` atomically (an upsert, then
    ``UPDATE … RETURNING``, so concurrent requests on PostgreSQL queue on the row);
    True while within ``limit`` for the current window."""
    key = hashlib.sha256(f"{scope}:{value}".encode()).hexdigest()
    table = UnblockThrottle.__table__
    conn = session.connection()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    at = sa.literal(now, UTCDateTime())
    conn.execute(insert(table).values(key=key, window_start=at, count=0).on_conflict_do_nothing(index_elements=["key"]))
    stale = table.c.window_start <= sa.literal(now - THROTTLE_WINDOW, UTCDateTime())
    count = conn.execute(sa.update(table).where(table.c.key == key).values(
        count=sa.case((stale, 1), else_=table.c.count + 1),
        window_start=sa.case((stale, at), else_=table.c.window_start)).returning(table.c.count)).scalar_one()
    return count <= limit


def throttle(session, hits: list[tuple[str, str, int]], *, client: str, ports) -> None:
    """Counts the request under every key; raises ``UnblockThrottled`` (a recorded
    refusal: the caller commits the counts) when any key is over its limit."""
    now = ports.clock.now()
    within = [hit(session, scope, value, limit, now) for scope, value, limit in hits]  # count every key
    if not all(within):
        audit.record(session, "anonymous", "token_unblock.throttled", None, {"client": client})
        log.warning("remote unblock throttled for client %s", client)
        raise UnblockThrottled()
