"""The counter handover's steps (DESIGN §3.3), one function per step. Services only
flush: ``ra.tokens.handover_jobs`` runs them and commits between any two, so a
handover interrupted anywhere resumes from its last committed step.

Rules kept here:

- ETSI EN 319 411-1 REG-6.2.2: the holder's identity is checked in person and
  recorded (document type and number, which must be the register number).
- ETSI EN 319 411-1 GEN-6.3.3 / PKCS#11 v2.40 §4.9: the key pair is generated on the
  token, SENSITIVE and not EXTRACTABLE, and LOCAL, ALWAYS_SENSITIVE and
  NEVER_EXTRACTABLE are read back (``Pkcs11TokenDriver.generate_key_pair``).
- RFC 2986: the CSR is signed on the token; its key must be the one recorded.
- Never two certificates for one order: one unfinished handover per order (a
  partial unique index), one CA request id per handover, and no cancelling once
  the CA may hold a request for it.
- A user PIN is only ever an argument: never stored, logged or audited.
"""
from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra import audit
from ra.auth.roles import Role
from ra.ca import csr as ca_checks
from ra.ca.models import Certificate, CertificateRequest
from ra.ca.states import RequestStatus
from ra.enrollment import orders_service as orders
from ra.enrollment.holder_models import CertificateOrder
from ra.enrollment.order_states import OrderStatus, order_states
from ra.errors import Conflict, InvalidTransition, PermissionDenied, UserError
from ra.i18n import _l
from ra.localtime import local
from ra.profiles import SubjectData, build_subject
from ra.tokens import handover_queries, pins
from ra.tokens import stock_service as stock
from ra.tokens.errors import CertificateMismatch, TokenNotPresent
from ra.tokens.handover_errors import (CannotCancel, HolderDataChanged, IdentityMismatch,  # noqa: F401
                                       OrderNotReady, PinNeeded, RevocationNotConnected, TokenNeeded)
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import (CANCELLABLE, FINISHED, ORDERED, HandoverStep, IdDocument, PinSource,
                                       handover_steps)
from ra.tokens.states import TokenStatus, token_states

H = HandoverStep
READY_ORDERS = (OrderStatus.APPROVED, OrderStatus.SCHEDULED)
# ``ports.extra[REVOKE_HOOK](session, actor, certificate, reason)``: set by the revocation
# module once it exists; until then a certificate no token holds can only be written
# to the token again (``abandon_handover`` refuses, saying so).
REVOKE_HOOK = "handover_revoke_unheld"


# -- policy (STYLE rule 6) ------------------------------------------------------------------------

def can_hand_over(actor, order=None) -> bool:
    """RU staff at the counter; nobody hands a certificate to themselves (DESIGN §2)."""
    if actor is None or getattr(actor, "role", None) not in (Role.RA_OFFICER, Role.RA_MANAGER):
        return False
    if order is not None and (getattr(actor, "email", "") or "").lower() == order.holder.email.lower():
        return False
    return True


def can_read_handovers(actor) -> bool:
    return getattr(actor, "role", None) in (Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN, Role.AUDITOR)


def _require(actor, order=None) -> None:
    if not can_hand_over(actor, order):
        raise PermissionDenied()


# -- helpers ----------------------------------------------------------------------------------------

def subject_data(order) -> SubjectData:
    """What the certificate says, from the holder and organisation records — as
    ``orders_service.approve_order`` fixed it."""
    h = order.holder
    return SubjectData(latin_name=h.latin_name, cyrillic_name=h.full_name, register_number=h.register_number,
                       organisation=order.organisation.name, department=h.department, position=h.position,
                       email=h.email, latin_given_name=h.latin_given_name, latin_surname=h.latin_surname)


def _subject(order, ports) -> x509.Name:
    return build_subject(ports.profiles[order.profile], subject_data(order))


def normalise_document_number(text: str) -> str:
    return "".join((text or "").split()).upper()


def _check_order(order, ports) -> None:
    if order.status not in READY_ORDERS:
        raise OrderNotReady(status=order.status.label)
    if order.subject and _subject(order, ports).rfc4514_string() != order.subject:
        raise HolderDataChanged()


