"""Holder accounts (DESIGN §2, role ``holder``): one per person, keyed on the state
register number, logging in with any of the person's registered work e-mails.

The account is made when the person first receives a certificate (the handover's
``record_issuance``) or when a registration officer or RU officer opens it for an
existing holder. It has no password until the holder follows an activation link:
256 random bits, single use, 72 hours, kept only as a SHA-256 digest, and e-mailed
straight after the commit, never through the outbox (``ra.mail.direct``), so the
link is never in the database in clear. The password policy and the login
throttle are the staff's own (``ra.auth.service``).

Services only flush; the entry points commit and then send the returned mail.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa

from ra import audit
from ra.auth.models import User
from ra.auth.roles import Role
from ra.auth.service import check_password_strength, normalise_email
from ra.errors import Conflict, PermissionDenied, UserError
from ra.holder import queries as q
from ra.holder.models import HolderActivation
from ra.i18n import _l
from ra.mail.direct import CodeMail, send_code

log = logging.getLogger("ra.holder")

ACTIVATION_HOURS = 72
LINKS_PER_HOUR = 3


class LinkRefused(UserError):
    status = 400
    code = "activation_refused"
    default_message = _l("This activation link is not valid. It may have been used already or expired; "
                         "ask for a new one.")


def secret_digest(secret: str) -> str:
    return hashlib.sha256(f"ra/holder/activation/{secret}".encode()).hexdigest()


def can_open_account(actor, holder) -> bool:
    """The holder's own registration officer, or an RU officer or manager."""
    role = getattr(actor, "role", None) if getattr(actor, "is_authenticated", True) else None
    if role == Role.ORG_REGISTRAR:
        return holder is not None and actor.organisation_id == holder.organisation_id
    return role in (Role.RA_OFFICER, Role.RA_MANAGER)


def ensure_account(session, actor, holder) -> tuple[User, bool]:
    """The person's account, made if missing (True when made now)."""
    user = q.account_for(session, holder.register_number)
    if user is not None:
        return user, False
    email = normalise_email(holder.email)
    if session.execute(sa.select(User.id).where(User.email == email)).first():
        # The address already logs in to another account (a registration officer
        # who also holds a certificate): the holder account answers to the
        # person's other registered e-mails, and its own row needs a unique key.
        email = f"holder-{secrets.token_hex(6)}@holder.invalid"
    user = User(email=email, role=Role.HOLDER, full_name=holder.full_name, locale=holder.locale or "mn",
                register_number=holder.register_number, organisation_id=None, password_hash=None)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", user, {"role": Role.HOLDER.value, "holder_id": holder.id,
                                                         "organisation_id": holder.organisation_id})
    return user, True


def on_certificate_issued(session, actor, holder, *, ports) -> None:
    """HOOK from ``orders_service.record_issuance``: the first certificate makes the
    account, and the holder is told (without any secret, so through the outbox)
    where to ask for the activation link."""
    user, made = ensure_account(session, actor, holder)
    if made:
        ports.notifier.notify(session, to=holder.email, locale=holder.locale or "mn", template="holder_account_ready",
                              context={"holder": holder, "activate_url": f"{ports.base_url}/me/activate"})


def open_account(session, actor, holder, *, ports) -> CodeMail:
    """The registrar's button: the account (if missing) and an activation link."""
    if not can_open_account(actor, holder):
        raise PermissionDenied()
    user, _ = ensure_account(session, actor, holder)
    if user.password_hash is not None:
        raise Conflict(_l("This holder has already activated their account."))
    mail = _new_link(session, actor, user, holder, ports=ports)
    if mail is None:
        raise UserError(_l("Three activation links were sent in the last hour. Try again later."))
    return mail


def request_link(session, *, email: str, client: str, ports) -> CodeMail | None:
    """The public "send me my activation link": the answer is the same whether or
    not ``email`` belongs to a holder; a link goes out only to a registered work
    e-mail of a holder whose account is not yet activated, at most three an hour."""
    email = normalise_email(email)[:254]
    user = q.account_by_work_email(session, email)
    if user is None or user.password_hash is not None:
        audit.record(session, "anonymous", "holder.activation_unmatched", None, {"client": client})
        return None
    holder = next((h for h in q.holders_of_person(session, user.register_number)
                   if normalise_email(h.email) == email), None)
    return _new_link(session, email, user, holder, ports=ports, client=client)


def _new_link(session, actor, user: User, holder, *, ports, client: str | None = None) -> CodeMail | None:
    now = ports.clock.now()
    if q.links_sent_since(session, user, now - timedelta(hours=1)) >= LINKS_PER_HOUR:
        audit.record(session, actor, "holder.activation_not_sent", user, {"why": "links_per_hour"})
        return None
    secret = secrets.token_urlsafe(32)
    link = HolderActivation(user_id=user.id, secret_digest=secret_digest(secret), email=holder.email,
                            created_at=now, expires_at=now + timedelta(hours=ACTIVATION_HOURS))
    session.add(link)
    session.flush()
    audit.record(session, actor, "holder.activation_sent", user, {
        "sent_to": holder.email, "expires_at": link.expires_at.isoformat(), **({"client": client} if client else {})})
    subject, body = ports.notifier.render("holder_activation", user.locale, {
        "holder": holder, "hours": ACTIVATION_HOURS, "url": f"{ports.base_url}/me/activate/{secret}"})
    return CodeMail(holder.email, subject, body)


def deliver(mail: CodeMail | None, *, ports) -> bool:
    return mail is not None and send_code(mail, ports=ports, purpose="holder-activation")


def valid_link(session, secret: str, *, ports) -> HolderActivation:
    link = session.execute(sa.select(HolderActivation).where(
        HolderActivation.secret_digest == secret_digest(secret or ""))).scalar_one_or_none()
    if link is None or link.used_at is not None or ports.clock.now() >= link.expires_at:
        raise LinkRefused()
    return link


def activate(session, *, secret: str, password: str, ports) -> User:
    """Follows the link once: sets the password (the staff's policy) and ends any
    other session of the account."""
    link = valid_link(session, secret, ports=ports)
    check_password_strength(password or "")
    user = link.user
    link.used_at = ports.clock.now()
    user.password_hash = ports.passwords.hash(password)
    user.session_version += 1
    for other in session.execute(sa.select(HolderActivation).where(
            HolderActivation.user_id == user.id, HolderActivation.used_at.is_(None))).scalars():
        other.used_at = link.used_at  # one activation ends every other open link
    audit.record(session, user, "holder.activated", user, {"link": link.id})
    return user
