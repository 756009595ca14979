"""The app served on loopback by a real WSGI server, and headless Chromium (Debian's
`chromium` package) driven through Playwright."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import app_config
from tests.support.databases import drop_database, make_database

CHROMIUM = os.environ.get("RA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def live_server(db_kind, tmp_path_factory, smtp_sink):
    from flask_migrate import upgrade

    from ra import create_app

    url = make_database(db_kind, tmp_path_factory.mktemp("live-db"))
    app = create_app(app_config(url, tmp_path_factory.mktemp("live-instance"), smtp_sink.port, TESTING=False))
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.extensions["ra.ports"].base_url = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, app
    finally:
        server.shutdown()
        thread.join(10)
        with app.app_context():
            from ra.extensions import db
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            yield _Patient(b)
        finally:
            b.close()


class _Patient:
    """The browser, with waits that end as soon as the page is ready and limits
    that only stop a test that can never pass: generous for a loaded machine."""
    WAIT_MS = 120_000

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **kw):
        context = self._browser.new_context(**kw)
        context.set_default_timeout(self.WAIT_MS)
        return context

    def new_page(self, **kw):
        page = self._browser.new_page(**kw)
        page.set_default_timeout(self.WAIT_MS)
        return page

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