def _advance(session, actor, h: Handover, target: HandoverStep, *, ports, details: dict | None = None) -> None:
    handover_steps.transition(session, h, target, actor=actor, details={"order_id": h.order_id, **(details or {})})
    h.updated_at = ports.clock.now()
    h.error_code = h.error_message = h.error_at = None


def _spki_sha256(spki_der: bytes) -> str:
    return ca_checks.public_key_sha256(serialization.load_der_public_key(spki_der))


# -- step 1: identity --------------------------------------------------------------------------------

def start_handover(session, actor, order, *, id_document_type, id_document_number: str, ports,
                   claim: dict | None = None) -> Handover:
    """Step 1: the holder shows an ID document; its type and number are recorded and
    the number must be the holder's register number. ``claim``: the run that
    follows (``handover_jobs``), written with the row rather than after it."""
    _require(actor, order)
    _check_order(order, ports)
    try:
        doc_type = IdDocument(id_document_type)
    except ValueError:
        raise UserError(_l("Choose the kind of identity document."), field="id_document_type") from None
    number = normalise_document_number(id_document_number)
    if not number:
        raise UserError(_l("Type the register number shown on the document."), field="id_document_number")
    if number != order.holder.register_number.upper():
        raise IdentityMismatch(field="id_document_number", expected=order.holder.register_number)
    open_one = session.execute(sa.select(Handover.id).where(
        Handover.order_id == order.id, Handover.step.notin_(FINISHED))).scalar()
    if open_one is not None:
        raise Conflict(_l("This order already has a handover in progress: resume or cancel it."),
                       code="handover_open", handover_id=open_one)
    now = ports.clock.now()
    h = Handover(request_id=f"handover-{uuid.uuid4().hex}", order_id=order.id, step=H.IDENTITY_CHECKED,
                 id_document_type=doc_type, id_document_number=number[:40], officer_id=getattr(actor, "id", None),
                 envelopes_printed=0, created_at=now, updated_at=now, **(claim or {"runs": 0}))
    h.order = order
    session.add(h)
    session.flush()
    audit.record(session, actor, "handover.identity_checked", h, {
        "order_id": order.id, "holder_id": order.holder_id, "id_document_type": doc_type.value,
        "id_document_number": h.id_document_number, "request_id": h.request_id})
    return h


# -- step 2: the token ----------------------------------------------------------------------------------

def pick_token(session, actor, h: Handover, serial: str, *, ports) -> None:
    """Step 2: a token from stock that is in the reader now (its serial as the
    PKCS#11 module reports it), refused with the reason if it is not ready."""
    _require(actor, h.order)
    if h.step != H.IDENTITY_CHECKED:
        raise InvalidTransition()
    if not (serial or "").strip():
        raise TokenNeeded(field="token_serial")
    token, taken = handover_queries.stock_token(session, serial)
    stock.require_ready(token, serial)
    ports.tokens.slot(token.serial)  # TokenNotPresent unless it is in a reader
    if taken is not None:
        raise Conflict(_l("Token %(serial)s is already being handed over to someone else."), serial=token.serial,
                       code="token_taken")
    h.token_id, h.token = token.id, token
    # Step 3's fresh SO PIN is drawn and escrowed now, committed with this step:
    # whatever happens on the token from here on, the RU holds the SO PIN it ends
    # up with (``stock_service.begin_initialisation``).
    stock.begin_initialisation(session, actor, token, ports=ports)
    _advance(session, actor, h, H.TOKEN_PICKED, ports=ports, details={"serial": token.serial})


# -- step 3: initialise and set the user PIN ----------------------------------------------------------

def initialise_token(session, actor, h: Handover, user_pin: str, *, source: PinSource, ports) -> None:
    """Step 3: C_InitToken, the SO PIN replaced by the one drawn at step 2, then
    C_InitPIN as SO with the holder's PIN (typed, or random for the sealed
    envelope). Run again after a crash inside it, it ends the same way: the token
    is wiped again and the pending SO PIN is tried when the old one is refused
    (``stock_service.initialise_token``).

    The label is the holder's Latin name: CK_TOKEN_INFO.label has 32 bytes, which
    hold it more often than the Cyrillic (two bytes a letter in UTF-8)."""
    _require(actor, h.order)
    stock.initialise_token(session, actor, h.token, label=h.holder.latin_name, ports=ports)
    stock.set_user_pin(session, actor, h.token, user_pin, source=source.value, ports=ports)
    h.pin_source = source
    if source == PinSource.ENVELOPE:
        h.envelopes_printed += 1
    _advance(session, actor, h, H.TOKEN_INITIALISED, ports=ports,
             details={"serial": h.token.serial, "label": h.token.label, "pin": source.value})


