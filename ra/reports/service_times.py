"""Service times (DESIGN §3.5): how long orders wait to be approved and then issued
(median and 90th percentile), how long revocation requests take from receipt to
the published CRL (ETSI EN 319 411-1: within 24 hours), and how many holders miss
their counter appointment."""
from __future__ import annotations

import collections

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ra.enrollment.holder_models import Appointment, AppointmentSlot, CertificateOrder, Counter
from ra.enrollment.order_states import AppointmentStatus, OrderStatus
from ra.i18n import _l
from ra.reports import common
from ra.reports import revocation_times
from ra.reports import tables as T
from ra.reports.labels import bucket_keys, bucket_label
from ra.reports.periods import ReportFilter
from ra.reports.sqlfn import Dialect, percentiles_by_column
from ra.reports.tables import Column, Table
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep

O = CertificateOrder

STAGES = {
    "approval": _l("Submitted → approved"),
    "issuance": _l("Approved → issued"),
    "total": _l("Submitted → issued"),
}


def _handed_over_by(officer_id: int):
    return sa.exists().where(Handover.order_id == O.id, Handover.officer_id == officer_id,
                             Handover.step == HandoverStep.COMPLETED)


def _approvals(session, f: ReportFilter):
    """Orders approved in the period: submitted → approved."""
    d = Dialect(session)
    conds = [O.status != OrderStatus.REJECTED, O.submitted_at.is_not(None), O.decided_at.is_not(None),
             common.in_period(O.decided_at, f)]
    if f.officer_id is not None:
        conds.append(O.decided_by_id == f.officer_id)
    stmt = sa.select(d.seconds(O.decided_at, O.submitted_at).label("approval")).select_from(O)
    return common.orders(stmt, f).where(*conds)


def _issues(session, f: ReportFilter):
    """Orders issued in the period: approved → issued and submitted → issued."""
    d = Dialect(session)
    conds = [O.status == OrderStatus.ISSUED, O.issued_at.is_not(None), common.in_period(O.issued_at, f),
             O.decided_at.is_not(None), O.submitted_at.is_not(None)]
    if f.officer_id is not None:
        conds.append(_handed_over_by(f.officer_id))
    stmt = sa.select(d.seconds(O.issued_at, O.decided_at).label("issuance"),
                     d.seconds(O.issued_at, O.submitted_at).label("total")).select_from(O)
    return common.orders(stmt, f).where(*conds)


def order_times(session, f: ReportFilter) -> dict[str, dict]:
    found = {**percentiles_by_column(session, _approvals(session, f)),
             **percentiles_by_column(session, _issues(session, f))}
    return {stage: {"count": found[stage][0], "median_hours": _hours(found[stage][1][0]),
                    "p90_hours": _hours(found[stage][1][1])} for stage in STAGES}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600.0, 2)


TIME_COLUMNS = [Column("label", _l("Stage"), sortable=False), Column("count", T.COUNT, "int", sortable=False),
                Column("median_hours", _l("Median (hours)"), "hours", sortable=False),
                Column("p90_hours", _l("90th percentile (hours)"), "hours", sortable=False),
                Column("breaches", _l("Over 24 hours"), "int", sortable=False)]


def times_table(session, f: ReportFilter, now: datetime) -> Table:
    rows = [{"key": k, "label": STAGES[k], **v, "breaches": None} for k, v in order_times(session, f).items()]
    rev = revocation_times.summary(session, f, now)
    rows.append({"key": "revocation", "label": _l("Revocation received → published"), **rev})
    return Table("service_times", _l("Service times"), TIME_COLUMNS, rows, per_page=len(rows))


# -- counter appointments ---------------------------------------------------------------------------------------

OUTCOMES = {"attended": _l("Attended"), "no_show": _l("Did not come"),
            "cancelled": _l("Cancelled or moved in advance")}


def _outcome(now: datetime):
    """An appointment whose slot has begun is attended, or a no-show: still booked
    after its time, or cancelled or moved only once its time had come."""
    a, s = Appointment, AppointmentSlot
    later = aliased(Appointment)
    moved_at = (sa.select(sa.func.min(later.created_at)).where(later.order_id == a.order_id, later.id > a.id)
                .correlate(a).scalar_subquery())
    A = AppointmentStatus
    return sa.case(
        (a.status == A.ATTENDED, "attended"),
        (a.status == A.BOOKED, "no_show"),
        (sa.and_(a.status == A.CANCELLED, a.cancelled_at >= s.starts_at), "no_show"),
        (sa.and_(a.status == A.RESCHEDULED, moved_at >= s.starts_at), "no_show"),
        else_="cancelled")


