"""Fixed-window request counters shared by the public, unauthenticated forms
(lost-token reports, PIN unblock requests): one row per hashed key, counted
atomically in the caller's transaction.

Keys are checked client first, subject second (``hit_in_order``): a client over
its own limit is refused before its request counts against a token or an e-mail
address, so a stranger cannot use up the owner's allowance. The client is the
real one behind the reverse proxy (``RA_TRUSTED_PROXIES``, ``ra.proxies``)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ra.db import UTCDateTime


def hit(session, table: sa.Table, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Counts one request under ``key`` (stored as its SHA-256: an e-mail address
    or a client address is not kept in clear) — an upsert, then ``UPDATE …
    RETURNING``, so concurrent requests on PostgreSQL queue on the row. True
    while within ``limit`` for the current window of ``window``."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    conn = session.connection()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    at = sa.literal(now, UTCDateTime())
    conn.execute(insert(table).values(key=digest, window_start=at, count=0)
                 .on_conflict_do_nothing(index_elements=["key"]))
    stale = table.c.window_start <= sa.literal(now - window, UTCDateTime())
    count = conn.execute(sa.update(table).where(table.c.key == digest).values(
        count=sa.case((stale, 1), else_=table.c.count + 1),
        window_start=sa.case((stale, at), else_=table.c.window_start)).returning(table.c.count)).scalar_one()
    return count <= limit


def hit_in_order(session, table: sa.Table, keys: list[tuple[str, int, timedelta]], now: datetime) -> int | None:
    """Counts the request under each ``(key, limit, window)`` in turn and stops at
    the first one over its limit, without counting the later ones: put the
    client's key first and the subject's (token, e-mail) after. Returns the index
    of the refusing key, or None when every key is within its limit."""
    for i, (key, limit, window) in enumerate(keys):
        if not hit(session, table, key, limit, window, now):
            return i
    return None