def set_user_pin_again(session, actor, h: Handover, user_pin: str, *, source: PinSource, ports) -> None:
    """A resumed handover that needs the user PIN sets it anew (C_InitPIN as SO):
    PINs are never kept. Audited; a new sealed envelope replaces the earlier one."""
    _require(actor, h.order)
    stock.set_user_pin(session, actor, h.token, user_pin, source=source.value, ports=ports)
    h.pin_source = source
    if source == PinSource.ENVELOPE:
        h.envelopes_printed += 1
    h.updated_at = ports.clock.now()
    audit.record(session, actor, "handover.pin_set_again", h, {"source": source.value,
                                                                "envelope": h.envelopes_printed or None})


# -- step 4: the key pair ----------------------------------------------------------------------------

def wipe_for_retry(session, actor, h: Handover, *, ports) -> None:
    """C_InitToken again with the escrowed SO PIN, before a key generation that an
    earlier run may have begun (and died in, the pair on the token but not on
    record): no stray key stays on the token. The user PIN goes with it; the
    caller sets it again."""
    _require(actor, h.order)
    token = h.token
    ports.tokens.init_token(token.serial, stock.current_so_pin(token, ports=ports), token.label or token.serial)
    audit.record(session, actor, "token.wiped", token, {"serial": token.serial, "handover_id": h.id,
                                                          "why": "key generation resumed"})


def generate_key(session, actor, h: Handover, user_pin: str, *, ports) -> None:
    """Step 4: on-token generation per the order's profile and key type."""
    _require(actor, h.order)
    order = h.order
    info = ports.tokens.generate_key_pair_for_profile(
        h.token.serial, user_pin, ports.profiles[order.profile], key_type=order.key_type,
        label=f"{h.holder.latin_name} ({order.profile})"[:64])
    h.key_id, h.key_type = info.key_id.hex(), info.key_type
    h.public_key_sha256 = _spki_sha256(info.public_key_info)
    _advance(session, actor, h, H.KEY_GENERATED, ports=ports, details={
        "key_type": info.key_type, "key_id": h.key_id, "public_key_sha256": h.public_key_sha256,
        "local": info.local, "always_sensitive": info.always_sensitive, "never_extractable": info.never_extractable})


# -- step 5: the CSR -----------------------------------------------------------------------------------

def sign_request(session, actor, h: Handover, user_pin: str, *, ports) -> None:
    """Step 5: PKCS#10 (RFC 2986) signed by the token key, subject per the profile."""
    _require(actor, h.order)
    der = ports.tokens.sign_csr(h.token.serial, user_pin, h.key_id_bytes, _subject(h.order, ports))
    csr = x509.load_der_x509_csr(der)
    if ca_checks.public_key_sha256(csr.public_key()) != h.public_key_sha256:
        raise CertificateMismatch(serial=h.token.serial)
    h.csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
    _advance(session, actor, h, H.CSR_SIGNED, ports=ports,
             details={"csr_sha256": hashlib.sha256(der).hexdigest()})


# -- step 6: the certificate (``handover_jobs`` asks the CA) ------------------------------------------

def check_before_issuing(session, actor, h: Handover, *, ports) -> None:
    """Re-checked, as the database has it now, just before the CA is asked: the
    order may have been cancelled meanwhile."""
    _require(actor, h.order)
    status = session.execute(sa.select(CertificateOrder.status).where(CertificateOrder.id == h.order_id)).scalar_one()
    if status not in READY_ORDERS:
        raise OrderNotReady(status=status.label)


def record_certificate(session, actor, h: Handover, certificate: Certificate, *, ports) -> None:
    if certificate.public_key_sha256 != h.public_key_sha256:
        raise CertificateMismatch(serial=h.token.serial)
    h.certificate_id, h.certificate = certificate.id, certificate
    _advance(session, actor, h, H.CERTIFICATE_ISSUED, ports=ports, details={
        "serial": certificate.serial, "issuer": certificate.issuer, "request_id": h.request_id,
        "not_after": certificate.not_after.isoformat()})


