"""Small reads the report pages need around the reports themselves: the officers a
manager may filter by, and an organisation looked up by its registry number."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.models import User
from ra.auth.roles import Role
from ra.enrollment.models import Organisation
from ra.reports.common import officer_name


def officers(session) -> list[tuple[int, str]]:
    """RU officers and managers, by name: who hands over, approves and unblocks."""
    stmt = (sa.select(User.id, officer_name()).where(User.role.in_((Role.RA_OFFICER, Role.RA_MANAGER)))
            .order_by(officer_name(), User.id))
    return [(i, n) for i, n in session.execute(stmt)]


def organisation_id_by_registry(session, number: str) -> int | None:
    return session.execute(sa.select(Organisation.id).where(Organisation.registry_number == number.strip())
                           ).scalar_one_or_none()


def organisation_name(session, org_id: int | None) -> str | None:
    if org_id is None:
        return None
    return session.execute(sa.select(Organisation.name).where(Organisation.id == org_id)).scalar_one_or_none()
