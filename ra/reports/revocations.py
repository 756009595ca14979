"""Revocations and suspensions by reason over time (RFC 5280 §5.3.1 reason codes).

- A revocation is final and the certificate keeps its time and reason
  (``certificate.revoked_at``, ``revocation_reason``).
- A hold (``certificateHold``) and its release (``removeFromCRL``) are state changes
  the certificate does not date; their times are the audit records the state
  machine writes for them (``certificate.suspended``, ``certificate.valid``).
"""
from __future__ import annotations

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.i18n import _l
from ra.reports import common
from ra.reports import tables as T
from ra.reports.labels import REASON_ORDER, bucket_keys, bucket_label, reason_label
from ra.reports.periods import ReportFilter
from ra.reports.sqlfn import Dialect
from ra.reports.tables import Column, Table

HOLD, RELEASE = "certificateHold", "removeFromCRL"
AUDIT_REASON = {"certificate.suspended": HOLD, "certificate.valid": RELEASE}


def _revoked(f: ReportFilter, bucket=None):
    cols = [Certificate.revocation_reason.label("reason")]
    if bucket:
        cols.append(bucket(Certificate.revoked_at).label("bucket"))
    stmt = sa.select(*cols).select_from(Certificate).where(Certificate.status == CertificateStatus.REVOKED,
                                                           Certificate.revoked_at.is_not(None))
    return common.certificates(stmt, f, Certificate.revoked_at)


def _holds(f: ReportFilter, bucket=None):
    """Holds and releases from the audit log; joined to the certificate only when the
    filter needs its holder, organisation or profile."""
    a = AuditRecord
    reason = sa.case(*[(a.action == action, r) for action, r in AUDIT_REASON.items()]).label("reason")
    cols = [reason]
    if bucket:
        cols.append(bucket(a.at).label("bucket"))
    stmt = sa.select(*cols).select_from(a).where(a.action.in_(tuple(AUDIT_REASON)), common.in_period(a.at, f))
    if f.has_org_filter or f.profile:
        stmt = stmt.join(Certificate, Certificate.id == common.as_int(a.object_id))
        stmt = common.certificates(stmt, f, a.at, period=False)
    return stmt


def _applicable(f: ReportFilter) -> ReportFilter:
    """Who issued a certificate says nothing about its revocation: the officer filter
    does not apply here."""
    return f.with_(officer_id=None)


def _counts(session, f: ReportFilter, *, bucketed: bool = False) -> list[tuple]:
    """(reason, [bucket,] count) rows of the revocations and of the holds and releases."""
    dialect = Dialect(session).name if bucketed else None
    return common.run_for(session, _grouped, _applicable(f), dialect).all()


def _grouped(f: ReportFilter, dialect: str | None):
    """Each source grouped on its own index range, sent as one statement (UNION ALL):
    one round trip, not two. By time bucket too when ``dialect`` names the database
    whose spelling of the bucket to use."""
    bucket = (lambda c: Dialect(dialect).bucket(c, f.bucket)) if dialect else None
    grouped = []
    for stmt in (_revoked(f, bucket), _holds(f, bucket)):
        sub = stmt.subquery()
        keys = [sub.c.reason] + ([sub.c.bucket] if bucket else [])
        grouped.append(sa.select(*keys, sa.func.count()).group_by(*keys))
    return sa.union_all(*grouped)


def by_reason(session, f: ReportFilter) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reason, n in _counts(session, f):
        counts[reason or "unspecified"] = counts.get(reason or "unspecified", 0) + n
    return counts


def series(session, f: ReportFilter) -> tuple[list[str], dict[str, dict[str, int]]]:
    """(bucket keys, {reason: {bucket: count}}) with every bucket present."""
    out: dict[str, dict[str, int]] = {}
    for reason, b, n in _counts(session, f, bucketed=True):
        slot = out.setdefault(reason or "unspecified", {})
        slot[b] = slot.get(b, 0) + n
    return bucket_keys(f.start, f.end, f.bucket), out


def ordered_reasons(present) -> list[str]:
    return [r for r in REASON_ORDER if r in present] + sorted(r for r in present if r not in REASON_ORDER)


REVOKED = _l("Revoked")
COLUMNS = [Column("label", T.REASON), Column("code", _l("RFC 5280 code")), Column("count", T.COUNT, "int")]


def reason_table(session, f: ReportFilter, *, counts: dict | None = None, sort=None, desc=True, page=1,
                 per_page=T.PER_PAGE) -> Table:
    """By reason; ``counts`` when the series (``series_table(...).totals``) already has them."""
    counts = by_reason(session, f) if counts is None else {k: v for k, v in counts.items() if k != "total"}
    rows = [{"key": r, "label": reason_label(r), "code": r, "count": counts[r]} for r in ordered_reasons(counts)]
    page_rows, sort, desc = T.sort_and_page(rows, COLUMNS, sort=sort, desc=desc, page=page,
                                            per_page=per_page or max(1, len(rows)), default="count")
    revoked = sum(n for r, n in counts.items() if r not in (HOLD, RELEASE))
    return Table("revocations_by_reason", _l("Revocations and suspensions by reason"), COLUMNS, page_rows,
                 total_rows=len(rows), page=page, per_page=per_page or max(1, len(rows)), sort=sort, desc=desc,
                 totals={"count": sum(counts.values()), "revoked": revoked, "suspended": counts.get(HOLD, 0),
                         "released": counts.get(RELEASE, 0)})


def series_table(session, f: ReportFilter) -> Table:
    keys, data = series(session, f)
    reasons = ordered_reasons(data)
    cols = [Column("label", T.PERIOD)] + [Column(r, reason_label(r), "int") for r in reasons] + \
        [Column("total", _l("Total"), "int")]
    rows = []
    for k in keys:
        row = {"key": k, "label": bucket_label(k, f.bucket)}
        for r in reasons:
            row[r] = data[r].get(k, 0)
        row["total"] = sum(row[r] for r in reasons)
        rows.append(row)
    totals = {r: sum(data[r].values()) for r in reasons}
    totals["total"] = sum(totals.values())
    return Table("revocations_over_time", _l("Revocations and suspensions over time"), cols, rows,
                 per_page=max(1, len(rows)), totals=totals)
