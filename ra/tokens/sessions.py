"""User logins kept open for one handover run (``Pkcs11TokenDriver.keeping_logins``).

A handover logs in as the user for three steps in a row (key pair, CSR, certificate),
with a commit between each. Logging in again for each step costs the token a PIN
check and a session each time (a few milliseconds on SoftHSM2, more on a USB token),
and the bare python-pkcs11 sequence the handover is measured against logs in once.
Inside ``keeping_logins`` the first user login on a token stays open and the
following operations on that token with the same PIN use it.

Why this is safe:

* Scoped to one run: the kept sessions live in a ``ContextVar``, so another thread
  or request never sees them, and they are logged out and closed when the block
  ends, however it ends. A crash takes them with the process.
* The PIN is not kept: only an HMAC of it under a key drawn for the block, to tell
  whether the next operation brings the same PIN. A different PIN closes the kept
  session and logs in afresh, so the token still judges every PIN it is given.
* A re-scan of the module (``C_Finalize``/``C_Initialize``) invalidates every session
  handle, and the module may hand the same numbers to new sessions: a kept session
  from before a re-scan is dropped unused (``reinitialised``), never closed.
* A kept session is checked before it is used (``alive``): one that the token no
  longer knows (pulled and put back, or closed by a clean-up on the slot) is
  replaced by a fresh login; a token that is gone still stops the run with
  ``TokenNotPresent``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field

import pkcs11.exceptions as px

# What a session whose handle the token has dropped answers.
_GONE = (px.SessionHandleInvalid, px.SessionClosed, px.DeviceRemoved, px.TokenNotPresent)

_KEPT: ContextVar[KeptLogins | None] = ContextVar("ra_tokens_kept_logins", default=None)
_generation = [0]  # bumped on every re-initialisation of the module by this process


def reinitialised() -> None:
    """Called after ``lib.reinitialize()``: every session handle opened before is void."""
    _generation[0] += 1


@dataclass
class Kept:
    pin_mac: bytes
    slot_id: int
    generation: int
    session: object  # python-pkcs11 Session, read-write, logged in as the user


@dataclass
class KeptLogins:
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    sessions: dict[str, Kept] = field(default_factory=dict)

    def pin_mac(self, pin: str) -> bytes:
        return hmac.new(self.key, pin.encode("utf-8"), hashlib.sha256).digest()

    def usable(self, serial: str, pin: str, slot_id: int):
        """The kept session for this token and PIN, if it is still valid; any other
        kept session for the token is dropped (closed if it is still open)."""
        kept = self.sessions.get(serial)
        if kept is None:
            return None
        if kept.generation == _generation[0] and kept.slot_id == slot_id \
                and hmac.compare_digest(kept.pin_mac, self.pin_mac(pin)):
            return kept.session
        self.close(serial)
        return None

    def keep(self, serial: str, pin: str, slot_id: int, session):
        self.sessions[serial] = Kept(self.pin_mac(pin), slot_id, _generation[0], session)
        return session

    def forget(self, serial: str) -> None:
        """The session's handle is dead (the token closed it): drop it unclosed."""
        self.sessions.pop(serial, None)

    def close(self, serial: str) -> None:
        kept = self.sessions.pop(serial, None)
        if kept is None or kept.generation != _generation[0]:
            return
        try:
            kept.session.close()  # C_Logout, C_CloseSession
        except px.PKCS11Error:
            pass  # already gone with the token: nothing left to close

    def close_all(self) -> None:
        for serial in list(self.sessions):
            self.close(serial)


def alive(session) -> bool:
    """C_GenerateRandom, the cheapest call a session answers whatever its state: a
    dropped handle says so here, before any work is begun on it. Any other refusal
    (a token without a random generator) leaves the answer to the operation itself."""
    try:
        session.generate_random(64)
    except _GONE:
        return False
    except px.PKCS11Error:
        pass
    return True


def current() -> KeptLogins | None:
    return _KEPT.get()


def begin() -> tuple[KeptLogins, object] | None:
    """Starts keeping logins in this context; None when an outer block already does."""
    if _KEPT.get() is not None:
        return None
    kept = KeptLogins()
    return kept, _KEPT.set(kept)


def end(started: tuple[KeptLogins, object] | None) -> None:
    if started is not None:
        kept, reset = started
        _KEPT.reset(reset)
        kept.close_all()
