"""Step-up before a sensitive action (a lost-token report, a PIN unblock request):
the logged-in holder gets a fresh one-time code at the registered work e-mail and
types it back. Eight digits from ``secrets``, single use, 10 minutes, five wrong
tries, bound to the account, the action and its target (the token), at most five
codes an hour per account; only a salted SHA-256 is stored, and the code is sent
straight after the commit, never through the outbox (``ra.mail.direct``).
OWASP ASVS 2.7 (out-of-band verifiers) and 2.2.1 (anti-automation)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from ra import audit
from ra.errors import TooManyRequests, UserError
from ra.holder import queries as q
from ra.holder.models import StepUpCode
from ra.i18n import _l
from ra.mail.direct import CodeMail, send_code

CODE_MINUTES = 10
MAX_WRONG = 5
CODES_PER_HOUR = 5
PURPOSES = ("lost_token", "unblock")


class StepUpRefused(UserError):
    status = 400
    code = "step_up_refused"
    default_message = _l("The code is not right, or it has expired or been used. Ask for a new code.")


class StepUpThrottled(TooManyRequests):
    code = "step_up_throttled"
    default_message = _l("Five codes were sent in the last hour. Try again later.")


def _digest(user_id: int, purpose: str, target: str, code: str) -> str:
    code = "".join(str(code or "").split())
    return hashlib.sha256(f"ra/holder/step-up/{user_id}/{purpose}/{target}/{code}".encode()).hexdigest()


def send(session, user, holder, purpose: str, target: str, *, ports) -> CodeMail:
    """A new code for ``purpose`` on ``target``; earlier open ones for the same end."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    now = ports.clock.now()
    if q.step_up_codes_since(session, user, now - timedelta(hours=1)) >= CODES_PER_HOUR:
        audit.record(session, user, "holder.step_up_throttled", user, {"purpose": purpose})
        raise StepUpThrottled()
    for old in _open(session, user, purpose, target, now):
        old.used_at = now  # replaced: only the newest code works
    code = f"{secrets.randbelow(10 ** 8):08d}"
    row = StepUpCode(user_id=user.id, purpose=purpose, target=str(target), created_at=now,
                     expires_at=now + timedelta(minutes=CODE_MINUTES), failed_attempts=0,
                     code_digest=_digest(user.id, purpose, str(target), code))
    session.add(row)
    session.flush()
    audit.record(session, user, "holder.step_up_sent", row, {"purpose": purpose, "target": str(target),
                                                              "sent_to": holder.email})
    subject, body = ports.notifier.render("holder_step_up", user.locale, {
        "holder": holder, "code": code, "minutes": CODE_MINUTES, "purpose": purpose})
    return CodeMail(holder.email, subject, body)


def deliver(mail: CodeMail, *, ports) -> bool:
    return send_code(mail, ports=ports, purpose="step-up")


def _open(session, user, purpose: str, target: str, now) -> list[StepUpCode]:
    return list(session.execute(sa.select(StepUpCode).where(
        StepUpCode.user_id == user.id, StepUpCode.purpose == purpose, StepUpCode.target == str(target),
        StepUpCode.used_at.is_(None), StepUpCode.expires_at > now)).scalars())


def consume(session, user, purpose: str, target: str, code: str, *, ports) -> None:
    """Spends the open code for ``purpose`` on ``target`` or raises ``StepUpRefused``
    (the caller commits a refusal too: a wrong try counts)."""
    now = ports.clock.now()
    rows = _open(session, user, purpose, target, now)
    if not rows:
        audit.record(session, user, "holder.step_up_refused", user, {"purpose": purpose, "why": "none_open"})
        raise StepUpRefused()
    row = rows[-1]
    if row.code_digest != _digest(user.id, purpose, str(target), code):
        row.failed_attempts += 1
        if row.failed_attempts >= MAX_WRONG:
            row.used_at = now  # locked: a new code must be asked for
        audit.record(session, user, "holder.step_up_refused", row, {"purpose": purpose,
                                                                    "failed_attempts": row.failed_attempts})
        raise StepUpRefused()
    row.used_at = now
    audit.record(session, user, "holder.step_up_used", row, {"purpose": purpose, "target": str(target)})
