"""Remote PIN unblock (DESIGN §3.3, last paragraph; issue #5): the holder, or their
organisation's registration officer, asks; the holder gets a one-time code by the
registered e-mail; the holder's ``ra-token unblock`` command proves the code,
receives the SO PIN, sets a new user PIN with C_InitPIN, and rotates the SO PIN to
one the server draws and escrows (PKCS#11 v2.40 §5.6 C_InitPIN / C_SetPIN).

The code (NIST SP 800-63B §5.1.1 look-up secret rules apply in spirit): 20
Crockford base-32 characters (100 bits) from ``secrets``, single use, valid 30
minutes, bound to one token, at most 5 wrong tries; only its SHA-256 is stored,
and the e-mail carrying it is sent straight after the commit, not kept in the
outbox. The session the code opens has its own 256-bit secret, also kept hashed.

The SO PIN is never lost (``unblock_states``): the new one is escrowed as
``Token.so_pin_pending`` before it is handed out, and becomes ``Token.so_pin``
only when the command has logged in with it on the token. Until then both are
kept, and a resumed or a later unblock tries them in the order the recorded
state makes likely.

Services only flush; the entry points commit (and commit before answering with a
``Recorded`` refusal).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from ra import audit
from ra.auth import policy as auth_policy
from ra.auth.roles import Role
from ra.auth.service import normalise_email
from ra.enrollment.order_states import HolderStatus
from ra.errors import InvalidTransition
from ra.i18n import _l
from ra.mail.direct import CodeMail, send_code
from ra.tokens import pins
from ra.tokens import queries as token_queries
from ra.tokens import unblock_queries as q
from ra.tokens.escrow import token_context
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus
from ra.tokens.unblock_errors import (CodeExpired, CodeLocked, CodeNotDelivered, CodeRefused, CodeReplaced, CodeUsed,
                                      NoEscrowedSoPin, SessionExpired, SessionRefused, TokenNotUnblockable,
                                      TooManyCodes)
from ra.tokens.unblock_models import UnblockRequest
from ra.tokens.unblock_throttle import THROTTLE_WINDOW, throttle
from ra.tokens.unblock_states import IN_SESSION, UnblockChannel, UnblockStatus, unblock_states

log = logging.getLogger("ra.tokens.unblock")
U = UnblockStatus

CODE_MINUTES = 30
SESSION_MINUTES = 30          # from the latest proof of the code
MAX_WRONG_CODES = 5
CODES_PER_TOKEN_PER_HOUR = 3
ASKS_PER_ADDRESS = 10         # public requests per client address and hour
ASKS_PER_EMAIL = 20            # above one address's limit: one client cannot use up a holder's asks
ASKS_PER_SERIAL = 20
PROOFS_PER_ADDRESS = 30       # code proofs per client address and hour

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
CODE_LENGTH = 20
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


# -- codes and secrets ------------------------------------------------------------------

def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 5] for i in range(0, CODE_LENGTH, 5))


def normalise_code(text: str) -> str | None:
    """What the holder typed, as the code it means (case, dashes, spaces and the
    look-alikes O/I/L forgiven); None if it cannot be a code."""
    raw = "".join((text or "").upper().split()).replace("-", "").translate(_LOOKALIKES)
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return raw


def code_digest(code: str) -> str | None:
    raw = normalise_code(code)
    return hashlib.sha256(f"ra/token-unblock/code/{raw}".encode()).hexdigest() if raw else None


def session_digest(secret: str) -> str:
    return hashlib.sha256(f"ra/token-unblock/session/{secret}".encode()).hexdigest()


# -- who may ask --------------------------------------------------------------------------

def can_request_unblock(actor, holder) -> bool:
    """DESIGN §2: the organisation's registration officer for its own holders; RU
    officers and managers for anyone (the holder on the telephone)."""
    role = getattr(actor, "role", None) if getattr(actor, "is_authenticated", True) else None
    if role == Role.ORG_REGISTRAR:
        return holder is not None and actor.organisation_id == holder.organisation_id
    return role in (Role.RA_OFFICER, Role.RA_MANAGER)


def can_follow_unblock(actor) -> bool:
    """Who may read unblock requests: the registration officer (their own
    organisation's, by the query's scope) and RU staff."""
    role = getattr(actor, "role", None) if getattr(actor, "is_authenticated", True) else None
    return role in (Role.ORG_REGISTRAR, Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN, Role.AUDITOR)


# -- asking for a code ------------------------------------------------------------------------

@dataclass
class IssuedCode:
    request: UnblockRequest
    mail: CodeMail


def _unblockable(token: Token, holder) -> bool:
    return (token.status == TokenStatus.ACTIVE and token.so_pin is not None and holder is not None
            and holder.status == HolderStatus.ACTIVE)


def request_code(session, actor, serial: str, *, ports) -> IssuedCode:
    """The registration officer (or an RU officer) asks for the holder of token
    ``serial``. Another organisation's token is not found (404)."""
    token, holder = q.visible_token(session, actor, serial)
    auth_policy.require(can_request_unblock(actor, holder))
    if token.status != TokenStatus.ACTIVE or holder.status != HolderStatus.ACTIVE:
        raise TokenNotUnblockable()
    if token.so_pin is None:
        raise NoEscrowedSoPin()
    now = ports.clock.now()
    if q.codes_sent_since(session, token, now - THROTTLE_WINDOW) >= CODES_PER_TOKEN_PER_HOUR:
        raise TooManyCodes()
    channel = UnblockChannel.REGISTRAR if actor.role == Role.ORG_REGISTRAR else UnblockChannel.RU_STAFF
    return _issue(session, actor, token, holder, channel, ports=ports)


