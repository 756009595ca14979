"""The holder's lost-token report (DESIGN §3.4): open at any hour, from a phone,
with nothing but the registered e-mail and the token's serial number.

1. ``report_lost``: if the e-mail is the registered address of the holder of the
   handed-over token, a one-time code goes to it. The answer is the same either
   way — the same status and the same shape, with a fresh receipt number every
   time: the report's own reference is only in the e-mail, so the answer cannot
   tell whether e-mail and serial matched, and nobody but the mailbox's owner can
   aim wrong codes at the report. While a code is open (30 minutes), another
   report counts on it instead of sending another e-mail; at most three codes per
   token and hour go out, and a report beyond that is kept for the officer
   (``not_sent``). The client's limit comes first: reports from one client
   address beyond 10 in 10 minutes are answered 429 and audited, and count on no
   token, so a stranger's flood can neither fill the holder's mailbox nor use up
   the holder's codes.
2. ``confirm_report``: the code (80 random bits, single use, 30 minutes, stored
   only as its SHA-256) names its report by itself; the e-mail's link also names
   it, and wrong codes aimed at that link count against the report (five lock
   it). A valid code suspends the token and puts its certificates on hold at
   once; their revocation (keyCompromise) waits for the holder's own "lost, not
   misplaced" — which needs no second approver — or an officer's confirmation.

Services only flush; the entry points commit (and commit before answering with a
``Recorded`` refusal). The code goes out straight after the response, never
through the outbox, so it is never in the database in clear.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from ra import audit, throttle
from ra.auth.service import normalise_email
from ra.ca.states import CertificateStatus
from ra.enrollment import register_number as rn
from ra.mail.direct import CodeMail, send_code
from ra.revocation import errors as E
from ra.revocation import notifications
from ra.revocation import queries as q
from ra.revocation import service
from ra.revocation.models import LostTokenReport, RevocationThrottle
from ra.revocation.states import Channel, LostReportStatus, Reason, RevocationStatus, lost_report_states
from ra.tokens.states import TokenStatus, token_states

log = logging.getLogger("ra.revocation.lost")
L = LostReportStatus

CODE_MINUTES = 30
MAX_WRONG_CODES = 5
CODES_PER_TOKEN_PER_HOUR = 3
REPORTS_PER_ADDRESS = 10
REPORT_WINDOW = timedelta(minutes=10)
PROOFS_PER_ADDRESS = 30
PROOF_WINDOW = timedelta(hours=1)
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
CODE_LENGTH = 16
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
REPORTABLE = (TokenStatus.ACTIVE, TokenStatus.SUSPENDED)


# -- codes -----------------------------------------------------------------------------------

def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(text) -> str | None:
    """What the holder typed, as the code it means (case, dashes, spaces and the
    look-alikes O/I/L forgiven); None if it cannot be a code."""
    raw = "".join(str(text or "").upper().split()).replace("-", "").translate(_LOOKALIKES)
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return raw


def code_digest(code) -> str | None:
    raw = normalise_code(code)
    return hashlib.sha256(f"ra/lost-token/code/{raw}".encode()).hexdigest() if raw else None


# -- throttle -----------------------------------------------------------------------------------

def _hit(session, scope: str, value: str, limit: int, window: timedelta, now) -> bool:
    return throttle.hit(session, RevocationThrottle.__table__, f"revocation/{scope}:{value}", limit, window, now)


# -- 1. the report ------------------------------------------------------------------------------

@dataclass
class Asked:
    """What the reporter is told: a receipt number that is fresh every time and
    names nothing (the report's reference goes only to the registered mailbox)."""
    receipt: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    mail: CodeMail | None = None
    throttled: bool = False


def report_lost(session, *, email: str, serial: str, client: str, ports) -> Asked:
    email, serial = normalise_email(email)[:254], (serial or "").strip()[:64]
    now = ports.clock.now()
    if not _hit(session, "report-address", client, REPORTS_PER_ADDRESS, REPORT_WINDOW, now):
        # Before anything about the token: an over-eager client uses up its own
        # allowance, never the holder's.
        audit.record(session, "anonymous", "lost_token_report.throttled", None,
                     {"serial": serial[:32], "client": client})
        return Asked(throttled=True)
    token = q.token_by_serial(session, serial)
    holder = q.holder_of_token(session, token) if token is not None else None
    if token is None or holder is None or token.status not in REPORTABLE or normalise_email(holder.email) != email:
        audit.record(session, "anonymous", "lost_token_report.unmatched", None,
                     {"serial": serial[:32], "client": client})
        return Asked()
    return _ask(session, token, holder, client=client, now=now, ports=ports)


def report_lost_by_person(session, *, email: str, register_number: str, client: str, ports) -> Asked:
    """The report from someone who does not have the token's serial at hand (it is
    printed on the lost token and on the receipt): the register number, in either
    form, and one of the person's registered work e-mails. The answer is the same
    as ``report_lost``'s whether or not they match; the code goes to the e-mail,
    and its confirmation lets the holder pick which of their tokens are lost."""
    email = normalise_email(email)[:254]
    number = rn.searchable(register_number)[:16]
    now = ports.clock.now()
    if not _hit(session, "report-address", client, REPORTS_PER_ADDRESS, REPORT_WINDOW, now):
        audit.record(session, "anonymous", "lost_token_report.throttled", None, {"client": client})
        return Asked(throttled=True)
    found = [(token, holder) for token, holder in q.reportable_tokens_of_person(session, number, REPORTABLE)
             if normalise_email(holder.email) == email]
    if not found:
        audit.record(session, "anonymous", "lost_token_report.unmatched", None, {"client": client, "by": "person"})
        return Asked()
    token, holder = found[0]
    return _ask(session, token, holder, client=client, now=now, ports=ports)


def _ask(session, token, holder, *, client: str, now, ports) -> Asked:
    """A matched report: a code to the registered e-mail, unless one is open or
    the token's codes for the hour are used up."""
    open_report = q.open_report(session, token, now)
    if open_report is not None:  # a code is out: count it, send nothing
        open_report.reports += 1
        open_report.last_report_at = now
        audit.record(session, holder.email, "lost_token_report.repeated", open_report,
                     {"serial": token.serial, "reports": open_report.reports, "client": client})
        return Asked()
    common = dict(reference=secrets.token_urlsafe(16), token_id=token.id, holder_id=holder.id, email=holder.email,
                  client=client[:64], created_at=now, last_report_at=now, reports=1, failed_attempts=0,
                  certainly_lost=False)
    if q.codes_sent_since(session, token, now - timedelta(hours=1)) >= CODES_PER_TOKEN_PER_HOUR:
        report = LostTokenReport(status=L.NOT_SENT, code_digest=None, expires_at=now, **common)
        session.add(report)
        session.flush()
        audit.record(session, holder.email, "lost_token_report.not_sent", report,
                     {"serial": token.serial, "client": client, "why": "codes_per_hour"})
        return Asked()
    code = new_code()
    report = LostTokenReport(status=L.CODE_SENT, code_digest=code_digest(code),
                             expires_at=now + timedelta(minutes=CODE_MINUTES), **common)
    session.add(report)
    session.flush()
    audit.record(session, holder.email, "lost_token_report.received", report, {
        "serial": token.serial, "holder_id": holder.id, "sent_to": holder.email, "client": client,
        "expires_at": report.expires_at.isoformat()})
    subject, body = ports.notifier.render("lost_token_code", holder.locale or "mn", {
        "holder": holder, "token": token, "code": code, "minutes": CODE_MINUTES, "reference": report.reference,
        "confirm_url": f"{ports.base_url}/lost-token/{report.reference}"})
    return Asked(mail=CodeMail(holder.email, subject, body))


def deliver_code(mail: CodeMail, *, ports) -> bool:
    """Sent straight away, after the commit, not through the outbox (``ra.mail.direct``)."""
    return send_code(mail, ports=ports, purpose="lost-token")


# -- 2. the confirmation --------------------------------------------------------------------------

@dataclass
class Confirmed:
    report: LostTokenReport
    requests: list = field(default_factory=list)
    holds_possible: bool = True


def confirm_report(session, *, reference: str, code: str, lost: bool, client: str, ports,
                   picked: list[str] | None = None) -> Confirmed:
    """``picked``: the serials of the person's tokens to report (``tokens_to_pick``);
    None reports the token the code was sent for."""
    report = proved(session, reference=reference, code=code, client=client, ports=ports)
    now = ports.clock.now()
    if picked is None:
        return carry_out_report(session, report, lost=lost, client=client, now=now, ports=ports)
    return _carry_out_picked(session, report, picked, lost=lost, client=client, now=now, ports=ports)


def tokens_to_pick(session, report: LostTokenReport) -> list:
    """The tokens a proved report may cover: every reportable token handed to the
    same person (by register number), in any of their organisations."""
    return [token for token, _ in q.reportable_tokens_of_person(session, report.holder.register_number, REPORTABLE)]


def _carry_out_picked(session, report, picked: list[str], *, lost: bool, client: str, now, ports) -> Confirmed:
    mine = {token.serial: token for token in tokens_to_pick(session, report)}
    chosen = [mine[s] for s in dict.fromkeys(picked) if s in mine]
    if not chosen:
        raise E.NothingPicked()
    if report.token not in chosen:  # the code proves the person; the report is about what they picked
        report.token = chosen[0]
    done = carry_out_report(session, report, lost=lost, client=client, now=now, ports=ports)
    for token in chosen:
        if token is report.token:
            continue
        holder = q.holder_of_token(session, token)
        more = carry_out_report(session, _proved_report(session, holder, token, client=client, now=now, details={
            "proved_by": report.reference}), lost=lost, client=client, now=now, ports=ports)
        done.requests += more.requests
    return done


def proved(session, *, reference: str, code: str, client: str, ports) -> LostTokenReport:
    """The open report that ``code`` proves; a refusal otherwise (wrong codes count
    against the report the e-mail's link names). Changes nothing of a proved one."""
    now = ports.clock.now()
    if not _hit(session, "prove-address", client, PROOFS_PER_ADDRESS, PROOF_WINDOW, now):
        audit.record(session, "anonymous", "lost_token_report.throttled", None, {"client": client})
        raise E.ProofsThrottled()
    named = q.report_by_reference(session, reference)  # the e-mail's link names its report
    digest = code_digest(code)
    report = named if named is not None and digest is not None and named.code_digest == digest else (
        q.report_by_code_digest(session, digest) if digest is not None else None)
    if report is None:
        _wrong_code(session, named, reference, client, now)
        raise E.CodeRefused()
    if report.status == L.CONFIRMED:
        raise E.CodeUsed()
    if report.status == L.LOCKED:
        raise E.CodeLocked()
    if report.status == L.EXPIRED or now >= report.expires_at:
        expire(session, report)
        raise E.CodeExpired(minutes=CODE_MINUTES)
    return report


def report_signed_in(session, holder, token, *, lost: bool, client: str, ports) -> Confirmed:
    """The holder, logged in and proved by a fresh step-up code (``ra.holder``),
    reports their token: the same report and the same effects as a confirmed
    e-mailed code, at once."""
    now = ports.clock.now()
    if token.status not in REPORTABLE:
        raise E.TokenNotReportable()
    report = _proved_report(session, holder, token, client=client, now=now, details={"channel": "holder_account"})
    return carry_out_report(session, report, lost=lost, client=client, now=now, ports=ports)


def _proved_report(session, holder, token, *, client: str, now, details: dict) -> LostTokenReport:
    """A report proved otherwise than by its own code (a signed-in holder's step-up,
    or the code of the person's report for another token), ready to carry out."""
    report = LostTokenReport(reference=secrets.token_urlsafe(16), token_id=token.id, holder_id=holder.id,
                             email=holder.email, client=client[:64], created_at=now, last_report_at=now, reports=1,
                             failed_attempts=0, certainly_lost=False, status=L.CODE_SENT, code_digest=None,
                             expires_at=now)
    session.add(report)
    session.flush()
    audit.record(session, holder.email, "lost_token_report.received", report, {
        "serial": token.serial, "holder_id": holder.id, "client": client, **details})
    return report


def carry_out_report(session, report: LostTokenReport, *, lost: bool, client: str, now, ports) -> Confirmed:
    """A proved report: the token suspended and its certificates on hold at once,
    their revocation (keyCompromise) awaiting confirmation — or confirmed now
    when the holder says the token is lost for certain."""
    token, holder = report.token, report.holder
    if token.status not in REPORTABLE:
        raise E.TokenNotReportable()
    report.confirmed_at, report.certainly_lost = now, bool(lost)
    lost_report_states.transition(session, report, L.CONFIRMED, actor=holder.email, details={
        "serial": token.serial, "lost": bool(lost), "client": client})
    done = Confirmed(report, holds_possible=bool(ports.ca.supports_hold))
    if token.status == TokenStatus.ACTIVE:
        token_states.transition(session, token, TokenStatus.SUSPENDED, actor=holder.email, details={
            "serial": token.serial, "reason": f"lost-token report {report.reference}",
            "certificate_effect": {"action": "hold", "reason": Reason.CERTIFICATE_HOLD.value, "state": "done"}})
        token.status_changed_at = now
    revocations = []
    for cert in q.certificates_on_token(session, token.id, [CertificateStatus.VALID, CertificateStatus.SUSPENDED]):
        held = service.hold(session, holder.email, cert, ports=ports, channel=Channel.HOLDER, lost_report=report,
                            received_at=now)
        done.requests += [held] if held is not None else []
        existing = q.open_revocation_for(session, cert.id)
        if existing is None:
            existing = service.new_request(
                session, holder.email, cert, Reason.KEY_COMPROMISE, status=RevocationStatus.AWAITING_CONFIRMATION,
                ports=ports, channel=Channel.HOLDER, lost_report=report, received_at=now,
                invalidity_date=report.created_at.replace(microsecond=0))
            done.requests.append(existing)
        revocations.append(existing)
    if lost:
        confirmed = service.confirm_lost_by_holder(
            session, holder.email, [r for r in revocations if r.reason == Reason.KEY_COMPROMISE], ports=ports)
        done.requests += [r for r in confirmed if r not in done.requests]  # an earlier report's, now confirmed
    notifications.lost_report_confirmed(session, report, done.requests, holds_possible=done.holds_possible,
                                        ports=ports)
    return done


def _wrong_code(session, report, reference: str, client: str, now) -> None:
    """A wrong code counts against an open report (five lock it); the answer is
    the same whether or not the report exists."""
    if report is None or report.status != L.CODE_SENT or now >= report.expires_at:
        audit.record(session, "anonymous", "lost_token_report.code_refused", None,
                     {"reference": str(reference or "")[:32], "client": client})
        return
    report.failed_attempts += 1
    audit.record(session, "anonymous", "lost_token_report.code_refused", report,
                 {"failed_attempts": report.failed_attempts, "client": client})
    if report.failed_attempts >= MAX_WRONG_CODES:
        lost_report_states.transition(session, report, L.LOCKED, actor="system",
                                      details={"failed_attempts": report.failed_attempts})


def expire(session, report: LostTokenReport) -> None:
    if report.status == L.CODE_SENT:
        lost_report_states.transition(session, report, L.EXPIRED, actor="system", details={})


def expire_stale(session, *, ports) -> int:
    """The worker's housekeeping: open codes past their 30 minutes."""
    stale = q.expired_reports(session, ports.clock.now())
    for report in stale:
        expire(session, report)
    return len(stale)
