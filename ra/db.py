"""Database helpers shared by every domain: time, enum columns, the unit of work's commit."""
from __future__ import annotations

import enum
import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from ra.extensions import db

log = logging.getLogger("ra.db")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def enum_column(enum_cls: type[enum.Enum], **kw) -> sa.Enum:
    """States and kinds are stored as their string values, checked by the database
    (a CHECK constraint), never compared as free text in code."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls) + 8,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        name=kw.pop("name", enum_cls.__name__.lower()),
        **kw,
    )


def commit(session=None) -> None:
    """Commit the unit of work, then run the effects that must follow a commit
    (mail), so nothing outside is told about data that was rolled back."""
    from ra.mail.outbox import deliver_queued

    session = session or db.session
    session.commit()
    deliver_queued(session)


def insert_with_ids(session, table: sa.Table, rows: list[dict]) -> list[int]:
    """Inserts many rows and returns their ids in order. On PostgreSQL the ids are
    drawn from the sequence first and the rows go in by COPY (RETURNING needs
    SQLAlchemy's multi-row VALUES, which psycopg re-parses per statement)."""
    if session.get_bind().dialect.name != "postgresql":
        return list(session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                                    rows).scalars())
    ids = list(session.execute(sa.text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                               {"t": table.name, "n": len(rows)}).scalars())
    for row, id_ in zip(rows, ids):
        row["id"] = id_
    bulk_insert(session, table, rows)
    return ids


def bulk_insert(session, table: sa.Table, rows: list[dict]) -> None:
    """COPY … FROM STDIN on PostgreSQL (in the session's own transaction), a plain
    executemany elsewhere. Enum members go in as their stored values."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([v.value if isinstance(v, enum.Enum) else v for v in (row[c] for c in columns)])


# PostgreSQL's deadlock_detected and serialization_failure: the transaction lost
# a race and was rolled back whole, so running it again is safe.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}


def is_lost_race(exc: BaseException) -> bool:
    """A deadlock, a serialisation failure, or SQLite still locked after its busy timeout."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    return isinstance(exc, sa.exc.OperationalError) and "database is locked" in str(orig)


def retrying(session, work, *, attempts: int = 3):
    """Runs ``work()`` (which ends in a commit) again after a lost race, a bounded
    number of times; then answers 503 Busy, never a 500. Each failed attempt was
    rolled back by the database, so nothing of it stays."""
    from ra.errors import Busy

    for attempt in range(1, attempts + 1):
        try:
            return work()
        except sa.exc.DBAPIError as exc:
            if not is_lost_race(exc):
                raise
            session.rollback()
            log.warning("transaction lost a race (attempt %d of %d): %s", attempt, attempts,
                        getattr(exc.orig, "sqlstate", None) or "locked")
    raise Busy()


def lock_for_update(session, obj):
    """Takes the row lock on ``obj`` (``SELECT … FOR UPDATE``; on SQLite the
    transaction already holds the write lock) and reloads it, its collections
    included, so a decision counts what concurrent transactions committed."""
    mapper = sa.inspect(obj).mapper
    keys = dict(zip((c.key for c in mapper.primary_key), sa.inspect(obj).identity))
    session.expire(obj)
    stmt = sa.select(mapper.class_).filter_by(**keys).with_for_update().execution_options(populate_existing=True)
    return session.execute(stmt).scalar_one()


def insert_missing(session, table: sa.Table, values: dict, key: list[str]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING``: creates a throttle or counter row unless a
    concurrent request just did (which would otherwise end in an IntegrityError)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.connection().execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=key))
