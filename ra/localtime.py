"""The one place that turns stored instants into what a user reads.

Everything is stored in UTC; everything a person sees — receipts, envelopes,
contracts, report numbers, e-mails, pages — is Ulaanbaatar time (Asia/Ulaanbaatar,
UTC+8, no daylight saving since 2017). Between 16:00 and 24:00 UTC the two
calendars disagree on the date, so a date printed from a UTC value is wrong for
a third of every day: go through these helpers instead of ``.date()``,
``.year`` or ``strftime`` on a UTC value.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ulaanbaatar")


def local(at: datetime) -> datetime:
    """``at`` in Ulaanbaatar time. A naive value is UTC, as the database keeps it."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(LOCAL_TZ)


def local_date(at: datetime) -> date:
    """The calendar date in Ulaanbaatar at the instant ``at``."""
    return local(at).date()


def local_text(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``at`` formatted in Ulaanbaatar time; an em dash for no value."""
    return local(at).strftime(fmt) if at is not None else "—"


def init_app(app) -> None:
    """Template filters for the pages, documents and e-mails that format dates
    themselves rather than through Babel's ``datetimeformat``."""
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(local_text, "local_text")