def count_public_ask(session, *, email: str, serial: str, client: str, ports) -> None:
    """The public request, first half, while the asker waits: count it under the
    client's address, the e-mail and the serial, and refuse it over a limit
    (``UnblockThrottled``, recorded). Nothing here depends on whether they match."""
    throttle(session, [("ask-address", client, ASKS_PER_ADDRESS), ("ask-email", _email(email), ASKS_PER_EMAIL),
                       ("ask-serial", _serial(serial).lower(), ASKS_PER_SERIAL)], client=client, ports=ports)


def _email(email: str) -> str:
    return normalise_email(email)[:254]


def _serial(serial: str) -> str:
    return (serial or "").strip()[:64]


def request_code_by_email(session, *, email: str, serial: str, client: str, ports) -> IssuedCode | None:
    """The public request, second half, after the answer has gone out (so its
    duration tells nothing): a code goes out only if ``email`` is the registered
    address of the holder of the handed-over token ``serial``."""
    email, serial = _email(email), _serial(serial)
    token = token_queries.token_by_serial(session, serial)
    holder = q.holder_of_token(session, token) if token is not None else None
    if token is None or not _unblockable(token, holder) or normalise_email(holder.email) != email:
        audit.record(session, "anonymous", "token_unblock.unmatched", None, {"serial": serial[:32], "client": client})
        return None
    now = ports.clock.now()
    if q.codes_sent_since(session, token, now - THROTTLE_WINDOW) >= CODES_PER_TOKEN_PER_HOUR:
        audit.record(session, holder.email, "token_unblock.not_sent", token,
                     {"serial": token.serial, "client": client, "why": "codes_per_hour"})
        return None
    return _issue(session, holder.email, token, holder, UnblockChannel.HOLDER, ports=ports, client=client)


def request_code_signed_in(session, holder, token: Token, *, ports) -> IssuedCode:
    """The holder, logged in and proved by a fresh step-up code (``ra.holder``),
    asks for their own token: the code goes to their registered e-mail, as on the
    public form, under the same per-token limit."""
    if not _unblockable(token, holder):
        if token.status == TokenStatus.ACTIVE and token.so_pin is None:
            raise NoEscrowedSoPin()
        raise TokenNotUnblockable()
    now = ports.clock.now()
    if q.codes_sent_since(session, token, now - THROTTLE_WINDOW) >= CODES_PER_TOKEN_PER_HOUR:
        raise TooManyCodes()
    return _issue(session, holder.email, token, holder, UnblockChannel.HOLDER, ports=ports)


def _issue(session, actor, token: Token, holder, channel: UnblockChannel, *, ports, client: str | None = None
           ) -> IssuedCode:
    now = ports.clock.now()
    code = new_code()
    req = UnblockRequest(token_id=token.id, holder_id=holder.id, channel=channel, email=holder.email,
                         requested_by_id=getattr(actor, "id", None), code_digest=code_digest(code),
                         status=U.CODE_SENT, created_at=now, expires_at=now + timedelta(minutes=CODE_MINUTES))
    session.add(req)
    session.flush()
    facts = {"serial": token.serial, "holder_id": holder.id, "channel": channel.value, "sent_to": holder.email,
             "expires_at": req.expires_at.isoformat(), **({"client": client} if client else {})}
    audit.record(session, actor, "token_unblock.requested", req, facts)
    audit.record(session, actor, "token.unblock_code_sent", token, {"request": req.id, **facts})
    for old in q.open_requests(session, token):
        if old.id != req.id:
            unblock_states.transition(session, old, U.CANCELLED, actor=actor, details={"replaced_by": req.id})
            old.finished_at = now
    subject, body = ports.notifier.render("unblock_code", holder.locale, {
        "holder": holder, "token": token, "code": code, "minutes": CODE_MINUTES, "channel": channel.value,
        "server": ports.base_url})
    return IssuedCode(req, CodeMail(holder.email, subject, body))


