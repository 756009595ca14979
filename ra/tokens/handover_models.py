"""One counter handover (DESIGN §3.3): which order, which token, how far it got.

What a resumed handover needs is kept here — the key's CKA_ID, the CSR, the
certificate's id — and nothing secret: the user PIN is never stored anywhere,
the SO PIN only as the token's escrow blob (``Token.so_pin``).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db
from ra.tokens.handover_states import FINISHED, HandoverStep, IdDocument, PinSource

_OPEN = sa.text("step NOT IN (%s)" % ", ".join(repr(s.value) for s in FINISHED))


class Handover(db.Model):
    __tablename__ = "handover"
    __audit_type__ = "handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The idempotency key the CA is asked with: one handover, at most one certificate.
    request_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("certificate_order.id"), index=True)
    token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("token.id"), index=True)
    step: Mapped[HandoverStep] = mapped_column(enum_column(HandoverStep), index=True)
    id_document_type: Mapped[IdDocument] = mapped_column(enum_column(IdDocument))
    id_document_number: Mapped[str] = mapped_column(sa.String(40))
    pin_source: Mapped[PinSource | None] = mapped_column(enum_column(PinSource))
    envelopes_printed: Mapped[int] = mapped_column(default=0)
    key_id: Mapped[str | None] = mapped_column(sa.String(64))          # CKA_ID, hex
    key_type: Mapped[str | None] = mapped_column(sa.String(16))
    public_key_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    csr_pem: Mapped[str | None] = mapped_column(sa.Text)
    certificate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate.id"))
    receipt_number: Mapped[str | None] = mapped_column(sa.String(40))
    # The receipt PDF as first printed (``handover_service.receipt_file``), then kept unchanged.
    receipt_file: Mapped[str | None] = mapped_column(sa.String(100))
    # Why it stopped (English, for the record; the page shows it translated by code).
    error_code: Mapped[str | None] = mapped_column(sa.String(60))
    error_message: Mapped[str | None] = mapped_column(sa.String(500))
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(default=0)
    # Who is running it now: "host:pid:nonce" until ``claimed_until``; a second
    # Resume (another tab, another counter) is refused while it is claimed.
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    officer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order = relationship("CertificateOrder")
    token = relationship("Token")
    certificate = relationship("Certificate")
    officer = relationship("User")

    __table_args__ = (
        # At most one unfinished handover per order and per token, enforced by the database.
        sa.Index("uq_handover_open_order", "order_id", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN),
        sa.Index("uq_handover_open_token", "token_id", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN),
    )

    @property
    def finished(self) -> bool:
        return self.step in FINISHED

    @property
    def holder(self):
        return self.order.holder

    @property
    def key_id_bytes(self) -> bytes | None:
        return bytes.fromhex(self.key_id) if self.key_id else None

    def __repr__(self):
        return f"<Handover {self.id} order={self.order_id} {self.step.value}>"


class PinEnvelope(db.Model):
    """A sealed PIN envelope waiting to be printed (``ra.tokens.envelopes``): the
    PDF encrypted under a key that only the officer's session cookie holds, so
    that any worker or node can serve it and neither this table nor a log can
    open it. Deleted when printed, or after ten minutes."""
    __tablename__ = "pin_envelope"

    id: Mapped[int] = mapped_column(primary_key=True)
    lookup: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256 of the key, hex
    handover_id: Mapped[int] = mapped_column(sa.ForeignKey("handover.id"), index=True)
    sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
