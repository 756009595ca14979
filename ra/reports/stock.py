"""Token stock (DESIGN §3.3): tokens by state now, and what moved in the period —
handed over (completed handovers), returned, lost, damaged, suspended, wiped for
reuse, destroyed (the audit records of the token state machine), received.

Narrowed to organisations, the stock is the tokens that have carried a certificate
of one of their holders; tokens still in stock belong to no organisation."""
from __future__ import annotations

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.ca.models import Certificate
from ra.enrollment.holder_models import CertificateOrder, Holder
from ra.enrollment.models import Organisation
from ra.i18n import _l
from ra.reports import common
from ra.reports import tables as T
from ra.reports.models import TokenStateCount
from ra.reports.periods import ReportFilter
from ra.reports.tables import Column, Table
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus

# Token state changes counted as movements (the handover's in_stock → active is
# counted from the handovers themselves: "found" is also → active).
MOVES = {
    "token.returned": _l("Returned"),
    "token.lost": _l("Lost"),
    "token.damaged": _l("Damaged"),
    "token.suspended": _l("Suspended"),
    "token.in_stock": _l("Wiped and returned to stock"),
    "token.destroyed": _l("Destroyed"),
}


def _org_tokens(f: ReportFilter):
    """Ids of tokens that carried a certificate of the filtered organisations."""
    stmt = (sa.select(Certificate.token_id).join(Holder, Holder.id == Certificate.holder_id)
            .where(Certificate.token_id.is_not(None)))
    if common.needs_org_table(f):
        stmt = stmt.join(Organisation, Organisation.id == Holder.organisation_id)
    return stmt.where(*common.org_conditions(f, Holder.organisation_id))


def by_state(session, f: ReportFilter) -> dict[TokenStatus, int]:
    """The whole stock from the rollup the token triggers keep; an organisation's
    tokens counted from the tokens themselves."""
    if f.has_org_filter:
        stmt = (sa.select(Token.status, sa.func.count()).where(Token.id.in_(_org_tokens(f)))
                .group_by(Token.status))
        counts = dict(session.execute(stmt).all())
    else:
        counts = {TokenStatus(k): v for k, v in session.execute(
            sa.select(TokenStateCount.status, TokenStateCount.tokens)).all()}
    return {s: int(counts.get(s, 0)) for s in TokenStatus}


def handed_over(session, f: ReportFilter) -> int:
    stmt = (sa.select(sa.func.count()).select_from(Handover)
            .where(Handover.step == HandoverStep.COMPLETED, common.in_period(Handover.completed_at, f)))
    if f.officer_id is not None:
        stmt = stmt.where(Handover.officer_id == f.officer_id)
    if f.has_org_filter or f.profile:
        stmt = common.orders(stmt.join(CertificateOrder, CertificateOrder.id == Handover.order_id), f)
    return session.execute(stmt).scalar_one()


def movements(session, f: ReportFilter) -> dict[str, int]:
    a = AuditRecord
    stmt = (sa.select(a.action, sa.func.count()).where(a.action.in_(tuple(MOVES)), common.in_period(a.at, f))
            .group_by(a.action))
    if f.officer_id is not None:
        stmt = stmt.where(a.actor_id == f.officer_id)
    if f.has_org_filter:
        stmt = stmt.where(a.object_type == "token", common.as_int(a.object_id).in_(_org_tokens(f)))
    counts = dict(session.execute(stmt).all())
    return {k: counts.get(k, 0) for k in MOVES}


def received(session, f: ReportFilter) -> int | None:
    """Tokens received into stock in the period; stock belongs to no organisation."""
    if f.has_org_filter:
        return None
    return session.execute(sa.select(sa.func.count(Token.id)).where(common.in_period(Token.created_at, f))
                           ).scalar_one()


STATE_COLUMNS = [Column("label", _l("State")), Column("count", T.COUNT, "int")]
MOVE_COLUMNS = [Column("label", _l("Movement in the period")), Column("count", T.COUNT, "int")]


def state_table(session, f: ReportFilter) -> Table:
    counts = by_state(session, f)
    rows = [{"key": s.value, "label": s.label, "count": n} for s, n in counts.items()]
    return Table("tokens_by_state", _l("Tokens by state"), STATE_COLUMNS, rows, per_page=len(rows),
                 totals={"count": sum(counts.values())})


def movement_table(session, f: ReportFilter) -> Table:
    rows = [{"key": "handed_over", "label": _l("Handed over"), "count": handed_over(session, f)}]
    rows += [{"key": k.split(".", 1)[1], "label": MOVES[k], "count": n} for k, n in movements(session, f).items()]
    got = received(session, f)
    if got is not None:
        rows.append({"key": "received", "label": _l("Received into stock"), "count": got})
    return Table("token_movements", _l("Token movements in the period"), MOVE_COLUMNS, rows, per_page=len(rows))
