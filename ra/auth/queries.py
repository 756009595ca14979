"""Reads of accounts, for the admin's pages."""
from __future__ import annotations

import sqlalchemy as sa

from ra.auth.models import User


def list_users(session, *, limit: int = 500) -> list[User]:
    return list(session.scalars(sa.select(User).order_by(User.role, User.email).limit(limit)))
