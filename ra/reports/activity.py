"""Per-officer activity in the period (DESIGN §3.5): handovers completed (the
handover records), order approvals and rejections and PIN unblocks at the counter
(the audit records their services write, CA/B Forum BR §5.4.1), and decisions on
revocation requests (the dual-control approvals)."""
from __future__ import annotations

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.auth.models import User
from ra.enrollment.holder_models import CertificateOrder
from ra.enrollment.models import Organisation
from ra.i18n import _l
from ra.reports import common
from ra.reports import tables as T
from ra.reports.periods import ReportFilter
from ra.reports.stock import _org_tokens
from ra.reports.tables import Column, Table
from ra.revocation.models import RevocationApproval, RevocationRequest
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep

ACTIVITIES = {
    "handovers": _l("Handovers"),
    "approvals": _l("Order approvals"),
    "rejections": _l("Order rejections"),
    "unblocks": _l("PIN unblocks at the counter"),
    "revocation_decisions": _l("Revocation decisions"),
}
AUDITED = {"approvals": "order.approved", "rejections": "order.rejected", "unblocks": "token.unblocked"}


def _counted(what, officer_col) -> list:
    """The columns each source yields: what, officer, count, and the officer's name.
    The name is a lookup by primary key per officer (tens of rows), not a join with
    every user; and because it is a correlated subquery, PostgreSQL keeps the stacked
    sources in one process instead of starting parallel workers for them, which cost
    more than these index range scans."""
    name = sa.select(common.officer_name()).where(User.id == officer_col).scalar_subquery()
    return [what.label("what"), officer_col.label("officer_id"), sa.func.count().label("n"), name.label("name")]


def _handovers(f: ReportFilter):
    stmt = (sa.select(*_counted(sa.literal("handovers"), Handover.officer_id)).select_from(Handover)
            .where(Handover.step == HandoverStep.COMPLETED, common.in_period(Handover.completed_at, f)))
    if f.has_org_filter or f.profile:
        stmt = common.orders(stmt.join(CertificateOrder, CertificateOrder.id == Handover.order_id), f)
    if f.officer_id is not None:
        stmt = stmt.where(Handover.officer_id == f.officer_id)
    return stmt.group_by(Handover.officer_id)


def _audited(f: ReportFilter, actions: tuple[str, ...]):
    """The audit records of ``actions`` in the period, by action and officer; narrowed
    to organisations through the order or token each names."""
    a = AuditRecord
    stmt = (sa.select(*_counted(a.action, a.actor_id))
            .select_from(a).where(a.action.in_(actions), common.in_period(a.at, f), a.actor_id.is_not(None)))
    if f.officer_id is not None:
        stmt = stmt.where(a.actor_id == f.officer_id)
    if actions[0].startswith("order.") and (f.has_org_filter or f.profile):
        stmt = common.orders(stmt.join(CertificateOrder, CertificateOrder.id == common.as_int(a.object_id)), f)
    elif actions[0].startswith("token.") and f.has_org_filter:
        stmt = stmt.where(common.as_int(a.object_id).in_(_org_tokens(f)))
    return stmt.group_by(a.action, a.actor_id)


def _decisions(f: ReportFilter):
    d = RevocationApproval
    stmt = (sa.select(*_counted(sa.literal("revocation_decisions"), d.approver_id)).select_from(d)
            .where(common.in_period(d.at, f)))
    if f.has_org_filter:
        stmt = stmt.join(RevocationRequest, RevocationRequest.id == d.request_id)
        if common.needs_org_table(f):
            stmt = stmt.join(Organisation, Organisation.id == RevocationRequest.organisation_id)
        stmt = stmt.where(*common.org_conditions(f, RevocationRequest.organisation_id))
    if f.officer_id is not None:
        stmt = stmt.where(d.approver_id == f.officer_id)
    return stmt.group_by(d.approver_id)


def _sources(f: ReportFilter):
    """Every activity, each source grouped on its own index range, stacked with UNION
    ALL: one statement, one round trip."""
    audited = ((AUDITED["approvals"], AUDITED["rejections"]), (AUDITED["unblocks"],)) \
        if f.has_org_filter or f.profile else (tuple(AUDITED.values()),)
    return sa.union_all(_handovers(f), _decisions(f), *[_audited(f, a) for a in audited])


def per_officer(session, f: ReportFilter) -> tuple[dict[int, dict[str, int]], dict[int, str]]:
    """Every activity per officer, and the officers' names."""
    key_of = {action: key for key, action in AUDITED.items()}
    counts: dict[int, dict[str, int]] = {}
    names: dict[int, str] = {}
    for what, officer_id, n, name in common.run_for(session, _sources, f):
        if officer_id is not None:
            counts.setdefault(officer_id, {k: 0 for k in ACTIVITIES})[key_of.get(what, what)] = n
            names[officer_id] = name
    return counts, names


COLUMNS = [Column("label", T.OFFICER)] + [Column(k, v, "int") for k, v in ACTIVITIES.items()] + \
    [Column("total", _l("Total"), "int")]


def officer_table(session, f: ReportFilter, *, sort=None, desc=True, page=1, per_page=T.PER_PAGE) -> Table:
    counts, names = per_officer(session, f)
    rows = [{"key": oid, "label": names.get(oid, str(oid)), **c, "total": sum(c.values())}
            for oid, c in counts.items()]
    page_rows, sort, desc = T.sort_and_page(rows, COLUMNS, sort=sort, desc=desc, page=page,
                                            per_page=per_page or max(1, len(rows)), default="total")
    totals = {k: sum(r[k] for r in rows) for k in list(ACTIVITIES) + ["total"]}
    return Table("officer_activity", _l("Per-officer activity"), COLUMNS, page_rows, total_rows=len(rows),
                 page=page, per_page=per_page or max(1, len(rows)), sort=sort, desc=desc, totals=totals)
