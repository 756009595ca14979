"""Database helpers shared by every domain: time, enum columns, the unit of work's commit."""
from __future__ import annotations

import enum
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from ra.extensions import db


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
