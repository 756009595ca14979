"""Revocation requests, their approvals, the holders' lost-token reports and the
throttle of the public report form (DESIGN §3.4).

Nothing secret is kept in clear: a lost-token report's one-time code only as its
SHA-256 digest (the code has 80 random bits), and the throttle's keys are
digests, so no address typed by a stranger is stored.

The processing clock (ETSI EN 319 411-1, revocation within 24 hours) reads
``received_at``, ``closed_at`` and ``published_at`` of each request.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db
from ra.revocation.states import Channel, Decision, LostReportStatus, Reason, RevocationStatus


class RevocationRequest(db.Model):
    """One request about one certificate: revoke with a reason, hold, or release."""
    __tablename__ = "revocation_request"
    __audit_type__ = "revocation_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)           # ЦХ-2026/00001
    certificate_id: Mapped[int] = mapped_column(sa.ForeignKey("certificate.id"), index=True)
    serial: Mapped[str] = mapped_column(sa.String(42), index=True)
    # The holder's organisation when the request was made: the registrar's scope.
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisation.id"), index=True)
    holder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("token.id"), index=True)
    reason: Mapped[Reason] = mapped_column(enum_column(Reason), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    status: Mapped[RevocationStatus] = mapped_column(enum_column(RevocationStatus), index=True)
    invalidity_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    requested_by: Mapped[str] = mapped_column(sa.String(254))  # who asked, as the audit log names them
    # The officer who confirmed a lost-token report (their confirmation is their request).
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    lost_report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lost_token_report.id"), index=True)
    position_change_id: Mapped[int | None] = mapped_column(sa.ForeignKey("position_change.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # the CA did it
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)      # completed, rejected or cancelled
    # The first CRL that shows the outcome (lists the serial; no longer lists a released one).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crl_number: Mapped[int | None] = mapped_column(sa.BigInteger)
    # CA calls: counted before each, the last failure kept for the officer.
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    outcome: Mapped[str] = mapped_column(sa.String(500), default="")  # why it was rejected or cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    certificate = relationship("Certificate")
    holder = relationship("Holder")
    organisation = relationship("Organisation")
    token = relationship("Token")
    requester = relationship("User", foreign_keys=[requested_by_id])
    confirmer = relationship("User", foreign_keys=[confirmed_by_id])
    lost_report = relationship("LostTokenReport", back_populates="requests")
    approvals = relationship("RevocationApproval", back_populates="request", order_by="RevocationApproval.id")


class RevocationApproval(db.Model):
    """One RU officer's or manager's decision on a request (dual control)."""
    __tablename__ = "revocation_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("revocation_request.id"), index=True)
    approver_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    decision: Mapped[Decision] = mapped_column(enum_column(Decision))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    request = relationship(RevocationRequest, back_populates="approvals")
    approver = relationship("User")

    __table_args__ = (sa.UniqueConstraint("request_id", "approver_id", name="uq_revocation_approval_request_id"),)


class LostTokenReport(db.Model):
    """A holder's report, from the registered e-mail, that their token is lost.
    ``reference`` is the public handle the report page and the API use; the code
    proves the report. Repeated reports while a code is open count here instead
    of sending another e-mail."""
    __tablename__ = "lost_token_report"
    __audit_type__ = "lost_token_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True)
    token_id: Mapped[int] = mapped_column(sa.ForeignKey("token.id"), index=True)
    holder_id: Mapped[int] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254))  # the registered address the code went to
    code_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[LostReportStatus] = mapped_column(enum_column(LostReportStatus), index=True)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    reports: Mapped[int] = mapped_column(default=1)  # how many times it was asked for while open
    client: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_report_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certainly_lost: Mapped[bool] = mapped_column(default=False)

    token = relationship("Token")
    holder = relationship("Holder")
    requests = relationship(RevocationRequest, back_populates="lost_report", order_by=RevocationRequest.id)


class RevocationThrottle(db.Model):
    """Public lost-token reports per client address in a fixed window (OWASP ASVS
    2.2.1 anti-automation); ``key`` is a SHA-256 digest."""
    __tablename__ = "revocation_throttle"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(default=0)
