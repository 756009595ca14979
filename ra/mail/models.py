from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db


class MailStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"


class OutgoingMail(db.Model):
    """Mail is a row before it is an action (DESIGN §4): written in the same
    transaction as the change it reports, sent after commit, and retried by
    ``flask --app ra mail send`` if the server was down."""
    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    # JSON list of {"filename", "content_type", "stored_name"}; files live in the file store.
    attachments: Mapped[str] = mapped_column(sa.Text, default="[]")
    status: Mapped[MailStatus] = mapped_column(enum_column(MailStatus), default=MailStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
