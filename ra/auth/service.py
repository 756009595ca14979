"""Accounts: login with throttling, account creation, API tokens."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from ra import audit
from ra.auth.models import LoginThrottle, User
from ra.auth.roles import Role
from ra.db import insert_missing
from ra.errors import Conflict, UserError
from ra.i18n import _l
from ra.ports import token_digest

log = logging.getLogger("ra.auth")

MAX_FAILURES = 10
LOCK_MINUTES = 15


@dataclass
class LoginOutcome:
    user: User | None = None
    locked: bool = False


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def authenticate(session, email: str, password: str, *, ports, remote_addr: str | None = None) -> LoginOutcome:
    """Checks a password login. The 11th failure in a row within 15 minutes locks the
    e-mail for 15 minutes (OWASP ASVS 2.2.1); every attempt is audited. The caller
    commits whatever the outcome, so failures are recorded."""
    email = normalise_email(email)
    now = ports.clock.now()
    # Upsert, then lock: concurrent first logins of one e-mail each count, none fails.
    insert_missing(session, LoginThrottle.__table__, {"email": email, "failures": 0}, ["email"])
    throttle = session.get(LoginThrottle, email, with_for_update=True, populate_existing=True)
    details = {"ip": remote_addr}
    if throttle.locked_until and throttle.locked_until > now:
        audit.record(session, email, "login.refused_locked", None, details)
        log.warning("login refused: account locked (%s from %s)", email, remote_addr)
        return LoginOutcome(locked=True)

    user = session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if ports.passwords.verify(user.password_hash if user else None, password or "") and user.is_enabled:
        throttle.failures = 0
        throttle.first_failure_at = None
        throttle.locked_until = None
        audit.record(session, user, "login.succeeded", user, details)
        log.info("login succeeded: user %s from %s", user.id, remote_addr)
        return LoginOutcome(user=user)

    if throttle.first_failure_at is None or now - throttle.first_failure_at > timedelta(minutes=LOCK_MINUTES):
        throttle.failures = 0
        throttle.first_failure_at = now
    throttle.failures += 1
    details["failures"] = throttle.failures
    if throttle.failures > MAX_FAILURES:
        throttle.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        throttle.failures = 0
        throttle.first_failure_at = None
        audit.record(session, email, "login.locked", user, details)
        log.warning("login locked for %d minutes: %s from %s", LOCK_MINUTES, email, remote_addr)
        return LoginOutcome(locked=True)
    audit.record(session, email, "login.failed", user, details)
    log.info("login failed: %s from %s (%d in a row)", email, remote_addr, throttle.failures)
    return LoginOutcome()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise UserError(_l("The password must be at least 10 characters long."), field="password")


def create_user(session, actor, *, email: str, role: Role, full_name: str = "", organisation=None,
                password: str | None = None, locale: str = "mn", ports) -> tuple[User, str | None]:
    """Returns the user and, when none was given, the generated password (shown once)."""
    email = normalise_email(email)
    if session.execute(sa.select(User.id).where(User.email == email)).first():
        raise Conflict(_l("An account with this e-mail already exists."), field="email")
    if role in (Role.ORG_REGISTRAR, Role.HOLDER) and organisation is None:
        raise UserError(_l("This role needs an organisation."), field="organisation")
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password_strength(password)
    user = User(email=email, role=role, full_name=full_name, locale=locale,
                organisation_id=organisation.id if organisation is not None else None,
                password_hash=ports.passwords.hash(password))
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", user,
                 {"email": email, "role": role.value, "organisation_id": user.organisation_id})
    return user, generated


def issue_api_token(session, actor, user: User) -> str:
    """A new bearer token replaces the old one; only its hash is kept."""
    token = "ra_" + secrets.token_urlsafe(32)
    user.api_token_hash = token_digest(token)
    audit.record(session, actor, "user.api_token_issued", user, {})
    return token


def user_for_token(session, token: str) -> User | None:
    if not token:
        return None
    user = session.execute(sa.select(User).where(User.api_token_hash == token_digest(token))).scalar_one_or_none()
    return user if user is not None and user.is_enabled else None


def set_locale(session, user: User, locale: str) -> None:
    if locale not in ("mn", "en"):
        raise UserError(_l("Unknown language."))
    if user.locale != locale:
        user.locale = locale
        audit.record(session, user, "user.settings_changed", user, {"locale": locale})


def change_role(session, actor, user: User, role: Role) -> None:
    old = user.role
    user.role = role
    user.session_version += 1
    audit.record(session, actor, "user.role_changed", user, {"from": old.value, "to": role.value})
