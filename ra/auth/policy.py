"""One policy function per action (STYLE rule 6), used by views, API and services
alike; organisation scoping is the one query filter in ``scope_organisations``."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.roles import Role
from ra.errors import NotFound, PermissionDenied

REVIEWERS = (Role.RA_OFFICER, Role.RA_MANAGER)
RU_READERS = (Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN, Role.AUDITOR)
ORG_MEMBERS = (Role.ORG_REGISTRAR, Role.HOLDER)


def _role(actor):
    return getattr(actor, "role", None) if actor is not None and getattr(actor, "is_authenticated", True) else None


def scope_organisations(actor, stmt, org_id_column):
    """Restricts a query to what ``actor`` may see: RU staff see every organisation;
    an organisation's people see only their own; everyone else sees nothing."""
    role = _role(actor)
    if role in RU_READERS:
        return stmt
    if role in ORG_MEMBERS and actor.organisation_id is not None:
        return stmt.where(org_id_column == actor.organisation_id)
    return stmt.where(sa.false())


def can_see_organisation(actor, org) -> bool:
    role = _role(actor)
    return role in RU_READERS or (role in ORG_MEMBERS and actor.organisation_id == org.id)


def can_review_organisation(actor, org=None) -> bool:
    return _role(actor) in REVIEWERS


def can_upload_organisation_document(actor, org) -> bool:
    return _role(actor) == Role.ORG_REGISTRAR and actor.organisation_id == org.id


def can_download_organisation_document(actor, org) -> bool:
    return can_see_organisation(actor, org) and _role(actor) != Role.HOLDER


def can_read_audit(actor) -> bool:
    return _role(actor) in (Role.AUDITOR, Role.ADMIN, Role.RA_MANAGER)


def can_manage_users(actor) -> bool:
    return _role(actor) == Role.ADMIN


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied()


def require_visible(actor, org) -> None:
    """Another organisation's objects do not exist for a registrar: 404, not 403,
    so ids cannot be probed (no IDOR)."""
    if org is None or not can_see_organisation(actor, org):
        raise NotFound()
