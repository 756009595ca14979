"""The monthly issuance report in the State CA's format: for one calendar month,
by organisation kind and, under each kind, by organisation — certificates issued,
revoked and suspended, and tokens handed over and returned.

Each figure comes from the same source as the dashboard's (``issuance``,
``revocations``, ``stock``), grouped by organisation, so the two always agree."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.enrollment.holder_models import CertificateOrder, Holder
from ra.enrollment.models import Organisation
from ra.enrollment.reference import OrganisationKind
from ra.i18n import _l
from ra.reports import common
from ra.reports import tables as T
from ra.reports.labels import kind_label
from ra.reports.periods import ReportFilter, month_filter
from ra.reports.tables import Column, Table
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep

FIGURES = ("issued", "revoked", "suspended", "tokens_issued", "tokens_returned")
COLUMNS = [Column("kind", T.KIND, sortable=False), Column("name", T.ORGANISATION, sortable=False),
           Column("registry_number", _l("Registry number"), sortable=False),
           Column("issued", _l("Certificates issued"), "int", sortable=False),
           Column("revoked", _l("Certificates revoked"), "int", sortable=False),
           Column("suspended", _l("Certificates suspended"), "int", sortable=False),
           Column("tokens_issued", _l("Tokens handed over"), "int", sortable=False),
           Column("tokens_returned", _l("Tokens returned"), "int", sortable=False)]


def _per_org_certificates(session, f: ReportFilter, time_col, *conds) -> dict[int, int]:
    stmt = (sa.select(Holder.organisation_id, sa.func.count(Certificate.id)).select_from(Certificate)
            .join(Holder, Holder.id == Certificate.holder_id)
            .where(common.in_period(time_col, f), *conds).group_by(Holder.organisation_id))
    return dict(session.execute(stmt).all())


def _per_org_holds(session, f: ReportFilter) -> dict[int, int]:
    a = AuditRecord
    stmt = (sa.select(Holder.organisation_id, sa.func.count()).select_from(a)
            .join(Certificate, Certificate.id == common.as_int(a.object_id))
            .join(Holder, Holder.id == Certificate.holder_id)
            .where(a.action == "certificate.suspended", common.in_period(a.at, f))
            .group_by(Holder.organisation_id))
    return dict(session.execute(stmt).all())


def _per_org_handovers(session, f: ReportFilter) -> dict[int, int]:
    stmt = (sa.select(CertificateOrder.organisation_id, sa.func.count(Handover.id)).select_from(Handover)
            .join(CertificateOrder, CertificateOrder.id == Handover.order_id)
            .where(Handover.step == HandoverStep.COMPLETED, common.in_period(Handover.completed_at, f))
            .group_by(CertificateOrder.organisation_id))
    return dict(session.execute(stmt).all())


def _per_org_returns(session, f: ReportFilter) -> dict[int, int]:
    """A returned token counts for the organisation of the last certificate it carried."""
    a = AuditRecord
    last_org = (sa.select(Holder.organisation_id).select_from(Certificate)
                .join(Holder, Holder.id == Certificate.holder_id)
                .where(Certificate.token_id == common.as_int(a.object_id))
                .order_by(Certificate.id.desc()).limit(1).correlate(a).scalar_subquery())
    sub = (sa.select(last_org.label("org")).select_from(a)
           .where(a.action == "token.returned", common.in_period(a.at, f))).subquery()
    return dict(session.execute(sa.select(sub.c.org, sa.func.count()).group_by(sub.c.org)).all())


@dataclass
class MonthlyReport:
    month: date
    filter: ReportFilter
    table: Table
    by_kind: Table


def build(session, month: date) -> MonthlyReport:
    f = month_filter(month)
    figures = {
        "issued": _per_org_certificates(session, f, Certificate.created_at),
        "revoked": _per_org_certificates(session, f, Certificate.revoked_at,
                                         Certificate.status == CertificateStatus.REVOKED),
        "suspended": _per_org_holds(session, f),
        "tokens_issued": _per_org_handovers(session, f),
        "tokens_returned": _per_org_returns(session, f),
    }
    org_ids = sorted({oid for d in figures.values() for oid in d if oid is not None})
    orgs = {}
    for chunk in range(0, len(org_ids), 5000):
        ids = org_ids[chunk:chunk + 5000]
        orgs.update({o.id: o for o in session.execute(
            sa.select(Organisation.id, Organisation.name, Organisation.registry_number, Organisation.kind)
            .where(Organisation.id.in_(ids)))})
    kind_order = {k: i for i, k in enumerate(OrganisationKind)}
    rows, kinds = [], {}
    for oid in sorted(orgs, key=lambda i: (kind_order[orgs[i].kind], orgs[i].name, i)):
        o = orgs[oid]
        row = {"key": oid, "kind": kind_label(o.kind), "name": o.name, "registry_number": o.registry_number,
               **{k: figures[k].get(oid, 0) for k in FIGURES}}
        rows.append(row)
        agg = kinds.setdefault(o.kind, {"key": o.kind.value, "label": kind_label(o.kind), "organisations": 0,
                                        **{k: 0 for k in FIGURES}})
        agg["organisations"] += 1
        for k in FIGURES:
            agg[k] += row[k]
    totals = {k: sum(r[k] for r in rows) for k in FIGURES}
    kind_rows = [kinds[k] for k in OrganisationKind if k in kinds]
    kind_cols = [Column("label", T.KIND, sortable=False),
                 Column("organisations", _l("Organisations"), "int", sortable=False)] + COLUMNS[3:]
    title = _l("Monthly report to the State CA")
    return MonthlyReport(
        month=month, filter=f,
        table=Table("monthly_by_organisation", title, COLUMNS, rows, per_page=max(1, len(rows)), totals=totals),
        by_kind=Table("monthly_by_kind", _l("By organisation kind"), kind_cols, kind_rows,
                      per_page=max(1, len(kind_rows)),
                      totals={**totals, "organisations": sum(r["organisations"] for r in kind_rows)}))
