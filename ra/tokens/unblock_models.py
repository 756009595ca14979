"""Remote PIN unblock (DESIGN §3.3, last paragraph): the one-time codes the holder
receives by e-mail, the unblock sessions the holder's ``ra-token`` command runs on
them, and the counters that throttle the public request form.

Nothing secret is kept in clear: the code and the session secret only as SHA-256
digests (both are random, 100 and 256 bits, so a digest cannot be reversed by
guessing); the SO PINs stay in the token's escrow (``Token.so_pin`` and
``Token.so_pin_pending``); the user PIN nowhere.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db
from ra.tokens.unblock_states import UnblockChannel, UnblockStatus


class UnblockRequest(db.Model):
    """One one-time code for one token, and the unblock session opened with it."""
    __tablename__ = "token_unblock_request"
    __audit_type__ = "token_unblock"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("token.id"), index=True)
    holder_id: Mapped[int] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    channel: Mapped[UnblockChannel] = mapped_column(enum_column(UnblockChannel))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    # The holder's registered address the code was sent to, as it was then.
    email: Mapped[str] = mapped_column(sa.String(254))
    code_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[UnblockStatus] = mapped_column(enum_column(UnblockStatus), index=True,
                                                  default=UnblockStatus.CODE_SENT)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_digest: Mapped[str | None] = mapped_column(sa.String(64))
    session_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the command announced C_SetPIN: from then on the token may have the new SO PIN.
    so_pin_setting_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    token = relationship("Token")
    holder = relationship("Holder")
    requested_by = relationship("User")


class UnblockThrottle(db.Model):
    """Requests per hour for one key (a client address, an e-mail, a serial), counted
    whether or not the request matched anything, so a refusal reveals nothing
    (OWASP ASVS 2.2.1 anti-automation). ``key`` is a SHA-256 digest: no e-mail
    address typed by a stranger is kept."""
    __tablename__ = "token_unblock_throttle"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(default=0)
