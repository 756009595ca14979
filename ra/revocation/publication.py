"""What the RU publishes about revocations (DESIGN §3.4).

- CRLs (RFC 5280 §5, v2, reason codes and invalidity dates): the embedded CA
  builds them from the DER entries it cached per revocation
  (``ra.revocation.crl_der``). ``publish`` makes a new one — with the next CRL
  number, nextUpdate 24 hours ahead — after every revocation, hold or release,
  and for cron (``flask --app ra crl publish``). A remote CA publishes its own;
  the worker notes when a change shows in it (``observe``).
- The published lists: the CRL split as the State CA publishes it, revoked
  certificates and, separately, suspended ones (certificateHold).
- OCSP (RFC 6960) for the embedded CA: the status comes from the same ledger
  rows the CRL entries are cut from, in the same transaction, so the two agree
  for every serial.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography import x509

from ra.ca.csr import serial_hex
from ra.ca.models import EmbeddedAuthority, EmbeddedIssued
from ra.revocation.ocsp import SerialStatus, respond
from ra.revocation.states import Reason

HOLD = Reason.CERTIFICATE_HOLD.value


@dataclass(frozen=True)
class Published:
    name: str
    number: int
    this_update: datetime
    next_update: datetime


def authority_name(ca_name: str | None) -> str | None:
    """``embedded:issuing-g1`` → ``issuing-g1`` (the CA that signed a certificate)."""
    if not ca_name or ":" not in ca_name:
        return None
    return ca_name.split(":", 1)[1]


def _row(session, name: str | None) -> EmbeddedAuthority | None:
    stmt = sa.select(EmbeddedAuthority)
    if name is None:
        stmt = stmt.where(EmbeddedAuthority.is_root.is_(False), EmbeddedAuthority.active.is_(True)).order_by(
            EmbeddedAuthority.id.desc()).limit(1)
    else:
        stmt = stmt.where(EmbeddedAuthority.name == name)
    return session.execute(stmt).scalar_one_or_none()


def publish(session, ports, name: str | None = None, *, force: bool = False) -> Published | None:
    """The embedded CA's current CRL for ``name`` (default: the issuing CA), made
    anew when a change made it stale, when half its validity has passed, or when
    ``force``d. None for a remote CA, which publishes its own."""
    if not getattr(ports.ca, "local", False):
        return None
    if force:
        ports.ca.chain()  # creates the CA on first use
        target = _row(session, name)
        if target is not None:
            session.execute(sa.update(EmbeddedAuthority).where(EmbeddedAuthority.id == target.id)
                            .values(crl_stale=True))
    ports.ca.crl(name)
    row = _row(session, name)  # the same object crl() updated
    return Published(row.name, row.crl_number, row.crl_this_update, row.crl_next_update)


def publish_all(session, ports) -> list[Published]:
    """Every embedded CA's CRL, newly numbered (the cron job)."""
    if not getattr(ports.ca, "local", False):
        return []
    ports.ca.chain()
    names = session.execute(sa.select(EmbeddedAuthority.name).order_by(EmbeddedAuthority.is_root,
                                                                       EmbeddedAuthority.id)).scalars().all()
    return [publish(session, ports, n, force=True) for n in names]


def observe(session, ports, requests) -> int:
    """A remote CA publishes on its own schedule: a completed request counts as
    published from the first CRL of the CA that shows it (lists the serial with
    the reason; for a release, no longer lists it). Returns how many were seen."""
    if not requests:
        return 0
    crl = ports.ca.crl()
    number = _crl_number(crl)
    seen = 0
    for req in requests:
        entry = crl.get_revoked_certificate_by_serial_number(int(req.serial, 16))
        shown = entry is None if req.reason == Reason.REMOVE_FROM_CRL else (
            entry is not None and entry_reason(entry) == req.reason.value)
        if shown:
            req.published_at, req.crl_number = crl.last_update_utc, number
            seen += 1
    return seen


def _crl_number(crl) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def entry_reason(entry) -> str:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        return "unspecified"


def entry_invalidity(entry) -> datetime | None:
    try:
        return entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
    except x509.ExtensionNotFound:
        return None


# -- the human-readable lists ------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    serial: str
    revoked_at: datetime
    reason: str
    invalidity_date: datetime | None


@dataclass(frozen=True)
class Lists:
    name: str
    issuer: str
    number: int | None
    this_update: datetime
    next_update: datetime | None
    revoked: tuple[Entry, ...]
    suspended: tuple[Entry, ...]


_lists_cache: dict[tuple[str, bytes], Lists] = {}
_cache_lock = threading.Lock()


def lists_of(name: str, crl: x509.CertificateRevocationList) -> Lists:
    """A CRL split into the revocation list and the suspension list, newest first;
    kept per CRL (its signature identifies it), so a page view reads it once."""
    key = (name, crl.signature)
    cached = _lists_cache.get(key)
    if cached is not None:
        return cached
    revoked, held = [], []
    for e in crl:
        entry = Entry(serial_hex(e.serial_number), e.revocation_date_utc, entry_reason(e), entry_invalidity(e))
        (held if entry.reason == HOLD else revoked).append(entry)
    revoked.sort(key=lambda e: e.revoked_at, reverse=True)
    held.sort(key=lambda e: e.revoked_at, reverse=True)
    lists = Lists(name, crl.issuer.rfc4514_string(), _crl_number(crl), crl.last_update_utc, crl.next_update_utc,
                  tuple(revoked), tuple(held))
    with _cache_lock:
        if len(_lists_cache) > 16:
            _lists_cache.clear()
        _lists_cache[key] = lists
    return lists


# -- OCSP ---------------------------------------------------------------------------------------

def ledger_status(session, authority_id: int, serial: int) -> SerialStatus:
    """good / revoked (with reason; a hold is revoked with certificateHold,
    RFC 6960 §2.2) / unknown, from the CA's ledger."""
    row = session.execute(sa.select(EmbeddedIssued.revoked_at, EmbeddedIssued.reason).where(
        EmbeddedIssued.authority_id == authority_id, EmbeddedIssued.serial == serial_hex(serial))).first()
    if row is None:
        return SerialStatus("unknown")
    if row.revoked_at is None:
        return SerialStatus("good")
    return SerialStatus("revoked", row.revoked_at, row.reason)


def answer_ocsp(session, ports, request_der: bytes) -> bytes:
    """One OCSP response (DER) from the embedded CA's delegated responder."""
    loaded = ports.ca.ocsp_responder()
    return respond(request_der, loaded.responder,
                   lambda serial: ledger_status(session, loaded.authority_id, serial), ports.clock.now())
