"""Revocation requests and their approval (DESIGN §3.4; RFC 5280 §5.3.1 reasons;
ETSI EN 319 411-1 revocation management).

- ``request_revocation``: the registrar (own organisation's holders) or an RU
  officer asks, with a reason; a hold (certificateHold) is done at once, and so
  is the hold of a key-compromise report while its revocation awaits approval.
- ``approve`` / ``reject``: dual control (``policy.RevocationSettings``): two RU
  staff take part in every revocation other than the holder's own lost-token
  report; the requester or confirmer, if RU staff, counts as one, and never
  approves their own request.
- ``confirm_lost`` / ``keep_on_hold``: an officer decides a lost-token report.
- ``release_at_counter``: removeFromCRL, only with the token in the reader.

Revoked is final: any way back is refused with 409. Services only flush; a
request left ``approved`` is carried out through the CA connector by
``ra.revocation.execution`` after the entry point commits (``ra.revocation.jobs``).
"""
from __future__ import annotations

from datetime import datetime

from ra import audit
from ra.auth import policy as auth_policy
from ra.ca.connector import HoldNotSupported
from ra.ca.states import CertificateStatus
from ra.enrollment.holder_models import Holder
from ra.enrollment.numbering import next_number
from ra.db import lock_for_update
from ra.errors import UserError
from ra.i18n import _l
from ra.localtime import LOCAL_TZ, local
from ra.revocation import errors as E
from ra.revocation import notifications
from ra.revocation import policy as P
from ra.revocation import queries as q
from ra.revocation.models import RevocationApproval, RevocationRequest
from ra.revocation.states import REQUESTABLE, Channel, Decision, Reason, RevocationStatus, revocation_states

S = RevocationStatus
NOTE_MAX = 2000


def _uid(actor) -> int | None:
    return None if isinstance(actor, str) else getattr(actor, "id", None)


