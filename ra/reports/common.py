"""The joins and conditions every report shares: a certificate belongs to a holder,
the holder to an organisation (kind, district); an order to an organisation; the
officer of an issuance is the officer of the handover that produced it."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.models import User
from ra.ca.models import Certificate
from ra.enrollment.holder_models import CertificateOrder, Holder
from ra.enrollment.models import Organisation
from ra.reports.periods import ReportFilter
from ra.tokens.handover_models import Handover


def in_period(col, f: ReportFilter):
    """Half-open: [local midnight of the first day, local midnight after the last)."""
    return sa.and_(col >= f.start_utc, col < f.end_utc)


def org_conditions(f: ReportFilter, org_id_col, *, org=Organisation) -> list:
    out = []
    if f.organisation_id is not None:
        out.append(org_id_col == f.organisation_id)
    if f.kind is not None:
        out.append(org.kind == f.kind)
    if f.district is not None:
        out.append(org.district == f.district)
    return out


def needs_org_table(f: ReportFilter) -> bool:
    return f.kind is not None or f.district is not None


def certificates(stmt, f: ReportFilter, time_col, *, join_org: bool = False, join_holder: bool = False,
                 join_handover: bool = False, period: bool = True):
    """Certificates of holders narrowed by the filter. ``stmt`` selects from
    ``Certificate``. Joins only what the filter or the grouping needs, so a plain
    count stays an index range scan on ``time_col``."""
    conds = [Certificate.holder_id.is_not(None)]
    if period:
        conds.append(in_period(time_col, f))
    if f.profile:
        conds.append(Certificate.profile == f.profile)
    if join_org or join_holder or f.organisation_id is not None or needs_org_table(f):
        stmt = stmt.join(Holder, Holder.id == Certificate.holder_id)
        if join_org or needs_org_table(f):
            stmt = stmt.join(Organisation, Organisation.id == Holder.organisation_id)
        conds += org_conditions(f, Holder.organisation_id)
    if join_handover or f.officer_id is not None:
        stmt = stmt.outerjoin(Handover, Handover.certificate_id == Certificate.id)
        if f.officer_id is not None:
            conds.append(Handover.officer_id == f.officer_id)
    return stmt.where(*conds)


def orders(stmt, f: ReportFilter, *, join_org: bool = False):
    """Orders narrowed by organisation, kind, district and profile (``stmt`` selects
    from ``CertificateOrder``)."""
    conds = []
    if f.profile:
        conds.append(CertificateOrder.profile == f.profile)
    if join_org or needs_org_table(f):
        stmt = stmt.join(Organisation, Organisation.id == CertificateOrder.organisation_id)
    conds += org_conditions(f, CertificateOrder.organisation_id)
    return stmt.where(*conds) if conds else stmt


def officer_name():
    return sa.func.coalesce(sa.func.nullif(User.full_name, ""), User.email)


def as_int(col):
    """Audit records name their object by id as text."""
    return sa.cast(col, sa.Integer)


def for_reports(session) -> None:
    """Report queries are short aggregates over index ranges: PostgreSQL's JIT
    compiles for tens of milliseconds to save less (its cost threshold counts the
    correlated subqueries of the no-show query as expensive). Off for this
    transaction only; the server's setting is untouched."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL jit = off"))
