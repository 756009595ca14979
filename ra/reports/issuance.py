"""Issuance counts (DESIGN §3.5): certificates issued to holders, counted when the
RU recorded the CA's answer (``certificate.created_at``), by period, organisation,
kind, district, officer (of the handover) and profile; and the drill-down list of
the certificates themselves (kind → organisation → holders)."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.models import User
from ra.ca.models import Certificate
from ra.enrollment.holder_models import Holder
from ra.enrollment.models import Organisation
from ra.i18n import _l
from ra.reports import common
from ra.reports import tables as T
from ra.reports.labels import bucket_keys, bucket_label, district_label, kind_label, profile_label
from ra.reports.periods import BUCKETS, ReportFilter
from ra.reports.sqlfn import Dialect
from ra.reports.tables import Column, Table
from ra.tokens.handover_models import Handover

GROUP_BY = ("kind", "organisation", "district", "officer", "profile") + BUCKETS

ISSUED = Column("issued", T.ISSUED, "int")


def total(session, f: ReportFilter) -> int:
    stmt = common.certificates(sa.select(sa.func.count()).select_from(Certificate), f,
                               Certificate.created_at)
    return session.execute(stmt).scalar_one()


def _groups(session, f: ReportFilter, by: str, profiles: dict) -> list[dict]:
    n = sa.func.count().label("issued")
    if by in BUCKETS:
        key = Dialect(session).bucket(Certificate.created_at, by).label("key")
        stmt = common.certificates(sa.select(key, n).select_from(Certificate), f, Certificate.created_at)
        counts = dict(session.execute(stmt.group_by(key)).all())
        return [{"key": k, "label": bucket_label(k, by), "issued": counts.get(k, 0)}
                for k in bucket_keys(f.start, f.end, by)]
    if by in ("kind", "district"):
        # Count per organisation first (index-only: certificate → holder), then fold the
        # organisations (at most tens of thousands) into their kind or district.
        col = Organisation.kind if by == "kind" else Organisation.district
        per_org = _per_organisation(f).subquery()
        stmt = (sa.select(col, sa.func.sum(per_org.c.issued))
                .join(per_org, per_org.c.organisation_id == Organisation.id).group_by(col))
        label = kind_label if by == "kind" else district_label
        return [{"key": k.value, "label": label(k), "issued": int(c)} for k, c in session.execute(stmt)]
    if by == "profile":
        stmt = common.certificates(sa.select(Certificate.profile, n).select_from(Certificate), f,
                                   Certificate.created_at)
        return [{"key": p, "label": profile_label(p, profiles), "issued": c}
                for p, c in session.execute(stmt.group_by(Certificate.profile))]
    if by == "officer":
        stmt = common.certificates(sa.select(Handover.officer_id, n).select_from(Certificate), f,
                                   Certificate.created_at, join_handover=True)
        counts = session.execute(stmt.group_by(Handover.officer_id)).all()
        names = _officer_names(session, [o for o, _ in counts if o is not None])
        return [{"key": o, "label": names.get(o, "") if o is not None else _l("No handover recorded"),
                 "issued": c} for o, c in counts]
    raise ValueError(by)


def _per_organisation(f: ReportFilter):
    n = sa.func.count().label("issued")
    stmt = common.certificates(sa.select(Holder.organisation_id, n).select_from(Certificate), f,
                               Certificate.created_at, join_holder=True)
    return stmt.group_by(Holder.organisation_id)


def _officer_names(session, ids) -> dict:
    if not ids:
        return {}
    return dict(session.execute(sa.select(User.id, common.officer_name()).where(User.id.in_(ids))).all())


def group_columns(by: str) -> list[Column]:
    if by == "organisation":
        return [Column("name", T.ORGANISATION), Column("registry_number", _l("Registry number")),
                Column("kind", T.KIND), Column("district", T.DISTRICT), ISSUED]
    label = {"kind": T.KIND, "district": T.DISTRICT, "officer": T.OFFICER, "profile": T.PROFILE}.get(by, T.PERIOD)
    return [Column("label", label), ISSUED]


def grouped(session, f: ReportFilter, by: str, *, profiles: dict, sort: str | None = None, desc: bool = False,
            page: int = 1, per_page: int | None = T.PER_PAGE) -> Table:
    """Counts per group. Small groupings are computed whole; organisations (up to
    tens of thousands) are sorted and paged in SQL."""
    if by not in GROUP_BY:
        raise ValueError(by)
    cols = group_columns(by)
    title = _l("Certificates issued")
    if by == "organisation":
        return _by_organisation(session, f, cols, sort=sort, desc=desc, page=page, per_page=per_page)
    rows = _groups(session, f, by, profiles)
    default = "label" if by in BUCKETS else "issued"
    page_rows, sort, desc = T.sort_and_page(rows, cols, sort=sort, desc=desc if sort else by not in BUCKETS,
                                            page=page, per_page=per_page or max(1, len(rows)), default=default)
    return Table(f"issuance_{by}", title, cols, page_rows, total_rows=len(rows), page=page,
                 per_page=per_page or max(1, len(rows)), sort=sort, desc=desc,
                 totals={"issued": sum(r["issued"] for r in rows)})


ORGANISATION_ORDER = {"name": Organisation.name, "registry_number": Organisation.registry_number,
                      "kind": Organisation.kind, "district": Organisation.district}


def _by_organisation(session, f, cols, *, sort, desc, page, per_page) -> Table:
    """Sorted and cut in SQL (``common.organisation_page``)."""
    if sort != "issued" and sort not in ORGANISATION_ORDER:
        sort, desc = "issued", True
    result = common.run_for(session, _organisation_page, f, sort, desc, page, per_page).all()
    if result:
        groups, issued = result[0].groups, int(result[0].t_issued)
    else:  # nothing issued, or a page past the last
        per_org = _per_organisation(f).subquery()
        groups, issued = session.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(per_org.c.issued),
                                                                                     0))).one()
    rows = [{"key": r.id, "name": r.name, "registry_number": r.registry_number, "kind": kind_label(r.kind),
             "district": district_label(r.district), "issued": r.issued} for r in result]
    return Table("issuance_organisation", _l("Certificates issued"), cols, rows, total_rows=groups, page=page,
                 per_page=per_page or max(1, groups), sort=sort, desc=desc, totals={"issued": int(issued)})


def _organisation_page(f: ReportFilter, sort: str, desc: bool, page: int, per_page: int | None):
    o = Organisation
    columns = [o.id, o.name, o.registry_number, o.kind, o.district]
    return common.organisation_page(_per_organisation(f).subquery(), columns, ORGANISATION_ORDER, sort=sort,
                                    desc=desc, page=page, per_page=per_page)


# -- the drill-down: the certificates issued, with their holders --------------------------------------------

LIST_COLUMNS = [
    Column("issued_at", _l("Issued at"), "datetime"), Column("serial", _l("Serial number")),
    Column("holder", _l("Holder")), Column("register_number", _l("Register number")),
    Column("position", _l("Position"), sortable=False), Column("organisation", T.ORGANISATION),
    Column("kind", T.KIND, sortable=False), Column("district", T.DISTRICT, sortable=False),
    Column("profile", T.PROFILE), Column("officer", T.OFFICER, sortable=False),
    Column("not_after", _l("Valid until"), "datetime"), Column("status", _l("Status"), sortable=False),
]


def _list_stmt(f: ReportFilter):
    c, h, o = Certificate, Holder, Organisation
    stmt = (sa.select(c.id, c.created_at, c.serial, c.profile, c.not_after, c.status, h.surname, h.given_name,
                      h.register_number, h.position, o.name.label("organisation"), o.kind, o.district,
                      common.officer_name().label("officer"))
            .select_from(c))
    stmt = common.certificates(stmt, f, c.created_at, join_org=True, join_handover=True)
    return stmt.outerjoin(User, User.id == Handover.officer_id)


LIST_ORDER = {"issued_at": Certificate.created_at, "serial": Certificate.serial, "not_after": Certificate.not_after,
              "holder": Holder.surname, "register_number": Holder.register_number, "organisation": Organisation.name,
              "profile": Certificate.profile}


def _list_row(r, profiles) -> dict:
    return {"key": r.id, "issued_at": r.created_at, "serial": r.serial, "holder": f"{r.surname} {r.given_name}",
            "register_number": r.register_number, "position": r.position, "organisation": r.organisation,
            "kind": kind_label(r.kind), "district": district_label(r.district),
            "profile": profile_label(r.profile, profiles), "officer": r.officer or "",
            "not_after": r.not_after, "status": r.status.label}


def certificate_list(session, f: ReportFilter, *, profiles: dict, sort: str | None = None, desc: bool = True,
                     page: int = 1, per_page: int = T.PER_PAGE) -> Table:
    if sort not in LIST_ORDER:
        sort, desc = "issued_at", True
    count = common.certificates(sa.select(sa.func.count()).select_from(Certificate), f,
                                Certificate.created_at)
    total_rows = session.execute(count).scalar_one()
    col = LIST_ORDER[sort]
    ordered = _list_stmt(f).order_by(col.desc() if desc else col.asc(), Certificate.id.desc() if desc
                                     else Certificate.id.asc())
    rows = [_list_row(r, profiles) for r in
            session.execute(ordered.limit(per_page).offset((max(1, page) - 1) * per_page))]

    def stream():
        result = session.execute(ordered.execution_options(yield_per=2000))
        for r in result:
            yield _list_row(r, profiles)

    return Table("issued_certificates", _l("Certificates issued, with their holders"), LIST_COLUMNS, rows,
                 total_rows=total_rows, page=page, per_page=per_page, sort=sort, desc=desc,
                 totals={"issued": total_rows}, stream=stream)
