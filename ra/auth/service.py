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

# Login throttling (OWASP ASVS 2.2.1, NIST SP 800-63B §5.2.2). The client's own
# limit comes first, so password spraying across accounts from one address stops,
# and a stranger's failures never count against someone else's account; then an
# exponential back-off per account and client address (a stranger slows down only
# themselves), and a later one per account over every address (a guess spread over
# many addresses). Refused attempts do not check the password and do not count.
CLIENT_FAILURES = 30                     # failed logins per client address …
CLIENT_WINDOW = timedelta(minutes=15)    # … in this window
PAIR_FREE_FAILURES = 5                   # per account from one address, before back-off
ACCOUNT_FREE_FAILURES = 20               # per account from every address, before back-off
BACKOFF_MAX = timedelta(minutes=15)
FAILURES_FORGOTTEN = timedelta(hours=1)  # a run of failures this old starts again


@dataclass
class LoginOutcome:
    user: User | None = None
    retry_after: int | None = None       # seconds, when the attempt was refused unchecked

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def backoff(failures: int, free: int) -> timedelta:
    """1 s after the first failure past ``free``, doubling, at most ``BACKOFF_MAX``."""
    if failures <= free:
        return timedelta(0)
    return min(BACKOFF_MAX, timedelta(seconds=2 ** min(failures - free - 1, 20)))


def _row(session, key: str) -> LoginThrottle:
    """Upsert, then lock: concurrent first logins with one key each count, and
    none fails on the primary key."""
    insert_missing(session, LoginThrottle.__table__, {"email": key, "failures": 0}, ["email"])
    return session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)


def _client_key(remote_addr: str | None) -> str:
    # Not an e-mail address (no "@"), so it never meets an account's row.
    return "client:" + token_digest(remote_addr or "-")


def _pair_key(email: str, remote_addr: str | None) -> str:
    return "pair:" + token_digest(f"{email}\n{remote_addr or '-'}")


def authenticate(session, email: str, password: str, *, ports, remote_addr: str | None = None) -> LoginOutcome:
    """Checks a password login under the throttles above; every attempt, refused or
    failed or not, is audited (CA/B Forum BR §5.4.1). The caller commits whatever
    the outcome, so failures are recorded."""
    email = normalise_email(email)
    now = ports.clock.now()
    details = {"ip": remote_addr}
    client = _row(session, _client_key(remote_addr))
    if client.locked_until and client.locked_until > now:
        audit.record(session, email, "login.refused_throttled", None, details)
        log.warning("login refused: client %s over its limit", remote_addr)
        return LoginOutcome(retry_after=_seconds(client.locked_until - now))
    pair, account = _row(session, _pair_key(email, remote_addr)), _row(session, email)
    waits = [t.locked_until for t in (pair, account) if t.locked_until and t.locked_until > now]
    if waits:
        audit.record(session, email, "login.refused_backoff", None, details)
        log.warning("login refused: back-off for %s from %s", email, remote_addr)
        return LoginOutcome(retry_after=_seconds(max(waits) - now))

    user = user_for_login(session, email)
    if ports.passwords.verify(user.password_hash if user else None, password or "") and user.is_enabled:
        for t in (pair, account):
            t.failures, t.first_failure_at, t.locked_until = 0, None, None
        audit.record(session, user, "login.succeeded", user, details)
        log.info("login succeeded: user %s from %s", user.id, remote_addr)
        return LoginOutcome(user=user)

    _count(client, now, CLIENT_WINDOW)
    if client.failures >= CLIENT_FAILURES:
        client.locked_until = client.first_failure_at + CLIENT_WINDOW
    for t, free in ((pair, PAIR_FREE_FAILURES), (account, ACCOUNT_FREE_FAILURES)):
        _count(t, now, FAILURES_FORGOTTEN)
        wait = backoff(t.failures, free)
        t.locked_until = now + wait if wait else None
    details.update(failures=pair.failures, account_failures=account.failures)
    delay = max((t.locked_until for t in (client, pair, account) if t.locked_until), default=None)
    if delay is not None:
        details["retry_after"] = _seconds(delay - now)
    audit.record(session, email, "login.failed", user, details)
    log.info("login failed: %s from %s (%d in a row)", email, remote_addr, pair.failures)
    return LoginOutcome()


_HOLDER = sa.table("holder", sa.column("register_number"), sa.column("email"), sa.column("status"))


def user_for_login(session, email: str) -> User | None:
    """The account with this e-mail or, for a holder (one account per person, DESIGN
    §2), the account of the person one of whose registered work e-mails it is."""
    user = session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None:
        return user
    person = sa.select(_HOLDER.c.register_number).where(sa.func.lower(_HOLDER.c.email) == email,
                                                       _HOLDER.c.status == "active")
    return session.execute(sa.select(User).where(User.role == Role.HOLDER, User.register_number.in_(person))
                           .limit(1)).scalar_one_or_none()


def _count(throttle: LoginThrottle, now, window: timedelta) -> None:
    if throttle.first_failure_at is None or now - throttle.first_failure_at > window:
        throttle.failures, throttle.first_failure_at = 0, now
    throttle.failures += 1


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


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
    user.session_version += 1  # every session of the account ends (ASVS 3.3.x)
    audit.record(session, actor, "user.role_changed", user, {"from": old.value, "to": role.value})


def end_sessions(session, actor, user: User, *, why: str) -> None:
    """Ends every session of ``user``, on every device: each session carries the
    account's session version, checked on every request (``ra.auth.session``), so
    bumping it makes every copy of every cookie worthless (ASVS 3.3.1, 3.3.3)."""
    user.session_version += 1
    audit.record(session, actor, "user.sessions_ended", user, {"why": why})


def change_password(session, user: User, current: str, new: str, *, ports) -> None:
    """The account's own password change: the current password first; every other
    session of the account ends (the caller starts a new one for this browser)."""
    if not ports.passwords.verify(user.password_hash, current or ""):
        raise UserError(_l("The current password is wrong."), field="current")
    check_password_strength(new or "")
    user.password_hash = ports.passwords.hash(new)
    end_sessions(session, user, user, why="password_changed")
    audit.record(session, user, "user.password_changed", user, {})
