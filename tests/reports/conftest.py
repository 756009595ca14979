"""Report tests: a small RU with known answers (``scenario``), on SQLite and
PostgreSQL, with the clock frozen at the scenario's "now"."""
from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from ra.extensions import db
from ra.ports import FrozenClock
from tests.reports import scenario as S


@pytest.fixture
def frozen(app, monkeypatch):
    ports = app.extensions["ra.ports"]
    monkeypatch.setattr(ports, "clock", FrozenClock(S.NOW))
    return ports


@pytest.fixture
def scenario(app, frozen) -> SimpleNamespace:
    """Built and committed (inside the test's outer transaction, rolled back after).
    Returns ids and e-mails, not ORM objects (they would be detached)."""
    with app.app_context():
        sc = S.build(db.session, frozen)
        db.session.flush()
        ids = SimpleNamespace(
            o1=sc.officers[0].id, o2=sc.officers[1].id, manager=sc.manager.id, manager_email=sc.manager.email,
            auditor_email=sc.auditor.email, officer_email=sc.officers[0].email,
            org={k: o.id for k, o in sc.orgs.items()}, org_registry={k: o.registry_number for k, o in sc.orgs.items()},
            registrar={k: u.email for k, u in sc.registrars.items()},
            registrar_email={k: o.registrar_email for k, o in sc.orgs.items()},
            cert={k: c.id for k, c in sc.certs.items()})
        db.session.commit()
    return ids


def api_headers(app, email: str) -> dict:
    import sqlalchemy as sa

    from ra.auth.models import User
    from ra.auth.service import issue_api_token

    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        token = issue_api_token(db.session, "test", user)
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    return out.decode("utf-8")