def _appointments(session, f: ReportFilter, now: datetime, *extra):
    a, s = Appointment, AppointmentSlot
    stmt = (sa.select(_outcome(now).label("outcome"), *extra).select_from(s)
            .join(a, a.slot_id == s.id).where(common.in_period(s.starts_at, f), s.ends_at <= now))
    if f.has_org_filter or f.profile:
        stmt = common.orders(stmt.join(O, O.id == a.order_id), f.with_(officer_id=None))
    return stmt


def _outcomes(session, stmt):
    """Runs a statement over ``_appointments``: the correlated subquery makes its
    estimated cost pass PostgreSQL's JIT threshold even for a month (the JIT then
    compiled for 20–40 ms of a ~30 ms query), so JIT is off for it."""
    common.without_jit(session)
    return session.execute(stmt)


def appointment_counts(session, f: ReportFilter, now: datetime) -> dict:
    sub = _appointments(session, f, now).subquery()
    return outcome_summary(dict(_outcomes(session, sa.select(sub.c.outcome, sa.func.count())
                                          .group_by(sub.c.outcome)).all()))


def outcome_summary(counts: dict) -> dict:
    """Appointments per outcome, with those that were due and the no-show rate."""
    out = {k: counts.get(k, 0) for k in OUTCOMES}
    due = out["attended"] + out["no_show"]
    out["due"] = due
    out["no_show_rate"] = round(100.0 * out["no_show"] / due, 1) if due else None
    return out


APPOINTMENT_COLUMNS = [Column("label", T.PERIOD), Column("attended", OUTCOMES["attended"], "int"),
                       Column("no_show", OUTCOMES["no_show"], "int"),
                       Column("cancelled", OUTCOMES["cancelled"], "int"),
                       Column("no_show_rate", _l("No-show rate (%)"), "percent")]


def appointment_series(session, f: ReportFilter, now: datetime) -> Table:
    bucket = Dialect(session).bucket(AppointmentSlot.starts_at, f.bucket).label("bucket")
    sub = _appointments(session, f, now, bucket).subquery()
    data: dict[str, dict] = {}
    for b, outcome, n in _outcomes(session, sa.select(sub.c.bucket, sub.c.outcome, sa.func.count())
                                   .group_by(sub.c.bucket, sub.c.outcome)):
        data.setdefault(b, {})[outcome] = n
    rows = [_appointment_row(k, bucket_label(k, f.bucket), data.get(k, {}))
            for k in bucket_keys(f.start, f.end, f.bucket)]
    totals = collections.Counter()
    for counts in data.values():  # every appointment of the period is in one bucket: no second query
        totals.update(counts)
    return Table("appointments_over_time", _l("Counter appointments"), APPOINTMENT_COLUMNS, rows,
                 per_page=max(1, len(rows)), totals=_appointment_row("", "", totals))


def counter_table(session, f: ReportFilter, now: datetime) -> Table:
    sub = _appointments(session, f, now, Counter.name.label("counter")).join(
        Counter, Counter.id == AppointmentSlot.counter_id).subquery()
    data: dict[str, dict] = {}
    for c, outcome, n in _outcomes(session, sa.select(sub.c.counter, sub.c.outcome, sa.func.count())
                                   .group_by(sub.c.counter, sub.c.outcome)):
        data.setdefault(c, {})[outcome] = n
    cols = [Column("label", _l("Counter"))] + APPOINTMENT_COLUMNS[1:]
    rows = [_appointment_row(c, c, v) for c, v in sorted(data.items())]
    return Table("appointments_by_counter", _l("Counter appointments by counter"), cols, rows,
                 per_page=max(1, len(rows)))


def _appointment_row(key, label, counts: dict) -> dict:
    attended, no_show = counts.get("attended", 0), counts.get("no_show", 0)
    due = attended + no_show
    return {"key": key, "label": label, "attended": attended, "no_show": no_show,
            "cancelled": counts.get("cancelled", 0), "no_show_rate": round(100.0 * no_show / due, 1) if due else None}
