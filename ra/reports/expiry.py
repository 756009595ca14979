"""Certificates expiring in the next 30, 60 and 90 days, by organisation, and the
list of holders each registrar should renew (DESIGN §3.2: renewal is a new order
before expiry). A certificate whose holder already has a later certificate of the
same profile has been renewed and is not counted."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.enrollment.holder_models import Holder
from ra.enrollment.models import Organisation
from ra.i18n import _l
from ra.reports import common
from ra.reports import tables as T
from ra.reports.labels import district_label, kind_label, profile_label
from ra.reports.periods import ReportFilter
from ra.reports.tables import Column, Table

HORIZONS = (30, 60, 90)


def _expiring(f: ReportFilter, now: datetime, days: int = 90):
    """Valid certificates ending within ``days`` whose holder has no later one."""
    newer = aliased(Certificate)
    renewed = sa.exists().where(newer.holder_id == Certificate.holder_id, newer.profile == Certificate.profile,
                                newer.not_after > Certificate.not_after,
                                newer.status.in_((CertificateStatus.VALID, CertificateStatus.SUSPENDED)))
    return [Certificate.status == CertificateStatus.VALID, Certificate.not_after > now,
            Certificate.not_after <= now + timedelta(days=days), ~renewed]


def _base(stmt, f: ReportFilter, now: datetime, *, join_org: bool = False):
    stmt = common.certificates(stmt.select_from(Certificate), f.with_(officer_id=None), Certificate.not_after,
                               join_holder=True, join_org=join_org, period=False)
    return stmt.where(*_expiring(f, now))


def _within(now: datetime, days: int):
    return sa.func.sum(sa.case((Certificate.not_after <= now + timedelta(days=days), 1), else_=0))


COLUMNS = [Column("name", T.ORGANISATION), Column("kind", T.KIND), Column("district", T.DISTRICT),
           Column("registrar_email", _l("Registration officer's e-mail"), sortable=False),
           Column("d30", _l("Within 30 days"), "int"), Column("d60", _l("Within 60 days"), "int"),
           Column("d90", _l("Within 90 days"), "int")]


def _per_organisation(f: ReportFilter, now: datetime):
    """One pass over the 90-day window (index-only), folded per organisation."""
    counts = _base(sa.select(Holder.organisation_id, *[_within(now, d).label(f"d{d}") for d in HORIZONS]), f, now)
    return counts.group_by(Holder.organisation_id).subquery()


def _row(r) -> dict:
    return {"key": r.id, "name": r.name, "kind": kind_label(r.kind), "district": district_label(r.district),
            "registrar_email": r.registrar_email, "d30": int(r.d30), "d60": int(r.d60), "d90": int(r.d90)}


ORGANISATION_ORDER = {"name": Organisation.name, "kind": Organisation.kind, "district": Organisation.district}


def by_organisation(session, f: ReportFilter, now: datetime, *, sort=None, desc=True, page=1,
                    per_page: int | None = T.PER_PAGE) -> Table:
    """The organisations' rows, sorted and cut in SQL (``common.organisation_page``)."""
    o = Organisation
    sub = _per_organisation(f, now)
    if sort not in ORGANISATION_ORDER and sort not in ("d30", "d60", "d90"):
        sort, desc = "d30", True
    stmt = common.organisation_page(sub, [o.id, o.name, o.kind, o.district, o.registrar_email], ORGANISATION_ORDER,
                                    sort=sort, desc=desc, page=page, per_page=per_page)
    result = session.execute(stmt).all()
    if result:
        groups, totals = result[0].groups, {f"d{d}": int(getattr(result[0], f"t_d{d}")) for d in HORIZONS}
    else:  # no organisation, or a page past the last
        groups, *t = session.execute(sa.select(sa.func.count(), *[sa.func.coalesce(sa.func.sum(
            getattr(sub.c, f"d{d}")), 0) for d in HORIZONS])).one()
        totals = {f"d{d}": int(v) for d, v in zip(HORIZONS, t)}
    return Table("expiring_by_organisation", _l("Certificates expiring, by organisation"), COLUMNS,
                 [_row(r) for r in result], total_rows=groups, page=page, per_page=per_page or max(1, groups),
                 sort=sort, desc=desc, totals=totals)


HOLDER_COLUMNS = [Column("not_after", _l("Valid until"), "datetime", sortable=False),
                  Column("holder", _l("Holder"), sortable=False),
                  Column("register_number", _l("Register number"), sortable=False),
                  Column("position", _l("Position"), sortable=False),
                  Column("organisation", T.ORGANISATION, sortable=False),
                  Column("profile", T.PROFILE, sortable=False), Column("serial", _l("Serial number"), sortable=False)]


def _holder_stmt(f: ReportFilter, now: datetime):
    c, h, o = Certificate, Holder, Organisation
    return _base(sa.select(c.id, c.not_after, c.serial, c.profile, h.surname, h.given_name, h.register_number,
                           h.position, o.id.label("organisation_id"), o.name.label("organisation")), f, now,
                 join_org=True)


def _holder_row(r, now, profiles) -> dict:
    return {"key": r.id, "not_after": r.not_after, "holder": f"{r.surname} {r.given_name}",
            "register_number": r.register_number, "position": r.position, "organisation_id": r.organisation_id,
            "organisation": r.organisation, "profile": profile_label(r.profile, profiles), "serial": r.serial,
            "days_left": max(0, (r.not_after - now).days)}


def holders_to_renew(session, f: ReportFilter, now: datetime, *, profiles: dict) -> list[dict]:
    """Every certificate to renew within 90 days, by organisation, soonest first (the
    reminder mail groups them by organisation)."""
    stmt = _holder_stmt(f, now).order_by(Organisation.id, Certificate.not_after, Certificate.id)
    return [_holder_row(r, now, profiles) for r in session.execute(stmt)]


def holder_table(session, f: ReportFilter, now: datetime, *, profiles: dict, page: int = 1,
                 per_page: int = T.PER_PAGE) -> Table:
    stmt = _holder_stmt(f, now)
    total_rows = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    ordered = stmt.order_by(Certificate.not_after, Certificate.id)
    rows = [_holder_row(r, now, profiles)
            for r in session.execute(ordered.limit(per_page).offset((max(1, page) - 1) * per_page))]

    def stream():
        for r in session.execute(ordered.execution_options(yield_per=2000)):
            yield _holder_row(r, now, profiles)

    return Table("expiring_certificates", _l("Certificates to renew within 90 days"), HOLDER_COLUMNS, rows,
                 total_rows=total_rows, page=page, per_page=per_page, stream=stream)