def certificate_request(session, h: Handover) -> CertificateRequest | None:
    return session.execute(sa.select(CertificateRequest).where(
        CertificateRequest.request_id == h.request_id)).scalar_one_or_none()


# -- step 7: the certificate on the token --------------------------------------------------------------

def certificate_der(certificate: Certificate) -> bytes:
    return x509.load_pem_x509_certificate(certificate.pem.encode()).public_bytes(serialization.Encoding.DER)


def write_certificate(session, actor, h: Handover, user_pin: str, *, ports) -> None:
    """Step 7: the certificate object under the key's CKA_ID and label (PKCS#11 v2.40
    §4.6.3), read back and compared; the record then names the token."""
    _require(actor, h.order)
    cert = h.certificate
    der = certificate_der(cert)
    label = f"{h.holder.latin_name} ({h.order.profile})"[:64]
    # The driver reads the object back and compares it (CertificateMismatch otherwise).
    ports.tokens.put_certificate(h.token.serial, user_pin, h.key_id_bytes, label, der)
    cert.token_id = h.token_id
    _advance(session, actor, h, H.CERTIFICATE_WRITTEN, ports=ports,
             details={"serial": cert.serial, "token": h.token.serial})


# -- step 8: order issued, token active, receipt ---------------------------------------------------------

def complete_handover(session, actor, h: Handover, *, ports) -> None:
    """Step 8: the order is issued (``orders_service.record_issuance``), the token
    leaves the stock, the receipt gets its number; the PDF is printed from these
    records by ``receipt_file``.

    The order table (DESIGN §3.2) reaches ``issued`` only from ``scheduled``; a
    holder served without an appointment (an approved order) is scheduled at the
    counter first, recorded as a walk-in."""
    _require(actor, h.order)
    order, cert, token = h.order, h.certificate, h.token
    if order.status == OrderStatus.APPROVED:
        order_states.transition(session, order, OrderStatus.SCHEDULED, actor=actor,
                                details={"walk_in": True, "handover_id": h.id})
    orders.record_issuance(session, actor, order, serial=cert.serial, not_after=cert.not_after,
                           issuer=cert.issuer, ports=ports)
    stock.activate_token(session, actor, token, ports=ports, details={
        "handover_id": h.id, "holder_id": order.holder_id, "certificate_serial": cert.serial})
    now = ports.clock.now()
    h.receipt_number = f"HO-{local(now).year}-{h.id:06d}"
    h.completed_at = now
    _advance(session, actor, h, H.COMPLETED, ports=ports, details={
        "receipt_number": h.receipt_number, "serial": cert.serial, "token": token.serial,
        "holder_id": order.holder_id})


def receipt_file(session, actor, h: Handover, *, render, ports) -> str:
    """The stored receipt PDF of a completed handover, printed on first request
    (``render(handover) -> bytes``; WeasyPrint takes longer than the token and the
    CA together, so it is not in the run) and then kept unchanged: the copy the
    holder and the officer signed. The caller commits."""
    if h.step != H.COMPLETED:
        raise InvalidTransition(_l("There is no receipt before the handover is completed."))
    if h.receipt_file is None:
        h.receipt_file = ports.files.put(render(h), category="receipts", extension="pdf",
                                         year=h.completed_at.year)
        audit.record(session, actor, "handover.receipt_printed", h, {"receipt_number": h.receipt_number})
    return h.receipt_file


# -- stopping ---------------------------------------------------------------------------------------------

def record_pause(session, actor, h: Handover, code: str, message: str, *, ports) -> None:
    """Where and why it stopped; ``message`` is English, for the record (no PIN ever)."""
    h.error_code, h.error_message, h.error_at = code[:60], message[:500], ports.clock.now()
    h.updated_at = h.error_at
    audit.record(session, actor, "handover.paused", h, {"step": h.step.value, "code": h.error_code})


