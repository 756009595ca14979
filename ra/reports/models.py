"""What the reports keep in the database: no copy of any count, except the one
rollup the performance bar needs — tokens per state, kept by triggers in the same
transaction as the token change (``token_state_count``) — and the indexes the
report queries need on other domains' tables. The migration ``0009_reports``
creates both; they are declared here so the schema and the metadata agree. The
query plans are in bench/RESULTS.md ("## reports")."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ra.audit.models import AuditRecord
from ra.ca.models import Certificate
from ra.enrollment.holder_models import Appointment, CertificateOrder, Holder
from ra.revocation.models import RevocationApproval, RevocationRequest
from ra.tokens.handover_models import Handover
from ra.extensions import db
from ra.tokens.models import Token


class TokenStateCount(db.Model):
    """Tokens per state, maintained by database triggers on ``token`` (insert, update
    of the state, delete) in the writer's own transaction: counting a million
    tokens per dashboard view is the one aggregate an index cannot make cheap.
    Only a state change writes here, so other token updates take no lock on it."""
    __tablename__ = "token_state_count"

    status: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    tokens: Mapped[int] = mapped_column(sa.BigInteger, default=0)

_REVOKED = sa.text("status = 'revoked'")
_VALID = sa.text("status = 'valid'")
_COMPLETED = sa.text("step = 'completed'")
_LIVE = sa.text("status IN ('valid', 'suspended')")

INDEXES = (
    # Issuance by period: an index-only range scan yields holder and profile too.
    sa.Index("ix_certificate_created_at", Certificate.created_at,
             postgresql_include=["holder_id", "profile"]),
    # Revocations by period and reason.
    sa.Index("ix_certificate_revoked_at", Certificate.revoked_at, postgresql_include=["revocation_reason", "holder_id",
                                                                                     "profile"],
             postgresql_where=_REVOKED, sqlite_where=_REVOKED),
    # Expiring in 30/60/90 days: only valid certificates, by end date.
    sa.Index("ix_certificate_valid_not_after", Certificate.not_after, postgresql_include=["holder_id", "profile"],
             postgresql_where=_VALID, sqlite_where=_VALID),
    # "Already renewed": a later valid (or held) certificate of the same holder and profile.
    sa.Index("ix_certificate_renewal", Certificate.holder_id, Certificate.profile, Certificate.not_after,
             postgresql_where=_LIVE, sqlite_where=_LIVE),
    # Certificate → organisation without reading the holder rows (index-only).
    sa.Index("ix_holder_organisation", Holder.id, unique=True, postgresql_include=["organisation_id"]),
    # The officer of an issuance is the officer of its handover.
    sa.Index("ix_handover_certificate_id", Handover.certificate_id),
    # Handovers completed in a period (tokens handed over, per-officer activity).
    sa.Index("ix_handover_completed_at", Handover.completed_at, postgresql_include=["officer_id", "order_id"],
             postgresql_where=_COMPLETED, sqlite_where=_COMPLETED),
    # Audited events of one kind in a period: approvals, unblocks, holds, token moves.
    sa.Index("ix_audit_record_action_at", AuditRecord.action, AuditRecord.at,
             postgresql_include=["actor_id", "object_id"]),
    # Service times: orders approved / issued in a period, with the times they are measured by.
    sa.Index("ix_certificate_order_decided_at", CertificateOrder.decided_at,
             postgresql_include=["submitted_at", "status", "decided_by_id", "organisation_id", "profile"]),
    sa.Index("ix_certificate_order_issued_at", CertificateOrder.issued_at,
             postgresql_include=["decided_at", "submitted_at", "status", "organisation_id", "profile"]),
    # Appointment outcomes of the slots in a period (index-only).
    sa.Index("ix_appointment_slot_outcome", Appointment.slot_id,
             postgresql_include=["status", "cancelled_at", "order_id", "created_at", "id"]),
    # Revocation processing times of the requests received in a period (index-only).
    sa.Index("ix_revocation_request_timing", RevocationRequest.received_at,
             postgresql_include=["published_at", "reason", "status", "organisation_id"]),
    # Revocation decisions per officer in a period.
    sa.Index("ix_revocation_approval_at", RevocationApproval.at),
    # Tokens received into stock in a period.
    sa.Index("ix_token_created_at", Token.created_at),
)
