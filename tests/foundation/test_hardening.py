"""ASVS level-2 hardening that is not one domain's business: transport headers,
file modes, and 400 (not 500) for input the app cannot use."""
from __future__ import annotations

import os
import stat


def test_hsts_is_sent_when_cookies_are_secure(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers  # plain http: meaningless
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    for path in ("/login", "/api/v1/openapi.json", "/no-such-page"):
        hsts = client.get(path).headers.get("Strict-Transport-Security", "")
        assert "max-age=31536000" in hsts, path


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_private_files_are_readable_by_the_apps_user_only(tmp_path):
    """The database and its WAL, uploaded scans, .eml files with one-time codes and
    the generated keys: 0600 in folders of 0700, whatever umask the shell had."""
    from email.message import EmailMessage

    import sqlalchemy as sa

    from ra import create_app
    from ra.extensions import db
    from ra.tokens.escrow import PinEscrow
    from tests.conftest import CHEAP_ARGON2

    previous = os.umask(0o022)  # a typical login shell's umask
    try:
        instance = tmp_path / "instance"
        app = create_app({"INSTANCE_PATH": str(instance), "MAIL_URL": "file:", "TESTING": True,
                          "ARGON2": CHEAP_ARGON2})
        with app.app_context():
            db.session.execute(sa.text("CREATE TABLE probe (x INTEGER)"))
            db.session.execute(sa.text("INSERT INTO probe VALUES (1)"))
            db.session.commit()
            ports = app.extensions["ra.ports"]
            stored = ports.files.put(b"%PDF-1.4 id scan", category="documents", extension="pdf")
            message = EmailMessage()
            message["To"], message["Subject"] = "holder@example.mn", "code"
            message.set_content("123456")
            ports.mailer.send(message)
            PinEscrow.from_config(app.config, environ={})
            with db.engine.connect() as conn:  # the WAL exists while a connection is open
                conn.execute(sa.text("SELECT * FROM probe")).all()
                files = [instance / "ra.sqlite3", instance / "ra.sqlite3-wal", ports.files.path(stored),
                         instance / "secret_key", instance / "token_escrow_key", instance / "ca_key",
                         *(instance / "mail").glob("*.eml")]
                modes = {str(p.relative_to(instance)): oct(_mode(p)) for p in files}
            db.engine.dispose()
        assert len(modes) == 7 and set(modes.values()) == {"0o600"}, modes
        folders = [instance, instance / "mail", ports.files.path(stored).parent]
        assert {oct(_mode(d)) for d in folders} == {"0o700"}
    finally:
        os.umask(previous)


def _officer(app) -> tuple[str, dict]:
    from ra.extensions import db
    from tests.enrollment.helpers import api_token
    from tests.factories import make_staff

    with app.app_context():
        user = make_staff(db.session, app.extensions["ra.ports"])
        token = api_token(db.session, user)
        email = user.email
        db.session.commit()
    return email, {"Authorization": f"Bearer {token}"}


def test_numbers_no_row_can_have_are_a_400_not_a_500(app, client):
    from tests.enrollment.helpers import login

    huge = str(2**64)
    login(client, _officer(app)[0])
    for path in (f"/organisations/{huge}", f"/tokens/{huge}", f"/organisations/{'9' * 5000}",
                 f"/organisations/{2**31}",                      # past PostgreSQL's INTEGER
                 f"/organisations?page={huge}", f"/tokens/?page={huge}", "/tokens/?page=abc"):
        assert client.get(path).status_code == 400, path


def test_a_json_body_that_is_not_an_object_is_a_400(app, client):
    headers = _officer(app)[1]
    for body in ("[]", '"x"', "3", "null", "{broken"):
        for path in ("/api/v1/organisations/1/activate", "/api/v1/handovers/1/resume",
                     "/api/v1/handovers/1/cancel", "/api/v1/organisations/1/reject"):
            resp = client.post(path, headers=headers, data=body, content_type="application/json")
            assert resp.status_code == 400, (path, body, resp.status_code)
            assert resp.get_json()["error"]["code"] == "bad_json"
    for path in (f"/api/v1/organisations/{2**64}", f"/api/v1/orders?page={2**64}", "/api/v1/orders?page=abc"):
        assert client.get(path, headers=headers).status_code == 400, path


def test_a_405_says_which_methods_are_allowed(app, client):
    resp = client.delete("/api/v1/organisations/1")
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert resp.get_json()["error"]["code"] == "method_not_allowed"
    page = client.put("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_the_openapi_document_lists_the_framework_statuses_of_every_operation(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert {"400", "503"} <= codes, (method, path)
            if op.get("security") != []:
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
