"""The holder's own account (DESIGN §2, role ``holder``): activation links and
step-up codes. Both secrets are random and kept only as SHA-256 digests, so a
copy of the database opens nothing."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, utcnow
from ra.extensions import db


class HolderActivation(db.Model):
    """A single-use link that lets the holder set the account's password (72 hours)."""
    __tablename__ = "holder_activation"
    __audit_type__ = "holder_activation"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    secret_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The registered work e-mail the link went to, as it was then.
    email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class StepUpCode(db.Model):
    """A fresh one-time code by e-mail before a sensitive action (a lost-token
    report, a PIN unblock request): single use, 10 minutes, 5 wrong tries, bound
    to one account and one purpose (OWASP ASVS 2.7 out-of-band verifiers)."""
    __tablename__ = "holder_step_up"
    __audit_type__ = "holder_step_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    purpose: Mapped[str] = mapped_column(sa.String(40))
    # What the code confirms (a token id): a code for one token cannot report another.
    target: Mapped[str] = mapped_column(sa.String(64), default="")
    code_digest: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(default=0)


class BookingShortageDay(db.Model):
    """A day (Ulaanbaatar) on which a holder found no counter time free within
    three working days; the registrar and the RU managers were told once that day,
    and the manager's dashboard counts these days."""
    __tablename__ = "booking_shortage_day"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    first_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate_order.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
