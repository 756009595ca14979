"""Sessions end on the server: a copy of the session cookie taken before a logout,
a password change, a role change or an admin's "sign out everywhere" opens nothing
afterwards, and no session outlives RA_SESSION_MAX_HOURS however busy it is."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.auth.models import User
from ra.auth.roles import Role
from ra.auth.service import change_role
from ra.extensions import db
from ra.ports import FrozenClock
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_staff
from tests.foundation.helpers import login

PAGE = "/tokens/"  # an officer's page


def _officer(app, role=Role.RA_OFFICER) -> str:
    with app.app_context():
        user = make_staff(db.session, app.extensions["ra.ports"], role)
        db.session.commit()
        return user.email


def _stolen_copy(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value)
    assert thief.get(PAGE).status_code == 200
    return thief


def _opens(thief) -> bool:
    return thief.get(PAGE).status_code == 200


def test_logout_ends_every_copy_of_the_cookie(app, client):
    login(client, _officer(app))
    thief = _stolen_copy(app, client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get(PAGE).get_data(as_text=True))})
    assert not _opens(thief)


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, client):
    email = _officer(app)
    login(client, email)
    thief = _stolen_copy(app, client)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post("/account", data={"current": PASSWORD, "password": "a-brand-new-password",
                                         "password2": "a-brand-new-password", "csrf_token": token})
    assert resp.status_code == 303
    assert not _opens(thief)
    assert client.get(PAGE).status_code == 200
    assert login(app.test_client(), email, "a-brand-new-password").status_code == 302


def test_a_role_change_ends_every_session(app, client):
    email = _officer(app)
    login(client, email)
    thief = _stolen_copy(app, client)
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        change_role(db.session, "cli", user, Role.AUDITOR)
        db.session.commit()
    assert not _opens(thief) and client.get(PAGE).status_code == 302


def test_the_admin_signs_an_account_out_everywhere(app, client):
    email = _officer(app)
    login(client, email)
    thief = _stolen_copy(app, client)
    admin = app.test_client()
    login(admin, _officer(app, Role.ADMIN))
    page = admin.get("/users").get_data(as_text=True)
    assert email in page
    with app.app_context():
        user_id = db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()
    resp = admin.post(f"/users/{user_id}/sign-out", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    assert not _opens(thief) and client.get(PAGE).status_code == 302
    officer = app.test_client()
    login(officer, _officer(app))
    assert officer.post(f"/users/{user_id}/sign-out", data={"csrf_token": csrf_from(
        officer.get(PAGE).get_data(as_text=True))}).status_code == 403


def test_no_session_outlives_its_absolute_lifetime(app, client, monkeypatch):
    ports = app.extensions["ra.ports"]
    clock = FrozenClock(ports.clock.now())
    monkeypatch.setattr(ports, "clock", clock)
    login(client, _officer(app))
    started, open_until = clock.at, None
    for _ in range(13 * 3):  # busy all day: a request every 20 minutes, never idle
        clock.at += timedelta(minutes=20)
        if client.get(PAGE).status_code != 200:
            break
        open_until = clock.at
    assert open_until - started == timedelta(hours=12)                  # open all day …
    assert client.get(PAGE).status_code == 302                          # … then log in again


@pytest.mark.parametrize("hours", ["0", "x"])
def test_a_bad_session_lifetime_stops_the_start(hours, tmp_path):
    from ra.config import ConfigError, load_config
    with pytest.raises(ConfigError, match="RA_SESSION_MAX_HOURS"):
        load_config(environ={"RA_INSTANCE_PATH": str(tmp_path), "RA_SECRET_KEY": "k" * 40,
                             "RA_SESSION_MAX_HOURS": hours})


def test_the_cli_signs_an_account_out_everywhere(app, client):
    email = _officer(app)
    login(client, email)
    result = app.test_cli_runner().invoke(args=["users", "sign-out", email])
    assert result.exit_code == 0, result.output
    assert client.get(PAGE).status_code == 302
