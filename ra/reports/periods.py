"""The report filter: a period in the RU's local calendar plus the manager's choices
(organisation, kind, district, officer, profile), parsed the same way for the pages,
the JSON API, the exports and the CLI.

Periods are whole local days (Asia/Ulaanbaatar, UTC+8 without daylight saving since
2017); every query compares UTC instants against the period's UTC bounds, so the
indexes on the timestamp columns are used as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Mapping

from ra.enrollment.reference import District, OrganisationKind
from ra.errors import UserError
from ra.i18n import _l
from ra.localtime import LOCAL_TZ

PERIODS = ("day", "week", "month", "quarter", "year", "custom")
BUCKETS = ("day", "week", "month", "quarter", "year")
MAX_DAYS = 20 * 366  # a 10-year range is answered; beyond 20 years is a typing error

PERIOD_LABELS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month"), "quarter": _l("Quarter"),
                 "year": _l("Year"), "custom": _l("Custom range")}


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ)


@dataclass(frozen=True)
class ReportFilter:
    period: str
    start: date              # first local day, inclusive
    end: date                # last local day, inclusive
    organisation_id: int | None = None
    kind: OrganisationKind | None = None
    district: District | None = None
    officer_id: int | None = None
    profile: str | None = None
    bucket: str = "day"

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start)

    @property
    def end_utc(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return local_midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def has_org_filter(self) -> bool:
        return bool(self.organisation_id or self.kind or self.district)

    def with_(self, **changes) -> "ReportFilter":
        return replace(self, **changes)

    def args(self, **over) -> dict:
        """Query-string arguments that reproduce this filter (links, exports, drill-down)."""
        out = {"period": self.period, "bucket": self.bucket}
        if self.period == "custom":
            out.update({"from": self.start.isoformat(), "to": self.end.isoformat()})
        else:
            out["on"] = self.start.isoformat()
        for key in ("organisation_id", "officer_id", "profile"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.kind:
            out["kind"] = self.kind.value
        if self.district:
            out["district"] = self.district.value
        out.update({k: v for k, v in over.items()})
        return {k: v for k, v in out.items() if v not in (None, "")}

    def as_json(self) -> dict:
        return {"period": self.period, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "bucket": self.bucket, "organisation_id": self.organisation_id,
                "kind": self.kind.value if self.kind else None,
                "district": self.district.value if self.district else None,
                "officer_id": self.officer_id, "profile": self.profile}


def period_bounds(period: str, on: date) -> tuple[date, date]:
    if period == "day":
        return on, on
    if period == "week":  # ISO week, Monday to Sunday
        start = on - timedelta(days=on.weekday())
        return start, start + timedelta(days=6)
    if period == "month":
        start = on.replace(day=1)
        return start, _next_month(start) - timedelta(days=1)
    if period == "quarter":
        start = on.replace(month=3 * ((on.month - 1) // 3) + 1, day=1)
        return start, _next_month(_next_month(_next_month(start))) - timedelta(days=1)
    if period == "year":
        return on.replace(month=1, day=1), on.replace(month=12, day=31)
    raise ValueError(period)


def _next_month(d: date) -> date:
    return d.replace(year=d.year + 1, month=1, day=1) if d.month == 12 else d.replace(month=d.month + 1, day=1)


def auto_bucket(days: int) -> str:
    if days <= 62:
        return "day"
    if days <= 190:
        return "week"
    if days <= 6 * 366:
        return "month"
    return "year"


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise UserError(_l("“%(value)s” is not a date; write it as YYYY-MM-DD."), code="bad_date", field=field,
                        value=str(value)[:20]) from None


def parse_month(value: str) -> date:
    try:
        year, month = (int(p) for p in str(value).strip().split("-"))
        return date(year, month, 1)
    except ValueError:
        raise UserError(_l("“%(value)s” is not a month; write it as YYYY-MM."), code="bad_month", field="month",
                        value=str(value)[:20]) from None


def _int_or_none(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UserError(_l("“%(name)s” must be a whole number."), code="bad_number", field=field,
                        name=field) from None


def _choice(value, enum_cls, field: str):
    if value in (None, ""):
        return None
    try:
        return enum_cls(value)
    except ValueError:
        raise UserError(_l("Unknown value “%(value)s” for “%(name)s”."), code="bad_choice", field=field,
                        value=str(value)[:40], name=field) from None


def parse_filter(args: Mapping, *, today: date, profiles=(), default_period: str = "month") -> ReportFilter:
    """Builds the filter from query-string style arguments: ``from``/``to`` (a custom
    range, local dates, inclusive) or ``period`` with ``on`` (a day inside it)."""
    get = args.get
    raw_from, raw_to = get("from") or None, get("to") or None
    asked = (get("period") or "").strip()
    # An explicit period wins over stale range fields; a range alone is a custom period.
    period = asked or ("custom" if raw_from or raw_to else default_period)
    if period not in PERIODS:
        raise UserError(_l("Unknown period “%(value)s”."), code="bad_period", field="period", value=period[:20])
    if period == "custom":
        if not raw_from or not raw_to:
            raise UserError(_l("A custom range needs both “from” and “to”."), code="bad_range", field="from")
        start, end = parse_date(raw_from, "from"), parse_date(raw_to, "to")
        if end < start:
            raise UserError(_l("The range ends (%(to)s) before it starts (%(from_)s)."), code="inverted_range",
                            field="to", to=end.isoformat(), from_=start.isoformat())
    else:
        on = parse_date(get("on"), "on") if get("on") else today
        start, end = period_bounds(period, on)
    if (end - start).days + 1 > MAX_DAYS:
        raise UserError(_l("The range is longer than 20 years."), code="range_too_long", field="from")
    bucket = (get("bucket") or "").strip() or auto_bucket((end - start).days + 1)
    if bucket not in BUCKETS:
        raise UserError(_l("Unknown value “%(value)s” for “%(name)s”."), code="bad_choice", field="bucket",
                        value=bucket[:20], name="bucket")
    profile = (get("profile") or "").strip() or None
    if profile is not None and profiles and profile not in profiles:
        raise UserError(_l("Unknown value “%(value)s” for “%(name)s”."), code="bad_choice", field="profile",
                        value=profile[:40], name="profile")
    return ReportFilter(
        period=period, start=start, end=end, bucket=bucket, profile=profile,
        organisation_id=_int_or_none(get("organisation_id"), "organisation_id"),
        officer_id=_int_or_none(get("officer_id"), "officer_id"),
        kind=_choice(get("kind"), OrganisationKind, "kind"),
        district=_choice(get("district"), District, "district"),
    )


def month_filter(month: date) -> ReportFilter:
    start, end = period_bounds("month", month)
    return ReportFilter(period="month", start=start, end=end, bucket="day")
