"""Who reads which report (DESIGN §2): RU managers and auditors see the whole RU; an
organisation's registration officer sees the same views scoped to their own
organisation, and another organisation does not exist for them (404, not 403).
Scoping is applied here, once, to the filter every query reads."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.models import User
from ra.auth.policy import require
from ra.auth.roles import RU_STAFF, Role
from ra.enrollment.models import Organisation
from ra.errors import NotFound
from ra.reports.periods import ReportFilter

RU_WIDE = (Role.RA_MANAGER, Role.AUDITOR)


def _role(actor):
    return getattr(actor, "role", None) if actor is not None and getattr(actor, "is_authenticated", True) else None


def can_read_reports(actor) -> bool:
    role = _role(actor)
    return role in RU_WIDE or (role == Role.ORG_REGISTRAR and actor.organisation_id is not None)


def is_ru_wide(actor) -> bool:
    return _role(actor) in RU_WIDE


def can_send_expiry_reminders(actor) -> bool:
    """Reminding registrars is an action; an auditor approves and sends nothing."""
    return _role(actor) == Role.RA_MANAGER


def scoped(session, actor, f: ReportFilter) -> ReportFilter:
    """The filter as ``actor`` may run it. A registrar's filter always names their own
    organisation; naming another one is answered as if it did not exist."""
    require(can_read_reports(actor))
    if not is_ru_wide(actor):
        if f.organisation_id not in (None, actor.organisation_id):
            raise NotFound()
        f = f.with_(organisation_id=actor.organisation_id)
    elif f.organisation_id is not None and session.get(Organisation, f.organisation_id) is None:
        raise NotFound()
    if f.officer_id is not None:
        officer = session.get(User, f.officer_id)
        if officer is None or officer.role not in RU_STAFF:
            raise NotFound()
    return f


def managers(session) -> list[User]:
    """Who receives the monthly report."""
    return list(session.execute(sa.select(User).where(User.role == Role.RA_MANAGER, User.is_enabled.is_(True))
                                .order_by(User.id)).scalars())
