"""One request, one valid certificate, even when a remote CA signed twice.

A CA without an idempotency key (django-ca) can sign a request twice: the RU's
first POST times out, the RU finds no certificate for the key when it looks
again, posts a second time, and the first POST is still signed afterwards (the
CA was slower than any grace period, or the answer was held in the network).
No timeout can be long enough to rule that out, so the RU does not rely on one:
it notices the extra certificate when it appears — at the next attempt, or in
``flask --app ra ca reconcile`` from cron — and revokes it as ``superseded``
(RFC 5280 §5.3.1), with an audit record naming both serials.

Only requests attempted more than once can have a twin: a single attempt posts
at most once. A CA whose ledger lives in this database (``CAConnector.local``)
signs in the RU's own transaction and never has one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography import x509

from ra import audit
from ra.ca.csr import serial_hex
from ra.ca.models import Certificate, CertificateRequest
from ra.ca.states import RequestStatus

log = logging.getLogger("ra.ca.reconcile")

DUPLICATE_REVOKED = "certificate.duplicate_revoked"


@dataclass
class Revoked:
    request_id: str
    kept: str
    serial: str


def revoke_duplicates(session, actor, req: CertificateRequest, *, ports) -> list[Revoked]:
    """Revokes, as superseded, every unrevoked certificate the CA holds for the
    request's key other than the one the RU recorded for it. A certificate the RU
    recorded for any request is never touched. The caller commits; the CA is
    asked before the audit record is written, so a CA that cannot be reached
    leaves nothing recorded and the next run tries again."""
    cert = req.certificate
    if req.status != RequestStatus.ISSUED or cert is None or ports.ca.local:
        return []
    public_key = x509.load_pem_x509_csr(req.csr_pem.encode("ascii")).public_key()
    done = []
    for other in ports.ca.certificates_for_key(public_key):
        serial = serial_hex(other.serial_number)
        if serial == cert.serial or _known(session, serial):
            continue
        ports.ca.revoke(serial, x509.ReasonFlags.superseded)
        audit.record(session, actor, DUPLICATE_REVOKED, req, {
            "request_id": req.request_id, "order_id": req.order_id, "kept": cert.serial, "revoked": serial,
            "reason": x509.ReasonFlags.superseded.value, "ca": ports.ca.name})
        log.warning("request %s: the CA signed it twice; %s revoked as superseded, %s kept",
                    req.request_id, serial, cert.serial)
        done.append(Revoked(req.request_id, cert.serial, serial))
    return done


def _known(session, serial: str) -> bool:
    return session.scalar(sa.select(sa.literal(True)).where(Certificate.serial == serial).limit(1)) is not None


def candidates(session, *, since: datetime) -> list[str]:
    """Request ids that may have a twin at the CA: issued since ``since`` after
    more than one attempt."""
    stmt = (sa.select(CertificateRequest.request_id)
            .where(CertificateRequest.status == RequestStatus.ISSUED, CertificateRequest.attempts > 1,
                   CertificateRequest.completed_at >= since)
            .order_by(CertificateRequest.id))
    return list(session.scalars(stmt))


def window_start(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)