def _label(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor[:254]
    return (getattr(actor, "email", None) or str(actor))[:254]


def channel_of(actor) -> Channel:
    if isinstance(actor, str):
        return Channel.HOLDER
    return Channel.OFFICER if P.is_staff(actor) else Channel.REGISTRAR


def parse_reason(value) -> Reason:
    if isinstance(value, Reason):
        reason = value
    else:
        try:
            reason = Reason(str(value or "").strip())
        except ValueError:
            raise E.UnknownReason(field="reason") from None
    if reason == Reason.REMOVE_FROM_CRL:
        raise E.UseRelease(field="reason")
    if reason not in REQUESTABLE:
        raise E.UnknownReason(field="reason")
    return reason


def parse_invalidity_date(value, *, now: datetime) -> datetime | None:
    """RFC 5280 §5.3.2: when the key is known or suspected to have been
    compromised; never in the future. A date without a zone is Ulaanbaatar time."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise E.BadInvalidityDate(field="invalidity_date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=LOCAL_TZ)
    if when > now:
        raise E.BadInvalidityDate(field="invalidity_date")
    return when.replace(microsecond=0)


def _check_certificate(session, cert, reason: Reason, ports) -> None:
    if cert.status == CertificateStatus.REVOKED:
        raise E.AlreadyRevoked()
    if cert.status == CertificateStatus.EXPIRED or cert.not_after <= ports.clock.now():
        raise E.CertificateExpired()
    if reason == Reason.CERTIFICATE_HOLD:
        if cert.status == CertificateStatus.SUSPENDED:
            raise E.AlreadyOnHold()
        if not ports.ca.supports_hold:
            raise HoldNotSupported()
    open_one = q.open_revocation_for(session, cert.id)
    if open_one is not None and reason.is_revocation:
        raise E.OpenRequestExists(number=open_one.number)


def new_request(session, actor, cert, reason: Reason, *, status: S, ports, channel: Channel | None = None,
                invalidity_date: datetime | None = None, note: str = "", lost_report=None,
                position_change_id: int | None = None, received_at: datetime | None = None) -> RevocationRequest:
    """Records a request (gap-free yearly number, audited); no checks here. Times
    are kept to the second, as CRLs state them (RFC 5280 §5.1.2.4)."""
    now = ports.clock.now()
    year = local(now).year
    holder = session.get(Holder, cert.holder_id) if cert.holder_id else None
    req = RevocationRequest(
        number=f"ЦХ-{year}/{next_number(session, 'revocation', year):05d}", certificate_id=cert.id,
        serial=cert.serial, organisation_id=holder.organisation_id if holder else None, holder_id=cert.holder_id,
        token_id=cert.token_id, reason=reason, channel=channel or channel_of(actor), status=status,
        invalidity_date=invalidity_date, note=(note or "").strip()[:NOTE_MAX], requested_by_id=_uid(actor),
        requested_by=_label(actor), lost_report_id=lost_report.id if lost_report is not None else None,
        position_change_id=position_change_id, received_at=(received_at or now).replace(microsecond=0),
        attempts=0, outcome="",
        created_at=now, approved_at=now if status == S.APPROVED else None)
    session.add(req)
    session.flush()
    audit.record(session, actor, "revocation_request.received", req, {
        "number": req.number, "serial": cert.serial, "reason": reason.value, "channel": req.channel.value,
        "status": status.value, "invalidity_date": invalidity_date.isoformat() if invalidity_date else None,
        "lost_report": lost_report.reference if lost_report is not None else None,
        "position_change_id": position_change_id})
    return req


def hold(session, actor, cert, *, ports, channel: Channel | None = None, lost_report=None,
         received_at: datetime | None = None, note: str = "") -> RevocationRequest | None:
    """A hold (certificateHold) to be done now: needs no approval, only the CA.
    None when there is nothing to hold, or the CA cannot hold."""
    if cert.status != CertificateStatus.VALID or not ports.ca.supports_hold:
        return None
    return new_request(session, actor, cert, Reason.CERTIFICATE_HOLD, status=S.APPROVED, ports=ports,
                       channel=channel, lost_report=lost_report, received_at=received_at, note=note)


def request_revocation(session, actor, cert, reason, *, invalidity_date=None, note: str = "", ports,
                       position_change_id: int | None = None, authorised: bool = False) -> list[RevocationRequest]:
    """The registrar's or the officer's request. Returns the requests made: the
    revocation (or hold) itself, and for a key compromise reported while the
    certificate is valid, the hold that protects it until the revocation is
    approved. ``authorised``: the calling module has checked the actor for the
    event that calls for it (a token event at the counter)."""
    if not authorised:
        auth_policy.require(P.can_request_revocation(actor, q.organisation_of(session, cert)))
    reason = parse_reason(reason)
    when = parse_invalidity_date(invalidity_date, now=ports.clock.now())
    _check_certificate(session, cert, reason, ports)
    if reason == Reason.CERTIFICATE_HOLD:
        return [new_request(session, actor, cert, reason, status=S.APPROVED, ports=ports, note=note)]
    signoffs = 1 if P.is_staff(actor) else 0
    status = S.APPROVED if signoffs >= P.settings_of(ports).signoffs_needed else S.AWAITING_APPROVAL
    made = []
    if status == S.AWAITING_APPROVAL and reason == Reason.KEY_COMPROMISE:
        held = hold(session, actor, cert, ports=ports, note=note)
        made += [held] if held is not None else []
    made.insert(0, new_request(session, actor, cert, reason, status=status, ports=ports, invalidity_date=when,
                               note=note, position_change_id=position_change_id))
    return made


# -- decisions ---------------------------------------------------------------------------------

def signoffs(req: RevocationRequest) -> int:
    """RU staff who took part: the requester (if staff), the confirmer, approvers."""
    ids = {a.approver_id for a in req.approvals if a.decision == Decision.APPROVE}
    if req.requested_by_id is not None and P.is_staff(req.requester):
        ids.add(req.requested_by_id)
    if req.confirmed_by_id is not None:
        ids.add(req.confirmed_by_id)
    return len(ids)


def _check_decider(actor, req) -> None:
    if not P.is_staff(actor):
        auth_policy.require(False)
    if actor.id in (req.requested_by_id, req.confirmed_by_id):
        raise E.OwnRequest()
    if not P.can_decide(actor, req):
        raise E.AboutYourself()
    if req.status != S.AWAITING_APPROVAL:
        raise E.NotAwaitingApproval()
    if any(a.approver_id == actor.id for a in req.approvals):
        raise E.AlreadyDecided()


def _close(session, actor, req, target: S, *, ports, outcome: str = "", details: dict | None = None) -> None:
    req.outcome = outcome[:500]
    req.closed_at = ports.clock.now()
    revocation_states.transition(session, req, target, actor=actor, details={"number": req.number, **(details or {})})


def approve(session, actor, req: RevocationRequest, *, note: str = "", ports) -> RevocationRequest:
    """Dual control (DESIGN §3.4): sign-offs are counted under the request row's
    lock, so of two approvers racing, the second sees the first's sign-off and
    the approval that completes the quorum is the one that approves."""
    req = lock_for_update(session, req)
    _check_decider(actor, req)
    now = ports.clock.now()
    req.approvals.append(RevocationApproval(approver_id=actor.id, decision=Decision.APPROVE,
                                            note=(note or "").strip()[:NOTE_MAX], at=now))
    session.flush()
    have, need = signoffs(req), P.settings_of(ports).signoffs_needed
    audit.record(session, actor, "revocation_request.approval", req,
                 {"number": req.number, "signoffs": have, "needed": need})
    if have >= need:
        req.approved_at = now
        revocation_states.transition(session, req, S.APPROVED, actor=actor,
                                     details={"number": req.number, "signoffs": have})
    return req


def reject(session, actor, req: RevocationRequest, *, reason: str, ports) -> RevocationRequest:
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_l("Give the reason for the rejection."), field="reason")
    req = lock_for_update(session, req)
    _check_decider(actor, req)
    req.approvals.append(RevocationApproval(approver_id=actor.id, decision=Decision.REJECT, note=reason[:NOTE_MAX],
                                            at=ports.clock.now()))
    _close(session, actor, req, S.REJECTED, ports=ports, outcome=reason, details={"reason": reason[:500]})
    notifications.outcome(session, req, ports=ports)
    return req


def confirm_lost(session, actor, req: RevocationRequest, *, note: str = "", ports,
                 authorised: bool = False) -> list[RevocationRequest]:
    """An officer confirms a lost-token report: its revocations (one per
    certificate on the token) go to approval; the confirmer counts as the first
    RU staff member and so cannot approve them."""
    if not authorised:
        auth_policy.require(P.can_confirm_lost(actor, req))
    if req.status != S.AWAITING_CONFIRMATION:
        raise E.NotAwaitingConfirmation()
    need = P.settings_of(ports).signoffs_needed
    now = ports.clock.now()
    group = q.siblings(session, req, [S.AWAITING_CONFIRMATION])
    for r in group:
        r.confirmed_by_id = actor.id
        if note:
            r.note = (r.note + "\n" + note.strip()).strip()[:NOTE_MAX]
        target = S.APPROVED if need <= 1 else S.AWAITING_APPROVAL
        if target == S.APPROVED:
            r.approved_at = now
        revocation_states.transition(session, r, target, actor=actor,
                                     details={"number": r.number, "confirmed": "lost", "by": "officer"})
    return group


def confirm_lost_by_holder(session, holder_email: str, requests, *, ports) -> list[RevocationRequest]:
    """The holder's own confirmation that the token is lost, not misplaced: exempt
    from dual control (DESIGN §3.4), approved at once."""
    now = ports.clock.now()
    done = []
    for r in requests:
        if r.status in (S.AWAITING_CONFIRMATION, S.AWAITING_APPROVAL):
            r.approved_at = now
            revocation_states.transition(session, r, S.APPROVED, actor=holder_email,
                                         details={"number": r.number, "confirmed": "lost", "by": "holder"})
            done.append(r)
    return done


def keep_on_hold(session, actor, req: RevocationRequest, *, note: str, ports) -> list[RevocationRequest]:
    """The token was only misplaced: the revocation is cancelled, the hold stays
    until the token is brought to the counter (or a later report revokes it)."""
    auth_policy.require(P.can_confirm_lost(actor, req))
    note = (note or "").strip()
    if not note:
        raise UserError(_l("Say why the token is considered misplaced, not lost."), field="note")
    if req.status != S.AWAITING_CONFIRMATION:
        raise E.NotAwaitingConfirmation()
    group = q.siblings(session, req, [S.AWAITING_CONFIRMATION])
    for r in group:
        _close(session, actor, r, S.CANCELLED, ports=ports, outcome="misplaced, kept on hold: " + note,
               details={"why": "misplaced"})
    return group


def cancel_open_revocations(session, actor, cert, *, ports, why: str) -> list[RevocationRequest]:
    """The token was found (or the certificate is gone): revocations still waiting
    for a confirmation or an approval end. One already approved is at the CA."""
    cancelled = []
    for r in q.open_requests_for(session, cert.id, [x for x in Reason if x.is_revocation]):
        if r.status == S.APPROVED:
            raise E.RevocationUnderway()
        _close(session, actor, r, S.CANCELLED, ports=ports, outcome=why, details={"why": why})
        cancelled.append(r)
    return cancelled


# -- release at the counter (removeFromCRL) ------------------------------------------------------

def check_token_present(session, cert, *, ports) -> None:
    """DESIGN §3.4: the token is in the reader at the counter (PKCS#11
    C_GetTokenInfo finds its serial number)."""
    from ra.tokens.errors import TokenNotPresent
    from ra.tokens.models import Token

    if cert.token_id is None:
        raise E.NoTokenOnRecord()
    token = session.get(Token, cert.token_id)
    try:
        ports.tokens.slot(token.serial)
    except TokenNotPresent:
        raise E.TokenMustBePresent(serial=token.serial) from None


def release_at_counter(session, actor, cert, *, ports, note: str = "", token_checked: bool = False,
                       authorised: bool = False) -> RevocationRequest:
    """Releases a hold with the token present; open revocations of the
    certificate (waiting for confirmation or approval) end as "token found"."""
    if not authorised:
        auth_policy.require(P.can_release_at_counter(actor, cert))
    if cert.status == CertificateStatus.REVOKED:
        raise E.AlreadyRevoked()
    if cert.status != CertificateStatus.SUSPENDED:
        raise E.NotOnHold()
    if not token_checked:
        check_token_present(session, cert, ports=ports)
    cancel_open_revocations(session, actor, cert, ports=ports, why="token found at the counter")
    return new_request(session, actor, cert, Reason.REMOVE_FROM_CRL, status=S.APPROVED, ports=ports,
                       channel=Channel.OFFICER, note=note)
