"""Test fixtures: the app on a real database (SQLite or PostgreSQL, chosen with
``--db``), every test inside a transaction that is rolled back, and a real SMTP
server on loopback.

Each test gets a clean database: the app's engine is swapped for one connection
whose outer transaction is rolled back after the test; the app's sessions work in
SAVEPOINTs on it (``join_transaction_mode="create_savepoint"``), so views may
commit as they do in production.

Do not keep an app context pushed while using the test client (Flask would share
``g``, and with it the logged-in user, across requests): use ``with
app.app_context():`` blocks, or the ``ctx`` fixture in tests without a client.
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest

from tests.ca.peer import start_peer as _start_peer
from tests.ca.proxy import MisbehavingProxy as _MisbehavingProxy
from tests.support.databases import drop_database, make_database
from tests.support.smtp import SmtpSink

CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
TEST_SECRET = "test-secret-key-" + "x" * 32


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("RA_TEST_DB", "sqlite"), choices=("sqlite", "postgresql"),
                     help="database the suite runs on")


def pytest_report_header(config):
    return f"ra database: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def db_kind(request) -> str:
    return request.config.getoption("--db")


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def database_url(db_kind, tmp_path_factory):
    url = make_database(db_kind, tmp_path_factory.mktemp("db"))
    yield url
    drop_database(url)


def app_config(database_url: str, instance: Path, smtp_port: int, **extra) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": TEST_SECRET,
        "TESTING": True,
        "ARGON2": CHEAP_ARGON2,
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        **extra,
    }


@pytest.fixture(scope="session")
def session_app(database_url, tmp_path_factory, smtp_sink):
    from flask_migrate import upgrade

    from ra import create_app

    app = create_app(app_config(database_url, tmp_path_factory.mktemp("instance"), smtp_sink.port))
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def embedded_ca(session_app):
    """The embedded root and issuing CA, generated once (RSA key generation is the
    slow part) and committed for the whole session, outside the per-test rollback."""
    from ra.extensions import db

    with session_app.app_context():
        session_app.extensions["ra.ports"].ca.initialise(db.session, actor="test")
        db.session.commit()
    return session_app.extensions["ra.ports"].ca


# The real django-ca peer (issue #4): one server per test session, shared by the
# CA, handover and revocation tests; stopped by PID at the end.
@pytest.fixture(scope="session")
def peer(tmp_path_factory):
    peer = _start_peer(tmp_path_factory.mktemp("django-ca"))
    yield peer
    peer.stop()


@pytest.fixture(scope="session")
def proxy(peer):
    proxy = _MisbehavingProxy(peer, peer.certfile, peer.keyfile).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def misbehaving(proxy):
    proxy.reset()
    yield proxy
    proxy.reset()


@pytest.fixture
def app(session_app, smtp_sink, tmp_path_factory):
    """The app, with everything the test writes rolled back afterwards. Each test
    ships its audit checkpoints to a file of its own: a shared file would keep
    checkpoints of records that the rollback removed."""
    from ra.extensions import db

    with session_app.app_context():
        engines = db.engines
        engine = engines[None]
    conn = engine.connect()
    outer = conn.begin()
    engines[None] = conn
    smtp_sink.clear()
    shipped = session_app.config["AUDIT_CHECKPOINTS"]
    session_app.config["AUDIT_CHECKPOINTS"] = str(tmp_path_factory.mktemp("audit") / "checkpoints.jsonl")
    try:
        yield session_app
    finally:
        session_app.config["AUDIT_CHECKPOINTS"] = shipped
        with session_app.app_context():
            db.session.remove()
        engines[None] = engine
        outer.rollback()
        conn.close()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ports(app):
    return app.extensions["ra.ports"]


@pytest.fixture
def mail(smtp_sink):
    """Messages the app delivered to the real SMTP server during this test."""
    return smtp_sink


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


@pytest.fixture
def unique():
    return lambda: uuid.uuid4().hex[:8]
