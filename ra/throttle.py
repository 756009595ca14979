"""Fixed-window request counters shared by the public, unauthenticated forms
(lost-token reports, PIN unblock requests): one row per hashed key, counted
atomically in the caller's transaction."""
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
