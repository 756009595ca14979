"""What the RU records about certificates (DESIGN §3.3 step 6), and the embedded
State CA's own ledger.

``certificate_request`` and ``certificate`` are the RU's records, kept whatever CA
issues. ``embedded_ca_authority`` and ``embedded_ca_issued`` belong to the embedded
CA only: its (encrypted) keys, its issued serials and its revocations, from which
it builds CRLs.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ra.ca.states import CertificateStatus, RequestStatus
from ra.db import UTCDateTime, enum_column, utcnow
from ra.extensions import db


class CertificateRequest(db.Model):
    """A checked CSR, recorded before it is sent (a row before an action, DESIGN §4).
    ``request_id`` is the idempotency key: one request id, at most one certificate."""
    __tablename__ = "certificate_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    connector: Mapped[str] = mapped_column(sa.String(40))
    profile: Mapped[str] = mapped_column(sa.String(40))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate_order.id"), index=True)
    holder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    csr_pem: Mapped[str] = mapped_column(sa.Text)
    key_type: Mapped[str] = mapped_column(sa.String(20))
    public_key_sha256: Mapped[str] = mapped_column(sa.String(64))
    # The subject the RU decided (RFC 4514), not the one in the CSR.
    subject: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus), default=RequestStatus.PENDING,
                                                  index=True)
    # The CA's handle for an accepted request (django-ca: the order slug).
    ca_reference: Mapped[str | None] = mapped_column(sa.String(100))
    # Attempts are counted and committed before each call to the CA, so a later
    # attempt knows an earlier one may have reached the CA.
    attempts: Mapped[int] = mapped_column(default=1)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    previous_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_by_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    certificate = relationship("Certificate", back_populates="request", uselist=False)


class Certificate(db.Model):
    """An issued certificate as the RU keeps it. The serial is unique per issuing
    CA key (RFC 5280 §4.1.2.2), and issuing CAs change generation, so the issuer's
    key identifier is kept with it."""
    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_pk: Mapped[int] = mapped_column(sa.ForeignKey("certificate_request.id"), unique=True)
    serial: Mapped[str] = mapped_column(sa.String(42), index=True)  # upper-case hex
    issuer_key_id: Mapped[str] = mapped_column(sa.String(64))
    ca_name: Mapped[str] = mapped_column(sa.String(100))
    issuer: Mapped[str] = mapped_column(sa.Text)
    subject: Mapped[str] = mapped_column(sa.Text)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pem: Mapped[str] = mapped_column(sa.Text)
    profile: Mapped[str] = mapped_column(sa.String(40))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificate_order.id"), index=True)
    holder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("holder.id"), index=True)
    # The e-token that holds the certificate's key (set at the handover, step 7);
    # a token event (lost, found, returned) acts on the certificates it holds.
    token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("token.id"), index=True)
    public_key_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[CertificateStatus] = mapped_column(enum_column(CertificateStatus),
                                                      default=CertificateStatus.VALID, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(sa.String(32))
    invalidity_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    request = relationship("CertificateRequest", back_populates="certificate")

    __table_args__ = (sa.UniqueConstraint("issuer_key_id", "serial", name="uq_certificate_issuer_key_id"),)


class EmbeddedAuthority(db.Model):
    """A CA of the embedded State CA (root or issuing, one row per generation).
    The private key is stored only encrypted (AES-256-GCM, ``ra.ca.keys``)."""
    __tablename__ = "embedded_ca_authority"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("embedded_ca_authority.id"))
    is_root: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    subject: Mapped[str] = mapped_column(sa.Text)
    key_id: Mapped[str] = mapped_column(sa.String(64), unique=True)  # subjectKeyIdentifier, hex
    key_algorithm: Mapped[str] = mapped_column(sa.String(20))
    certificate_pem: Mapped[str] = mapped_column(sa.Text)
    encrypted_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(sa.String(32))
    crl_number: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    crl_der: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    crl_this_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crl_next_update: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crl_stale: Mapped[bool] = mapped_column(default=True)
    # The delegated OCSP responder (RFC 6960 §4.2.2.2) of this CA, its key sealed
    # like the CA's own (``ra.ca.keys``); issued by ``ra.revocation.responder``.
    ocsp_certificate_pem: Mapped[str | None] = mapped_column(sa.Text)
    ocsp_encrypted_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmbeddedIssued(db.Model):
    """The embedded CA's ledger: every certificate it signed, by request id, and
    its revocation or hold (RFC 5280 §5.3)."""
    __tablename__ = "embedded_ca_issued"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("embedded_ca_authority.id"))
    serial: Mapped[str] = mapped_column(sa.String(42), index=True)
    request_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    public_key_sha256: Mapped[str] = mapped_column(sa.String(64))
    certificate_der: Mapped[bytes] = mapped_column(sa.LargeBinary)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    invalidity_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The revokedCertificates entry (RFC 5280 §5.1.2.6), DER, encoded once when it
    # is revoked or held and cleared on release: a CRL is these pieces joined
    # (``ra.revocation.crl_der``).
    crl_entry: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("authority_id", "serial", name="uq_embedded_ca_issued_authority_id"),
        sa.Index("ix_embedded_ca_issued_revoked", "authority_id", "revoked_at"),
        # Covers the CRL's one query: the cached entries of the revoked rows only.
        sa.Index("ix_embedded_ca_issued_crl_entry", "authority_id", "crl_entry",
                 sqlite_where=sa.text("crl_entry IS NOT NULL"), postgresql_where=sa.text("crl_entry IS NOT NULL")),
    )