def _return_token(session, actor, h: Handover, *, ports) -> bool:
    """Wipes the token back to the stock label; True if the token was touched."""
    token = h.token
    if token is None or token.status != TokenStatus.IN_STOCK:
        return False
    if token.so_pin_pending is not None:  # an initialisation may be half done: settle it
        stock.initialise_token(session, actor, token, label=stock.STOCK_LABEL, ports=ports)
        return True
    if ORDERED.index(h.step) >= ORDERED.index(H.TOKEN_INITIALISED):
        ports.tokens.init_token(token.serial, stock.current_so_pin(token, ports=ports), stock.STOCK_LABEL)
        token.label = stock.STOCK_LABEL
        audit.record(session, actor, "token.wiped", token, {"serial": token.serial, "handover_id": h.id,
                                                              "why": "handover cancelled"})
        return True
    return False


def cancel_handover(session, actor, h: Handover, reason: str, *, ports) -> None:
    """Stops a handover before the CA holds a request for it: the token is wiped
    and stays in stock (audited). The token must be in the reader."""
    _require(actor, h.order)
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason."), field="reason")
    if h.step not in CANCELLABLE:
        raise CannotCancel()
    req = certificate_request(session, h)
    if req is not None and req.status != RequestStatus.REJECTED:
        raise CannotCancel()
    wiped = _return_token(session, actor, h, ports=ports)
    h.cancel_reason = reason[:2000]
    handover_steps.transition(session, h, H.CANCELLED, actor=actor, details={
        "order_id": h.order_id, "reason": reason[:500], "token": h.token.serial if h.token else None,
        "wiped": wiped})
    h.updated_at = ports.clock.now()


def abandon_handover(session, actor, h: Handover, reason: str, *, ports) -> None:
    """HOOK: a certificate was issued but no token holds it (the token broke or was
    lost before step 7). The only safe end is revoking it, through the revocation
    module's handler in ``ports.extra[REVOKE_HOOK]``; until that module exists this
    refuses, and the handover stays on the counter page, flagged, for Resume."""
    _require(actor, h.order)
    if h.step != H.CERTIFICATE_ISSUED:
        raise InvalidTransition()
    revoke = (ports.extra or {}).get(REVOKE_HOOK)
    if revoke is None:
        raise RevocationNotConnected(serial=h.certificate.serial)
    reason = (reason or "").strip() or "cessationOfOperation"
    revoke(session, actor, h.certificate, reason)
    try:
        wiped = _return_token(session, actor, h, ports=ports)
    except TokenNotPresent:
        wiped = False
    h.cancel_reason = reason
    handover_steps.transition(session, h, H.CANCELLED, actor=actor, details={
        "order_id": h.order_id, "revoked": h.certificate.serial, "reason": reason, "wiped": wiped})


def check_user_pin_policy(user_pin: str | None) -> None:
    if user_pin is not None:
        pins.check_user_pin(user_pin)


def record_token_failed(session, actor, h: Handover, reason: str, *, ports) -> None:
    """The token died during the handover (its objects gone, its slot empty: a
    process killed inside C_InitToken leaves SoftHSM's token file empty), so
    neither Resume nor Cancel can reach it. The officer records it damaged from
    the open handover: the token leaves the stock as damaged, with its history; a
    certificate already issued for it is revoked (DESIGN §3.3: never a certificate
    that no token holds); the handover ends abandoned; the order, untouched, is
    ready for a new handover with another token."""
    _require(actor, h.order)
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason."), field="reason")
    if h.token is None or not handover_steps.can(h, H.ABANDONED):
        raise InvalidTransition()
    revoked = None
    if h.certificate is not None:
        revoke = (ports.extra or {}).get(REVOKE_HOOK)
        if revoke is None:
            raise RevocationNotConnected(serial=h.certificate.serial)
        revoke(session, actor, h.certificate, "cessationOfOperation")
        revoked = h.certificate.serial
    token, now = h.token, ports.clock.now()
    token_states.transition(session, token, TokenStatus.DAMAGED, actor=actor, details={
        "serial": token.serial, "reason": reason[:500], "handover_id": h.id, "during": h.step.value})
    token.status_changed_at = now
    h.cancel_reason = reason[:2000]
    handover_steps.transition(session, h, H.ABANDONED, actor=actor, details={
        "order_id": h.order_id, "token": token.serial, "reason": reason[:500], "revoked": revoked})
    h.updated_at = now
