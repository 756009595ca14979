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
                         instance / "secret_key", instance / "token_escrow_key",
                         *(instance / "mail").glob("*.eml")]
                modes = {str(p.relative_to(instance)): oct(_mode(p)) for p in files}
            db.engine.dispose()
        assert len(modes) == 6 and set(modes.values()) == {"0o600"}, modes
        folders = [instance, instance / "mail", ports.files.path(stored).parent]
        assert {oct(_mode(d)) for d in folders} == {"0o700"}
    finally:
        os.umask(previous)
