"""The database goes away and comes back: while it is down every call is a 503 with
Retry-After and a translated message (no 500, no error id to quote); afterwards the
pool's stale connections are replaced before use and the service goes on; every
202 (accepted) that was answered is in the database.

A throwaway PostgreSQL cluster of its own (Debian's package, another port), so the
suite's server is never stopped."""
from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import app_config
from tests.enrollment.helpers import login
from tests.factories import registration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="ra-outage-"))
        shutil.chown(self.dir, "postgres")
        self.data, self.port = self.dir / "data", _free_port()

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", " ".join(args)], check=True, timeout=120,
                       capture_output=True)

    def init(self) -> str:
        self._as_postgres(f"{self.bin}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._as_postgres(f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "ra")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/ra"

    def start(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-s", "-D", str(self.data), "-l", str(self.dir / "log"), "-w",
                          "-o", f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1'", "start")

    def stop(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-s", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    """Its own cluster whichever database the suite runs on: only a server can go
    away and come back (SQLite is a file in the instance folder)."""
    if not shutil.which("su") or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        pytest.fail("Debian's postgresql package is missing: apt-get install -y postgresql")
    c = Cluster()
    yield c
    c.remove()


def test_a_database_restart_gives_503s_then_service_and_loses_no_answered_write(cluster, tmp_path, smtp_sink):
    from flask_migrate import upgrade

    from ra import create_app
    from ra.auth.roles import Role
    from ra.enrollment.models import Organisation
    from ra.extensions import db
    from tests.factories import make_staff

    app = create_app(app_config(cluster.init(), tmp_path / "instance", smtp_sink.port))
    with app.app_context():
        upgrade(revision="heads")
        email = make_staff(db.session, app.extensions["ra.ports"], Role.RA_OFFICER).email
        db.session.commit()
    api, page = app.test_client(), app.test_client()
    login(page, email)
    answered = []

    def register():
        body = dataclasses.asdict(registration())
        resp = api.post("/api/v1/organisations", json=body, headers={"Accept-Language": "en"})
        if resp.status_code == 202:
            answered.append(body["registry_number"])
        return resp

    try:
        assert register().status_code == 202
        assert page.get("/organisations").status_code == 200
        # A restart between two requests: the pooled connections are stale, and the
        # next request must not be the one to find out.
        cluster.stop()
        cluster.start()
        assert register().status_code == 202
        assert page.get("/organisations").status_code == 200

        cluster.stop()
        down = register()
        assert down.status_code == 503 and down.headers["Retry-After"]
        assert down.get_json()["error"]["code"] == "database_unavailable"
        assert "try again" in down.get_json()["error"]["message"]
        shown = page.get("/organisations")
        assert shown.status_code == 503 and shown.headers["Retry-After"]
        assert "Үйлчилгээ түр ажиллахгүй байна" in shown.get_data(as_text=True)  # Mongolian first

        cluster.start()
        # Every pooled connection died with the server: each is replaced before use.
        for _ in range(4):
            assert register().status_code == 202
        assert page.get("/organisations").status_code == 200
        with app.app_context():
            stored = set(db.session.execute(sa.select(Organisation.registry_number)).scalars())
            assert set(answered) <= stored and len(answered) == 6
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
