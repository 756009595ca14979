import logging
from datetime import timedelta

import sqlalchemy as sa

from ra import audit  # noqa: F401
from ra.audit.models import AuditRecord
from ra.auth.roles import Role
from ra.extensions import db
from ra.ports import FrozenClock
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_staff
from tests.foundation.helpers import login


def _officer(app):
    with app.app_context():
        user = make_staff(db.session, app.extensions["ra.ports"], Role.RA_OFFICER)
        db.session.commit()
        return user.email


def _actions(app, email):
    with app.app_context():
        return [a for (a,) in db.session.execute(
            sa.select(AuditRecord.action).where(AuditRecord.actor == email).order_by(AuditRecord.seq))]


def test_login_succeeds_is_audited_and_sets_safe_cookie(app, client):
    email = _officer(app)
    resp = login(client, email)
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with app.app_context():
        rec = db.session.execute(sa.select(AuditRecord).where(AuditRecord.action == "login.succeeded")).scalars().all()
    assert any(r.actor == email for r in rec)


def test_wrong_password_is_refused_in_mongolian_and_audited(app, client):
    email = _officer(app)
    resp = login(client, email, "not-the-password")
    assert resp.status_code == 401
    assert "Цахим шуудан эсвэл нууц үг буруу" in resp.get_data(as_text=True)
    assert _actions(app, email) == ["login.failed"]


def test_failures_are_logged_without_the_password(app, client, caplog):
    email = _officer(app)
    caplog.set_level(logging.INFO, logger="ra.auth")
    for _ in range(7):
        login(client, email, "wrong-password")
    assert any("login failed" in r.getMessage() for r in caplog.records)
    assert any("back-off" in r.getMessage() for r in caplog.records)
    assert PASSWORD not in caplog.text and "wrong-password" not in caplog.text


def test_post_without_csrf_token_is_refused(app, client):
    email = _officer(app)
    resp = client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 400
    assert _actions(app, email) == []  # nothing happened


def test_logout_needs_post(app, client):
    email = _officer(app)
    login(client, email)
    assert client.get("/logout").status_code == 405
    page = client.get("/organisations/review")
    assert client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 302
    assert client.get("/organisations/review").status_code == 302  # back to the login page


def test_idle_session_expires(app, client):
    email = _officer(app)
    login(client, email)
    assert client.get("/organisations/review").status_code == 200
    ports = app.extensions["ra.ports"]
    real = ports.clock
    ports.clock = FrozenClock(real.now() + timedelta(minutes=31))
    try:
        resp = client.get("/organisations/review")
    finally:
        ports.clock = real
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_login_redirect_does_not_leave_the_site(app, client):
    email = _officer(app)
    page = client.get("/login?next=https://evil.example/")
    resp = client.post("/login?next=https://evil.example/", data={
        "email": email, "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 302 and "evil.example" not in resp.headers["Location"]


def test_password_is_stored_hashed_with_argon2(ctx, ports):
    user = make_staff(db.session, ports)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_users_cli_creates_with_stdin_password_and_prints_a_token(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "clerk@ub.gov.mn", "--role", "auditor"],
                           input="a-long-enough-password\n")
    assert result.exit_code == 0, result.output
    assert "a-long-enough-password" not in result.output
    token = runner.invoke(args=["users", "token", "clerk@ub.gov.mn"]).output.strip()
    with app.app_context():
        from ra.auth.models import User
        user = db.session.execute(sa.select(User).where(User.email == "clerk@ub.gov.mn")).scalar_one()
        assert token not in (user.api_token_hash or "")
    resp = app.test_client().get("/api/v1/organisations/999999", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404  # authenticated, and nothing there


def test_users_cli_generates_a_password_when_none_is_given(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "officer9@ub.gov.mn", "--role", "ra_officer"],
                                          input="")
    assert result.exit_code == 0, result.output
    assert "password:" in result.output