def deliver_code(mail: CodeMail, *, ports) -> bool:
    """Sent straight away, after the commit, not through the outbox (``ra.mail.direct``)."""
    return send_code(mail, ports=ports, purpose="unblock")


def withdraw_undelivered(session, req: UnblockRequest, *, ports) -> CodeNotDelivered:
    """The code never reached the holder: the request ends, on record."""
    unblock_states.transition(session, req, U.CANCELLED, actor="system", details={"why": "mail_not_sent"})
    req.finished_at = ports.clock.now()
    return CodeNotDelivered()


# -- the holder's command: proving the code ------------------------------------------------------

@dataclass
class Grant:
    """What a proven code gives the command. ``new_so_pin``: a rotation is under
    way (the token has one of the two); ``try_new_first``: it more likely has the
    new one."""
    request: UnblockRequest
    secret: str
    so_pin: str
    new_so_pin: str | None
    try_new_first: bool
    user_pin_set: bool
    resumed: bool


def open_session(session, *, serial: str, code: str, client: str, ports) -> Grant:
    """Proves ``code`` for token ``serial`` and opens (or resumes) its session."""
    throttle(session, [("prove-address", client, PROOFS_PER_ADDRESS)], client=client, ports=ports)
    now = ports.clock.now()
    token = token_queries.token_by_serial(session, serial)
    digest = code_digest(code)
    found = q.request_by_code_digest(session, digest) if digest else None
    if token is None or found is None or found.token_id != token.id:
        _count_wrong_code(session, token, found, serial=serial, client=client, now=now)
        raise CodeRefused()
    req = found
    if req.status == U.COMPLETED:
        raise CodeUsed()
    if req.status == U.CANCELLED:
        raise CodeReplaced()
    if req.status == U.LOCKED:
        raise CodeLocked()
    if req.status == U.EXPIRED or now >= req.expires_at:
        _expire(session, req, now)
        raise CodeExpired(minutes=CODE_MINUTES)
    if token.status != TokenStatus.ACTIVE:
        end_request(session, req, U.CANCELLED, now, {"why": "token_not_active", "token_status": token.status.value})
        raise TokenNotUnblockable()
    secret = secrets.token_urlsafe(32)
    req.session_digest = session_digest(secret)
    req.session_expires_at = now + timedelta(minutes=SESSION_MINUTES)
    details = {"serial": token.serial, "client": client, "rotation_pending": token.so_pin_pending is not None}
    resumed = req.status != U.CODE_SENT
    if not resumed:
        req.accepted_at = now
        unblock_states.transition(session, req, U.CODE_ACCEPTED, actor=req.email, details=details)
    else:  # an interrupted run resumes
        audit.record(session, req.email, "token_unblock.resumed", req, {**details, "at_step": req.status.value})
    escrow = ports.tokens.escrow
    context = token_context(token.serial)
    return Grant(request=req, secret=secret, so_pin=escrow.open(token.so_pin, context),
                 new_so_pin=escrow.open(token.so_pin_pending, context) if token.so_pin_pending else None,
                 try_new_first=token.so_pin_pending is not None and q.so_pin_may_be_new(session, token),
                 user_pin_set=req.status not in (U.CODE_SENT, U.CODE_ACCEPTED), resumed=resumed)


def _count_wrong_code(session, token, found, *, serial: str, client: str, now) -> None:
    if found is not None:  # the right code, for another token: on the record of the code's own request
        audit.record(session, "anonymous", "token_unblock.code_for_other_token", found,
                     {"serial_tried": serial[:32], "client": client})
    req = q.latest_open_request(session, token) if token is not None else None
    if req is None:
        audit.record(session, "anonymous", "token_unblock.code_refused", None, {"serial": serial[:32],
                                                                                "client": client})
        return
    req.failed_attempts += 1
    audit.record(session, "anonymous", "token_unblock.code_refused", req,
                 {"serial": token.serial, "client": client, "failed_attempts": req.failed_attempts})
    if req.failed_attempts >= MAX_WRONG_CODES:
        end_request(session, req, U.LOCKED, now, {"failed_attempts": req.failed_attempts})


def end_request(session, req: UnblockRequest, status: UnblockStatus, now, details: dict) -> None:
    unblock_states.transition(session, req, status, actor="system", details={"serial": req.token.serial, **details})
    req.finished_at = now
    req.session_digest = None


