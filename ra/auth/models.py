from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.auth.roles import Role
from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __audit_type__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200), default="")
    role: Mapped[Role] = mapped_column(enum_column(Role))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    # A holder's account is the person's, not one organisation's: keyed on the
    # state register number, it sees every organisation the person holds in.
    register_number: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # SHA-256 of the bearer token: tokens are 256-bit random, so a fast hash is
    # enough and lets us look the token up; the token itself is never stored.
    api_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    locale: Mapped[str] = mapped_column(sa.String(5), default="mn")
    is_enabled: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change or lock so that older sessions stop working.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation = relationship("Organisation", foreign_keys=[organisation_id])

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_enabled

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles

    def __repr__(self):
        return f"<User {self.email} {self.role.value}>"


class LoginThrottle(db.Model):
    """Failed logins in a row per e-mail (whether the account exists or not, so the
    answer does not reveal which e-mails have accounts)."""
    __tablename__ = "login_throttle"

    email: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
