"""The API keeps its contract: a bounded schemathesis run against
/api/v1/openapi.json, with an RU officer's token, on the app served on loopback by
this test. Every status an operation returns is in the document, every answer
matches its schema, and nothing is a server error."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import app_config
from tests.support.databases import drop_database, make_database

MAX_EXAMPLES = int(os.environ.get("RA_SCHEMATHESIS_EXAMPLES", "30"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def served(db_kind, tmp_path_factory, smtp_sink):
    """Its own database and instance: the fuzzer's writes stay there."""
    from flask_migrate import upgrade

    from ra import create_app
    from ra.auth.roles import Role
    from ra.auth.service import issue_api_token
    from ra.extensions import db
    from tests.factories import make_org, make_staff

    url = make_database(db_kind, tmp_path_factory.mktemp("contract-db"))
    app = create_app(app_config(url, tmp_path_factory.mktemp("contract-instance"), smtp_sink.port, TESTING=False))
    with app.app_context():
        upgrade()
        ports = app.extensions["ra.ports"]
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        make_org(db.session, ports, status="active", officer=officer)  # something to find
        token = issue_api_token(db.session, "test", officer)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.extensions["ra.ports"].base_url = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, token
    finally:
        server.shutdown()
        thread.join(10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


def test_schemathesis_finds_nothing(served, tmp_path):
    base, token = served
    st = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(st), "run", f"{base}/api/v1/openapi.json", "--header", f"Authorization: Bearer {token}",
         "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", "16", "--workers", "1",
         "--generation-database", "none", "--request-timeout", "60", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    out = os.environ.get("RA_SCHEMATHESIS_OUT")
    if out:  # for a developer reading the whole run
        Path(out).write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
