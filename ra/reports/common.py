"""The joins and conditions every report shares: a certificate belongs to a holder,
the holder to an organisation (kind, district); an order to an organisation; the
officer of an issuance is the officer of the handover that produced it."""
from __future__ import annotations

import functools
import weakref
from datetime import date

import sqlalchemy as sa

from ra.auth.models import User
from ra.ca.models import Certificate
from ra.enrollment.holder_models import CertificateOrder, Holder
from ra.enrollment.models import Organisation
from ra.reports.periods import ReportFilter
from ra.tokens.handover_models import Handover


PERIOD_PARAMS = ("period_start", "period_end")
_SHAPE_DAY = date(2000, 1, 1)


def in_period(col, f: ReportFilter):
    """Half-open: [local midnight of the first day, local midnight after the last).
    The bounds are named parameters (so a statement covers one period), which lets
    ``run_for`` run a statement built for one period for any other."""
    start, end = (sa.bindparam(name, value, type_=col.type)
                  for name, value in zip(PERIOD_PARAMS, (f.start_utc, f.end_utc)))
    return sa.and_(col >= start, col < end)


def run_for(session, build, f: ReportFilter, *args):
    """Executes ``build(f, *args)``, a statement that depends on nothing else, built
    once per filter shape (the filter without its period) and ``args`` and then
    reused with the period's bounds as parameters: building a report statement and
    computing its cache key cost SQLAlchemy about as much as running it."""
    shape = f.with_(period="custom", start=_SHAPE_DAY, end=_SHAPE_DAY)
    return session.execute(_built(build, shape, args), dict(zip(PERIOD_PARAMS, (f.start_utc, f.end_utc))))


@functools.lru_cache(maxsize=256)
def _built(build, shape: ReportFilter, args: tuple):
    """Statements are immutable: one built here serves every request and thread."""
    return build(shape, *args)


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


def organisation_page(per_org, org_columns: list, org_order: dict, *, sort: str, desc: bool, page: int,
                      per_page: int | None):
    """The page of an organisation table over ``per_org`` (a subquery: organisation_id
    and its counts), with ``groups`` (the number of organisations) and ``t_<count>``
    (each count's total) as window aggregates over all of them, so the data is read
    once. Sorted by a count, the page is cut from the counts before its
    organisations are looked up (a page of primary keys, not a pass over every
    organisation); sorted by an organisation's column (``org_order``), after."""
    direction = sa.desc if desc else sa.asc
    counted = [c for c in per_org.c if c.name != "organisation_id"]
    counts = sa.select(per_org, sa.func.count().over().label("groups"),
                       *[sa.func.sum(c).over().label(f"t_{c.name}") for c in counted])
    by_count = sort not in org_order
    if by_count:
        counts = page_of(counts.order_by(direction(per_org.c[sort]), per_org.c.organisation_id), page, per_page)
    counts = counts.subquery()
    stmt = (sa.select(*org_columns, *[c for c in counts.c if c.name != "organisation_id"])
            .join(counts, counts.c.organisation_id == Organisation.id)
            .order_by(direction(counts.c[sort] if by_count else org_order[sort]), Organisation.id))
    return stmt if by_count else page_of(stmt, page, per_page)


def page_of(stmt, page: int, per_page: int | None):
    """``per_page`` rows from ``page`` (1-based); everything when ``per_page`` is None."""
    return stmt.limit(per_page).offset((max(1, page) - 1) * per_page) if per_page else stmt


def officer_name():
    return sa.func.coalesce(sa.func.nullif(User.full_name, ""), User.email)


def as_int(col):
    """Audit records name their object by id as text."""
    return sa.cast(col, sa.Integer)


# Up to a month, every report statement plans below PostgreSQL's jit_above_cost
# (100,000) on the national data set (the costliest: issuance by officer ~49,000, the
# certificates sorted by holder ~40,000), except the appointment outcomes, which turn
# JIT off themselves. Longer periods read proportionally more.
JIT_FREE_DAYS = 31
_JIT_OFF = "ra.reports.jit_off"


def without_jit(session) -> None:
    """Report statements are aggregates over index ranges: PostgreSQL's JIT compiles
    for tens of milliseconds to save less (its cost estimate counts the correlated
    subquery of the appointment outcomes as expensive). Off for the current
    transaction only (the server's setting is untouched), and said once per
    transaction: it is a round trip of its own."""
    if session.get_bind().dialect.name != "postgresql":
        return
    conn = session.connection()
    said = conn.info.get(_JIT_OFF)  # a weak reference: the pooled connection outlives its transactions
    if said is not None and said() is conn.get_transaction():
        return
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.info[_JIT_OFF] = weakref.ref(conn.get_transaction())


def for_reports(session, f: ReportFilter) -> None:
    """Before a report's statements: JIT off for a period longer than
    ``JIT_FREE_DAYS``; the common short reports skip that round trip."""
    if f.days > JIT_FREE_DAYS:
        without_jit(session)
