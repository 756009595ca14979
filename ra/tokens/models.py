"""Token stock: batches received from the vendor and the tokens in them (DESIGN §3.3).

SO PINs are kept only as AES-GCM escrow blobs (``ra.tokens.escrow``); a user PIN
is never kept at all.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db
from ra.tokens.states import TokenStatus


class TokenBatch(db.Model):
    """One delivery from a supplier. Tokens arrive initialised with the model's
    factory SO PIN, recorded here encrypted; ``None`` means the RU does not know it
    and cannot initialise these tokens."""
    __tablename__ = "token_batch"
    __audit_type__ = "token_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random; binds the escrow blob to this batch (AES-GCM associated data).
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True)
    model: Mapped[str] = mapped_column(sa.String(100), index=True)
    supplier: Mapped[str] = mapped_column(sa.String(200))
    received_on: Mapped[date] = mapped_column(sa.Date)
    factory_so_pin: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    received_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    received_by = relationship("User")
    tokens = relationship("Token", back_populates="batch", order_by="Token.serial")

    @property
    def knows_factory_so_pin(self) -> bool:
        return self.factory_so_pin is not None


class Token(db.Model):
    """One e-token, known by the serial number its PKCS#11 module reports
    (CK_TOKEN_INFO.serialNumber)."""
    __tablename__ = "token"
    __audit_type__ = "token"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(sa.String(32), unique=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("token_batch.id"), index=True)
    status: Mapped[TokenStatus] = mapped_column(enum_column(TokenStatus), index=True, default=TokenStatus.IN_STOCK)
    # The label the RU wrote with C_InitToken (holder's name at the handover).
    label: Mapped[str] = mapped_column(sa.String(32), default="")
    # Escrow of the SO PIN the RU set; None while the token still has the batch's
    # factory SO PIN. ``so_pin_pending`` holds a new SO PIN during a rotation,
    # until the token has confirmed it: an interrupted rotation loses nothing.
    so_pin: Mapped[str | None] = mapped_column(sa.Text)
    so_pin_pending: Mapped[str | None] = mapped_column(sa.Text)
    initialised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    batch = relationship("TokenBatch", back_populates="tokens")

    @property
    def model(self) -> str:
        return self.batch.model

    @property
    def so_pin_known(self) -> bool:
        return self.so_pin is not None or self.batch.factory_so_pin is not None

    def __repr__(self):
        return f"<Token {self.serial} {self.status.value}>"


# Serials are matched case-insensitively (typed, scanned, or read from the module).
sa.Index("ix_token_serial_lower", sa.func.lower(Token.serial), unique=True)
