"""Reads for onboarding; every one goes through the organisation scope."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.policy import require_visible, scope_organisations
from ra.enrollment.models import GeneratedDocument, Organisation, OrganisationDocument
from ra.enrollment.states import OrganisationStatus
from ra.errors import NotFound


def get_organisation(session, actor, org_id) -> Organisation:
    try:
        org_id = int(org_id)
    except (TypeError, ValueError):
        raise NotFound() from None
    stmt = scope_organisations(actor, sa.select(Organisation).where(Organisation.id == org_id), Organisation.id)
    org = session.execute(stmt).scalar_one_or_none()
    require_visible(actor, org)
    return org


def get_document(session, actor, doc_id) -> OrganisationDocument:
    doc = session.get(OrganisationDocument, int(doc_id)) if str(doc_id).isdigit() else None
    if doc is None:
        raise NotFound()
    get_organisation(session, actor, doc.organisation_id)
    return doc


def get_generated(session, actor, doc_id) -> GeneratedDocument:
    doc = session.get(GeneratedDocument, int(doc_id)) if str(doc_id).isdigit() else None
    if doc is None:
        raise NotFound()
    get_organisation(session, actor, doc.organisation_id)
    return doc


def review_queue(session, actor):
    """Organisations waiting for the RU, oldest first."""
    waiting = (OrganisationStatus.UNDER_REVIEW, OrganisationStatus.CONTRACT_SENT)
    stmt = sa.select(Organisation).where(Organisation.status.in_(waiting)).order_by(Organisation.created_at)
    return session.execute(scope_organisations(actor, stmt, Organisation.id)).scalars().all()


def list_organisations(session, actor, *, status: OrganisationStatus | None = None, q: str = "",
                       page: int = 1, per_page: int = 50):
    stmt = sa.select(Organisation)
    if status:
        stmt = stmt.where(Organisation.status == status)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(Organisation.name.ilike(like), Organisation.registry_number.like(like)))
    stmt = scope_organisations(actor, stmt, Organisation.id)
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(Organisation.name).limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return rows, total


def missing_steps(org: Organisation) -> list:
    """What the registrar still has to do, for their dashboard."""
    from ra.enrollment.models import DocumentKind
    from ra.i18n import _l

    S = OrganisationStatus
    steps = []
    if org.status == S.PENDING:
        steps.append(_l("Upload the official request letter naming your registration officer."))
    elif org.status == S.UNDER_REVIEW:
        steps.append(_l("Wait for the RU officer to review your request."))
    elif org.status == S.CONTRACT_SENT:
        if org.latest_document(DocumentKind.SIGNED_CONTRACT) is None:
            steps.append(_l("Download the contract, sign and stamp it, and upload the scan."))
        else:
            steps.append(_l("Wait for the RU officer to check the signed contract."))
    elif org.status == S.SUSPENDED:
        steps.append(_l("Your organisation is suspended. Contact the RU."))
    elif org.status == S.REJECTED:
        steps.append(_l("Your request was rejected. See the reason below and contact the RU."))
    return steps