def _expire(session, req: UnblockRequest, now) -> None:
    if req.status != U.EXPIRED:
        end_request(session, req, U.EXPIRED, now, {"rotation_pending": req.token.so_pin_pending is not None})


# -- the holder's command: the steps --------------------------------------------------------------

def _in_session(session, request_id, secret: str, *, ports) -> UnblockRequest:
    try:
        req = session.get(UnblockRequest, int(request_id))
    except (TypeError, ValueError):
        req = None
    if req is None or req.session_digest is None or not isinstance(secret, str) \
            or not hmac.compare_digest(req.session_digest, session_digest(secret)):
        raise SessionRefused()
    if req.status not in IN_SESSION:
        raise SessionRefused()
    now = ports.clock.now()
    if now >= req.session_expires_at:
        _expire(session, req, now)
        raise SessionExpired()
    if req.token.status != TokenStatus.ACTIVE:
        end_request(session, req, U.CANCELLED, now, {"why": "token_not_active", "token_status": req.token.status.value})
        raise TokenNotUnblockable()
    return req


def check_new_user_pin(session, request_id, secret: str, pin: str, *, ports) -> None:
    """The server's half of the PIN policy check (``ra.tokens.pins``); the PIN is
    checked and forgotten."""
    _in_session(session, request_id, secret, ports=ports)
    pins.check_user_pin(pin if isinstance(pin, str) else "")


def record_user_pin_set(session, request_id, secret: str, *, ports) -> UnblockRequest:
    """The command set the new user PIN (C_InitPIN as SO) and logged in with it."""
    req = _in_session(session, request_id, secret, ports=ports)
    if req.status == U.CODE_ACCEPTED:
        unblock_states.transition(session, req, U.USER_PIN_SET, actor=req.email, details={"serial": req.token.serial})
        audit.record(session, req.email, "token.unblocked", req.token,
                     {"serial": req.token.serial, "channel": "remote", "request": req.id})
    return req


def _out_of_order() -> InvalidTransition:
    return InvalidTransition(_l("The unblock steps must be done in order. Run the command again with your code."))


def draw_new_so_pin(session, request_id, secret: str, *, ports) -> str:
    """Escrows a fresh SO PIN as pending (unless a rotation left one: the token may
    hold it) and hands it to the command. Commit before answering: once handed
    out, it is on record."""
    req = _in_session(session, request_id, secret, ports=ports)
    token = req.token
    if req.status == U.USER_PIN_SET:
        drawn = token.so_pin_pending is None
        if drawn:
            token.so_pin_pending = ports.tokens.escrow.seal(pins.random_so_pin(), token_context(token.serial))
            audit.record(session, req.email, "token.so_pin_drawn", token, {"serial": token.serial, "request": req.id})
        unblock_states.transition(session, req, U.SO_PIN_DRAWN, actor=req.email,
                                  details={"serial": token.serial, "new_so_pin": "drawn" if drawn else "reused"})
    elif req.status not in (U.SO_PIN_DRAWN, U.SO_PIN_SETTING) or token.so_pin_pending is None:
        raise _out_of_order()
    return ports.tokens.escrow.open(token.so_pin_pending, token_context(token.serial))


def record_so_pin_setting(session, request_id, secret: str, *, ports) -> UnblockRequest:
    """The command is about to call C_SetPIN: from now on the token may have the
    new SO PIN."""
    req = _in_session(session, request_id, secret, ports=ports)
    if req.status == U.SO_PIN_DRAWN:
        req.so_pin_setting_at = ports.clock.now()
        unblock_states.transition(session, req, U.SO_PIN_SETTING, actor=req.email, details={"serial": req.token.serial})
    elif req.status != U.SO_PIN_SETTING:
        raise _out_of_order()
    return req


def confirm_rotation(session, request_id, secret: str, *, ports) -> UnblockRequest:
    """The command logged in as SO with the new SO PIN on the token: it becomes the
    escrowed one, and the old one is forgotten."""
    req = _in_session(session, request_id, secret, ports=ports)
    token = req.token
    if req.status != U.SO_PIN_SETTING or token.so_pin_pending is None:
        raise _out_of_order()
    token.so_pin, token.so_pin_pending = token.so_pin_pending, None
    unblock_states.transition(session, req, U.COMPLETED, actor=req.email, details={"serial": token.serial})
    req.finished_at = ports.clock.now()
    req.session_digest = None
    audit.record(session, req.email, "token.so_pin_rotated", token, {"serial": token.serial, "request": req.id})
    return req
