"""SQL pieces the two databases spell differently, so that every report query is
written once.

- ``Dialect.bucket(col, unit)``: the first local day (Asia/Ulaanbaatar) of the day,
  ISO week, month, quarter or year an instant falls in, as 'YYYY-MM-DD'.
  PostgreSQL converts with the zone database; SQLite adds the zone's fixed +8 hours
  (Mongolia has kept UTC+8 without daylight saving since 2017).
- ``Dialect.seconds(later, earlier)``: the interval in seconds.
- ``percentiles(...)``: continuous percentiles (linear interpolation between the two
  nearest ranks, as PostgreSQL's ``percentile_cont``) of a one-column query.
"""
from __future__ import annotations

import math

import sqlalchemy as sa

from ra.localtime import LOCAL_TZ

LOCAL_ZONE = LOCAL_TZ.key
SQLITE_OFFSET = "+8 hours"
UNITS = ("day", "week", "month", "quarter", "year")


def _const(text: str):
    """A fixed SQL string literal (never user input)."""
    assert "'" not in text
    return sa.literal_column(f"'{text}'", sa.String)


class Dialect:
    """Expressions for the session's database; build one per query."""

    def __init__(self, session_or_name):
        """The session whose database to spell for, or that database's dialect name."""
        self.name = session_or_name if isinstance(session_or_name, str) else session_or_name.get_bind().dialect.name
        self.pg = self.name == "postgresql"

    def bucket(self, col, unit: str):
        """'YYYY-MM-DD' of the first local day of the bucket ``col`` falls in. The
        constants are inlined, not bound: PostgreSQL must see the same expression in
        SELECT and GROUP BY."""
        if unit not in UNITS:
            raise ValueError(unit)
        if self.pg:
            local = col.op("AT TIME ZONE")(_const(LOCAL_ZONE))
            return sa.func.to_char(sa.func.date_trunc(_const(unit), local), _const("YYYY-MM-DD"))
        o = _const(SQLITE_OFFSET)
        if unit == "day":
            return sa.func.date(col, o)
        if unit == "week":  # ISO weeks start on Monday: forward to Sunday, back six days
            return sa.func.date(col, o, _const("weekday 0"), _const("-6 days"))
        if unit == "month":
            return sa.func.strftime(_const("%Y-%m-01"), col, o)
        if unit == "quarter":
            month = sa.cast(sa.func.strftime(_const("%m"), col, o), sa.Integer)
            return sa.func.printf(_const("%s-%02d-01"), sa.func.strftime(_const("%Y"), col, o),
                                  ((month - sa.literal_column("1")) / sa.literal_column("3")) * sa.literal_column("3")
                                  + sa.literal_column("1"))
        return sa.func.strftime(_const("%Y-01-01"), col, o)

    def seconds(self, later, earlier):
        """``later - earlier`` in seconds."""
        if self.pg:
            return sa.extract("epoch", later - earlier)
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def percentiles(session, values: sa.Select, ps=(0.5, 0.9)) -> tuple[int, list[float | None]]:
    """``values`` selects one numeric column. Returns (count, [percentile per p]).

    PostgreSQL: one ``percentile_cont`` aggregate pass. SQLite has no ordered-set
    aggregates: the count, then the one or two ranks each percentile needs, each an
    ORDER BY … LIMIT 1 OFFSET k in SQL; only the interpolation is done here."""
    sub = values.subquery("v")
    col = list(sub.c)[0]
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(sa.select(sa.func.count(col), *[
            sa.func.percentile_cont(p).within_group(col) for p in ps])).one()
        return int(row[0]), [float(v) if v is not None else None for v in row[1:]]
    n = session.execute(sa.select(sa.func.count(col))).scalar_one()
    if not n:
        return 0, [None for _ in ps]
    out = []
    for p in ps:
        pos = (n - 1) * p
        lo, hi = math.floor(pos), math.ceil(pos)
        ranked = sa.select(col).where(col.is_not(None)).order_by(col)
        a = session.execute(ranked.limit(1).offset(lo)).scalar_one()
        b = a if hi == lo else session.execute(ranked.limit(1).offset(hi)).scalar_one()
        out.append(float(a) + (float(b) - float(a)) * (pos - lo))
    return int(n), out


def percentiles_by_column(session, values: sa.Select, ps=(0.5, 0.9)) -> dict[str, tuple[int, list[float | None]]]:
    """As ``percentiles`` for each column of ``values``, in one pass on PostgreSQL."""
    sub = values.subquery("v")
    if session.get_bind().dialect.name != "postgresql":
        return {c.name: percentiles(session, sa.select(c)) for c in sub.c}
    aggregates = []
    for c in sub.c:
        aggregates.append(sa.func.count(c))
        aggregates += [sa.func.percentile_cont(p).within_group(c) for p in ps]
    row = session.execute(sa.select(*aggregates)).one()
    out, width = {}, 1 + len(ps)
    for i, c in enumerate(sub.c):
        chunk = row[i * width:(i + 1) * width]
        out[c.name] = (int(chunk[0]), [float(v) if v is not None else None for v in chunk[1:]])
    return out
