"""Login throttling: per client address first (password spraying stops; a stranger
counts against nobody else), then an exponential back-off per account and address,
and a later one per account over every address. Every failure and every refusal
is in the audit log (CA/B Forum BR §5.4.1)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.auth import service
from ra.auth.roles import Role
from ra.extensions import db
from ra.ports import FrozenClock
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_staff

STRANGER, OWNER = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def clock(app, monkeypatch):
    ports = app.extensions["ra.ports"]
    frozen = FrozenClock(ports.clock.now())
    monkeypatch.setattr(ports, "clock", frozen)
    return frozen


def _user(app, role=Role.RA_OFFICER) -> str:
    with app.app_context():
        user = make_staff(db.session, app.extensions["ra.ports"], role)
        db.session.commit()
        return user.email


def _login(app, email, password, ip):
    client = app.test_client()
    page = client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    return client.post("/login", environ_base={"REMOTE_ADDR": ip},
                       data={"email": email, "password": password, "csrf_token": csrf_from(page)})


def _actions(app, email):
    with app.app_context():
        return [a for (a,) in db.session.execute(sa.select(AuditRecord.action).where(
            AuditRecord.actor == email, AuditRecord.action.like("login.%")).order_by(AuditRecord.seq))]


def test_a_stranger_cannot_lock_the_admin_out(app, clock):
    admin = _user(app, Role.ADMIN)
    for _ in range(40):  # an hour of patient guessing, waiting out each back-off
        _login(app, admin, "guess", STRANGER)
        clock.at += timedelta(seconds=90)
    assert _login(app, admin, "guess", STRANGER).status_code == 429   # the stranger is slowed down
    assert _login(app, admin, PASSWORD, OWNER).status_code == 302     # the admin, elsewhere, is not


def test_the_back_off_doubles_and_the_right_password_waits_too(app, clock):
    email = _user(app)
    for _ in range(service.PAIR_FREE_FAILURES):
        assert _login(app, email, "guess", STRANGER).status_code == 401
    waits = []
    for _ in range(4):
        assert _login(app, email, "guess", STRANGER).status_code == 401
        refused = _login(app, email, PASSWORD, STRANGER)                 # not even checked
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        clock.at += timedelta(seconds=waits[-1])
    assert waits == [1, 2, 4, 8]
    assert _login(app, email, PASSWORD, STRANGER).status_code == 302     # after the wait


def test_password_spraying_from_one_address_is_stopped(app, clock):
    victims = [f"nobody{i}@ra.ub.gov.mn" for i in range(service.CLIENT_FAILURES)]
    for victim in victims:
        assert _login(app, victim, "Spring2026!", STRANGER).status_code == 401
    real = _user(app)
    assert _login(app, real, PASSWORD, STRANGER).status_code == 429     # over the client's limit
    assert _login(app, real, PASSWORD, OWNER).status_code == 302
    clock.at += service.CLIENT_WINDOW
    assert _login(app, real, PASSWORD, STRANGER).status_code == 302     # the window ends


def test_guessing_spread_over_many_addresses_backs_off_the_account(app, clock):
    email = _user(app)
    for i in range(service.ACCOUNT_FREE_FAILURES + 1):
        assert _login(app, email, "guess", f"192.0.2.{i + 1}").status_code == 401
    assert _login(app, email, PASSWORD, OWNER).status_code == 429
    clock.at += timedelta(seconds=1)
    assert _login(app, email, PASSWORD, OWNER).status_code == 302


def test_every_failure_and_refusal_is_audited(app, clock):
    email = _user(app)
    for _ in range(service.PAIR_FREE_FAILURES + 1):
        _login(app, email, "guess", STRANGER)
    _login(app, email, "guess", STRANGER)
    _login(app, "nobody@ra.ub.gov.mn", "guess", STRANGER)
    assert _actions(app, email) == ["login.failed"] * (service.PAIR_FREE_FAILURES + 1) + ["login.refused_backoff"]
    assert _actions(app, "nobody@ra.ub.gov.mn") == ["login.failed"]
