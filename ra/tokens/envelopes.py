"""Sealed PIN envelopes between the run that made them and the officer's print.

The PDF carries the holder's new PIN, so it is never kept in clear (DESIGN §4: no
secret in the database or the logs). Yet the officer's next request may reach
another worker or node (DESIGN §5: gunicorn, several workers, several nodes), so
it cannot wait in one process's memory either. It waits in the database,
AES-256-GCM-encrypted under a key drawn for it, and the key goes to the officer's
browser in the session cookie, never in a URL (a URL lands in access logs). The
database holds only the key's SHA-256 to find the row. One print takes it;
ten minutes after the run it is gone anyway (a PIN nobody printed is then reset
as a forgotten one, through the PIN unblock).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ra.tokens.handover_models import PinEnvelope

KEEP = timedelta(minutes=10)


def _lookup(key: bytes) -> str:
    return hashlib.sha256(b"ra/pin-envelope/" + key).hexdigest()


def _aad(handover_id: int) -> bytes:
    return f"ra/pin-envelope/handover/{handover_id}".encode()


def _key(ticket: str | None) -> bytes | None:
    try:
        key = base64.urlsafe_b64decode((ticket or "").encode() + b"==")
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == 32 else None


def seal(session, handover_id: int, pdf: bytes, now: datetime) -> str:
    """Keeps ``pdf`` for one print; returns the ticket (the key, base64url) that
    the caller gives the officer's session and nothing else. Envelopes past
    their time are deleted on the way."""
    session.execute(sa.delete(PinEnvelope).where(PinEnvelope.expires_at < now))
    key = secrets.token_bytes(32)
    iv = os.urandom(12)
    sealed = iv + AESGCM(key).encrypt(iv, pdf, _aad(handover_id))
    session.add(PinEnvelope(lookup=_lookup(key), handover_id=handover_id, sealed=sealed, expires_at=now + KEEP))
    session.flush()
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def waiting(session, handover_id: int, ticket: str | None, now: datetime) -> bool:
    """Whether the envelope of ``ticket`` for this handover can still be printed."""
    key = _key(ticket)
    return key is not None and session.execute(sa.select(PinEnvelope.id).where(
        PinEnvelope.lookup == _lookup(key), PinEnvelope.handover_id == handover_id,
        PinEnvelope.expires_at >= now)).first() is not None


def take(session, handover_id: int, ticket: str | None, now: datetime) -> bytes | None:
    """The PDF, once: the row is deleted in the caller's transaction. None when
    there is no such envelope for this handover (printed, expired, or another
    handover's ticket)."""
    key = _key(ticket)
    if key is None:
        return None
    row = session.execute(sa.delete(PinEnvelope).where(
        PinEnvelope.lookup == _lookup(key), PinEnvelope.handover_id == handover_id)
        .returning(PinEnvelope.sealed, PinEnvelope.expires_at)).first()
    if row is None or row.expires_at < now:
        return None
    try:
        return AESGCM(key).decrypt(row.sealed[:12], row.sealed[12:], _aad(handover_id))
    except InvalidTag:
        return None
