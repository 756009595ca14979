"""Revocation processing time: from the request's receipt to the first CRL that lists
the serial (``revocation_request.received_at`` → ``published_at``).

ETSI EN 319 411-1 (REV-6.2.4) and DESIGN §3.4 allow 24 hours. A breach is a
revocation published later than that, or one still unpublished (and not rejected
or cancelled) more than 24 hours after it was received. Holds and releases are
not revocations and are not timed here. Requests are counted by the day they were
received."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from ra.enrollment.models import Organisation
from ra.reports import common
from ra.reports.periods import ReportFilter
from ra.reports.sqlfn import Dialect, percentiles
from ra.revocation.models import RevocationApproval, RevocationRequest
from ra.revocation.states import Reason, RevocationStatus

LIMIT = timedelta(hours=24)
Q = RevocationRequest
REVOCATIONS = tuple(r for r in Reason if r.is_revocation)


def _requests(stmt, f: ReportFilter):
    stmt = stmt.where(Q.reason.in_(REVOCATIONS), common.in_period(Q.received_at, f))
    if common.needs_org_table(f):
        stmt = stmt.join(Organisation, Organisation.id == Q.organisation_id)
    conds = common.org_conditions(f, Q.organisation_id)
    if f.officer_id is not None:  # the officer who confirmed or approved it
        conds.append(sa.or_(Q.confirmed_by_id == f.officer_id, sa.exists().where(
            RevocationApproval.request_id == Q.id, RevocationApproval.approver_id == f.officer_id)))
    return stmt.where(*conds)


def summary(session, f: ReportFilter, now: datetime) -> dict:
    """{count, median_hours, p90_hours, breaches, late, open_overdue}; ``count`` is
    the published revocations the percentiles are over. The two kinds of breach are
    counted in one pass over the period's requests."""
    secs = Dialect(session).seconds(Q.published_at, Q.received_at)
    timed = _requests(sa.select(secs.label("seconds")).select_from(Q), f).where(Q.published_at.is_not(None))
    n, (median, p90) = percentiles(session, timed)
    open_overdue = sa.and_(Q.published_at.is_(None), Q.received_at < now - LIMIT,
                           Q.status.not_in((RevocationStatus.REJECTED, RevocationStatus.CANCELLED)))
    late, overdue = session.execute(_requests(sa.select(
        _count_where(sa.and_(Q.published_at.is_not(None), secs > LIMIT.total_seconds())),
        _count_where(open_overdue)).select_from(Q), f)).one()
    return {"count": n, "median_hours": _hours(median), "p90_hours": _hours(p90), "breaches": late + overdue,
            "late": late, "open_overdue": overdue}


def _count_where(condition):
    return sa.func.count(sa.case((condition, 1)))


def _hours(seconds):
    return None if seconds is None else round(seconds / 3600.0, 2)
