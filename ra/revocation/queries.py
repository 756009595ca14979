"""Reads for the revocation pages, the API, the worker and the reports (STYLE rule
3). A registrar's reads go through the organisation scope (``scope_organisations``):
another organisation's certificates and requests simply do not exist (404).

The processing clock (ETSI EN 319 411-1 REV: revocation requests processed within
24 hours of receipt): a request still open 12 hours after receipt is overdue on
the officer's queue, and one open (or closed) later than 24 hours after receipt
has breached the deadline.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ra.auth.policy import scope_organisations
from ra.auth.roles import Role
from ra.ca.csr import serial_hex
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.enrollment.holder_models import Holder
from ra.errors import NotFound
from ra.revocation.errors import MalformedSerial
from ra.revocation.models import LostTokenReport, RevocationRequest
from ra.revocation.states import CLOSED, OPEN, LostReportStatus, Reason, RevocationStatus
from ra.tokens.models import Token

OVERDUE_AFTER = timedelta(hours=12)
DEADLINE = timedelta(hours=24)
PER_PAGE = 50
_SERIAL = re.compile(r"^[0-9A-Fa-f]{1,40}$")


def parse_serial(text) -> str:
    """A serial as typed or scanned (any case, colons or spaces allowed) in the
    form the RU records it; ``MalformedSerial`` otherwise. RFC 5280 §4.1.2.2:
    at most 20 octets."""
    raw = re.sub(r"[\s:]", "", str(text or ""))
    if not _SERIAL.match(raw):
        raise MalformedSerial(field="certificate_serial")
    return serial_hex(int(raw, 16))


def _id(value) -> int:
    if not str(value).isdigit():
        raise NotFound()
    return int(value)


def _scoped(actor, stmt, org_column):
    return scope_organisations(actor, stmt, org_column)


def certificate_for(session, actor, serial) -> Certificate:
    """The newest certificate the RU recorded with this serial, if ``actor`` may see
    it: RU staff see all; a registrar only their organisation's holders'."""
    normal = parse_serial(serial)
    stmt = (sa.select(Certificate).outerjoin(Holder, Holder.id == Certificate.holder_id)
            .where(Certificate.serial == normal).order_by(Certificate.id.desc()).limit(1))
    cert = session.execute(_scoped(actor, stmt, Holder.organisation_id)).scalar_one_or_none()
    if cert is None:
        raise NotFound()
    return cert


def organisation_of(session, cert: Certificate) -> int | None:
    if cert.holder_id is None:
        return None
    return session.execute(sa.select(Holder.organisation_id).where(Holder.id == cert.holder_id)).scalar()


def get_request(session, actor, request_id) -> RevocationRequest:
    stmt = sa.select(RevocationRequest).where(RevocationRequest.id == _id(request_id))
    req = session.execute(_scoped(actor, stmt, RevocationRequest.organisation_id)).scalar_one_or_none()
    if req is None:
        raise NotFound()
    return req


def list_requests(session, actor, *, status: RevocationStatus | None = None, open_only: bool = False,
                  page: int = 1, per_page: int = PER_PAGE) -> tuple[list[RevocationRequest], int]:
    stmt = sa.select(RevocationRequest)
    if status is not None:
        stmt = stmt.where(RevocationRequest.status == status)
    elif open_only:
        stmt = stmt.where(RevocationRequest.status.in_(OPEN))
    stmt = _scoped(actor, stmt, RevocationRequest.organisation_id)
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.options(selectinload(RevocationRequest.holder))
                           .order_by(RevocationRequest.received_at, RevocationRequest.id)
                           .limit(per_page).offset((max(page, 1) - 1) * per_page)).scalars().all()
    return list(rows), total


def open_requests_for(session, certificate_id: int, reasons=None) -> list[RevocationRequest]:
    stmt = sa.select(RevocationRequest).where(RevocationRequest.certificate_id == certificate_id,
                                              RevocationRequest.status.in_(OPEN))
    if reasons is not None:
        stmt = stmt.where(RevocationRequest.reason.in_(tuple(reasons)))
    return list(session.execute(stmt.order_by(RevocationRequest.id)).scalars())


def open_revocation_for(session, certificate_id: int) -> RevocationRequest | None:
    found = open_requests_for(session, certificate_id, [r for r in Reason if r.is_revocation])
    return found[0] if found else None


def siblings(session, req: RevocationRequest, statuses) -> list[RevocationRequest]:
    """The requests the same lost-token report made (one per certificate on the
    token), in the given states; just ``req`` for any other request."""
    if req.lost_report_id is None:
        return [req] if req.status in statuses else []
    return list(session.execute(sa.select(RevocationRequest).where(
        RevocationRequest.lost_report_id == req.lost_report_id, RevocationRequest.reason == req.reason,
        RevocationRequest.status.in_(tuple(statuses))).order_by(RevocationRequest.id)).scalars())


def certificates_on_token(session, token_id: int, statuses) -> list[Certificate]:
    return list(session.execute(sa.select(Certificate).where(
        Certificate.token_id == token_id, Certificate.status.in_(tuple(statuses))).order_by(Certificate.id)).scalars())


def holder_of_token(session, token: Token) -> Holder | None:
    """The holder the token was handed to: the holder of the newest certificate
    recorded on it (``Certificate.token_id``, DESIGN §3.3 step 7)."""
    return session.execute(
        sa.select(Holder).join(Certificate, Certificate.holder_id == Holder.id).where(Certificate.token_id == token.id)
        .order_by(Certificate.id.desc()).limit(1)).scalar_one_or_none()


def reportable_tokens_of_person(session, register_number: str, statuses) -> list[tuple[Token, Holder]]:
    """The tokens in ``statuses`` now held by the person with this register number,
    each with the holder record it was handed to (the person may hold in several
    organisations), oldest first. A token's holder is its newest certificate's."""
    if not register_number:
        return []
    candidates = session.execute(
        sa.select(Token).join(Certificate, Certificate.token_id == Token.id)
        .join(Holder, Holder.id == Certificate.holder_id)
        .where(Holder.register_number == register_number, Token.status.in_(tuple(statuses)))
        .distinct().order_by(Token.id)).scalars().all()
    found = []
    for token in candidates:
        holder = holder_of_token(session, token)
        if holder is not None and holder.register_number == register_number:
            found.append((token, holder))
    return found


def token_by_serial(session, serial: str) -> Token | None:
    serial = (serial or "").strip()
    if not serial:
        return None
    return session.execute(sa.select(Token).where(sa.func.lower(Token.serial) == serial.lower())).scalar_one_or_none()


def approved_awaiting_ca(session, limit: int = 500) -> list[int]:
    return list(session.execute(sa.select(RevocationRequest.id).where(
        RevocationRequest.status == RevocationStatus.APPROVED).order_by(RevocationRequest.id).limit(limit)).scalars())


def unpublished(session, limit: int = 500) -> list[RevocationRequest]:
    """Completed at a remote CA and not yet seen in its CRL."""
    return list(session.execute(sa.select(RevocationRequest).where(
        RevocationRequest.status == RevocationStatus.COMPLETED, RevocationRequest.published_at.is_(None))
        .order_by(RevocationRequest.id).limit(limit)).scalars())


# -- lost-token reports ----------------------------------------------------------------------

def report_by_code_digest(session, digest: str) -> LostTokenReport | None:
    return session.execute(sa.select(LostTokenReport).where(LostTokenReport.code_digest == digest)
                           ).scalar_one_or_none()


def report_by_reference(session, reference: str) -> LostTokenReport | None:
    reference = str(reference or "")
    if not reference or len(reference) > 32:
        return None
    return session.execute(sa.select(LostTokenReport).where(LostTokenReport.reference == reference)
                           ).scalar_one_or_none()


def open_report(session, token: Token, now: datetime) -> LostTokenReport | None:
    return session.execute(sa.select(LostTokenReport).where(
        LostTokenReport.token_id == token.id, LostTokenReport.status == LostReportStatus.CODE_SENT,
        LostTokenReport.expires_at > now).order_by(LostTokenReport.id.desc()).limit(1)).scalar_one_or_none()


def codes_sent_since(session, token: Token, since: datetime) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(LostTokenReport).where(
        LostTokenReport.token_id == token.id, LostTokenReport.code_digest.is_not(None),
        LostTokenReport.created_at >= since)).scalar_one()


def expired_reports(session, now: datetime) -> list[LostTokenReport]:
    return list(session.execute(sa.select(LostTokenReport).where(
        LostTokenReport.status == LostReportStatus.CODE_SENT, LostTokenReport.expires_at <= now)).scalars())


def recent_reports(session, actor, *, since: datetime, limit: int = 100) -> list[LostTokenReport]:
    stmt = (sa.select(LostTokenReport).join(Holder, Holder.id == LostTokenReport.holder_id)
            .where(LostTokenReport.last_report_at >= since).order_by(LostTokenReport.id.desc()).limit(limit))
    return list(session.execute(_scoped(actor, stmt, Holder.organisation_id)).scalars())


# -- the processing clock ----------------------------------------------------------------------

@dataclass(frozen=True)
class Clock:
    """Where a request stands against the 24-hour deadline."""
    age: timedelta
    overdue: bool     # open, and received more than 12 hours ago
    breached: bool    # processed (or still open) more than 24 hours after receipt

    @property
    def hours(self) -> float:
        return round(self.age.total_seconds() / 3600, 1)


def clock_of(req: RevocationRequest, now: datetime) -> Clock:
    end = req.closed_at if req.status in CLOSED and req.closed_at else now
    age = end - req.received_at
    still_open = req.status in OPEN
    return Clock(age, still_open and age > OVERDUE_AFTER, age > DEADLINE)


def overdue(session, now: datetime) -> list[RevocationRequest]:
    """Open requests received more than 12 hours ago, oldest first."""
    return list(session.execute(sa.select(RevocationRequest).where(
        RevocationRequest.status.in_(OPEN), RevocationRequest.received_at < now - OVERDUE_AFTER)
        .order_by(RevocationRequest.received_at)).scalars())


def processing_times(session, since: datetime) -> list[dict]:
    """Receipt → publication per completed request (for the reports, DESIGN §3.5)."""
    rows = session.execute(sa.select(RevocationRequest.number, RevocationRequest.reason, RevocationRequest.channel,
                                     RevocationRequest.received_at, RevocationRequest.published_at)
                           .where(RevocationRequest.status == RevocationStatus.COMPLETED,
                                  RevocationRequest.received_at >= since)
                           .order_by(RevocationRequest.received_at)).all()
    return [{"number": r.number, "reason": r.reason.value, "channel": r.channel.value,
             "received_at": r.received_at, "published_at": r.published_at,
             "seconds": (r.published_at - r.received_at).total_seconds() if r.published_at else None} for r in rows]


def registrar_locale(session, organisation_id: int) -> str:
    from ra.auth.models import User

    locale = session.execute(sa.select(User.locale).where(User.organisation_id == organisation_id,
                                                          User.role == Role.ORG_REGISTRAR)
                             .order_by(User.id).limit(1)).scalar()
    return locale or "mn"


def held_or_valid(cert: Certificate) -> bool:
    return cert.status in (CertificateStatus.VALID, CertificateStatus.SUSPENDED)
