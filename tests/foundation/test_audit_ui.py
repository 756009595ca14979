import json
from datetime import date

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.auth.roles import Role
from ra.enrollment import service as enrollment
from ra.extensions import db
from tests.factories import make_org, make_staff
from tests.foundation.helpers import login


def _user(app, role):
    with app.app_context():
        u = make_staff(db.session, app.extensions["ra.ports"], role)
        db.session.commit()
        return u.email


def test_auditor_browses_and_filters_the_log(app):
    email = _user(app, Role.AUDITOR)
    client = app.test_client()
    login(client, email)
    page = client.get("/audit/?action=login").get_data(as_text=True)
    assert "login.succeeded" in page and email in page
    page = client.get("/audit/?action=organisation.").get_data(as_text=True)
    assert "login.succeeded" not in page


def test_a_bad_audit_page_number_is_a_400_not_a_silent_first_page(app):
    email = _user(app, Role.AUDITOR)
    client = app.test_client()
    login(client, email)
    for bad in ("abc", "0", str(2 ** 64)):
        assert client.get(f"/audit/?page={bad}").status_code == 400, bad
    assert client.get("/audit/?page=2").status_code == 200


def test_registrar_cannot_read_the_audit_log(app):
    with app.app_context():
        _, registrar = make_org(db.session, app.extensions["ra.ports"])
        db.session.commit()
        email = registrar.email
    client = app.test_client()
    login(client, email)
    assert client.get("/audit/").status_code == 403


def test_role_change_is_audited_and_ends_the_sessions(app):
    email = _user(app, Role.RA_OFFICER)
    client = app.test_client()
    login(client, email)
    assert client.get("/organisations/review").status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "role", email, "auditor"])
    assert result.exit_code == 0, result.output
    assert client.get("/organisations/review").status_code == 302  # logged out
    with app.app_context():
        rec = db.session.execute(sa.select(AuditRecord).where(AuditRecord.action == "user.role_changed")
                                 .order_by(AuditRecord.seq.desc())).scalars().first()
        assert json.loads(rec.details) == {"from": "ra_officer", "to": "auditor"}


def test_temporary_access_window_is_set_checked_and_audited(ctx, ports):
    org, _ = make_org(db.session, ports, "under_review")
    officer = make_staff(db.session, ports)
    enrollment.set_temporary_access(db.session, officer, org, date(2020, 12, 10), date(2021, 2, 1))
    assert org.has_temporary_access(date(2021, 1, 15))
    assert not org.has_temporary_access(date(2021, 2, 2))
    import pytest

    from ra.errors import UserError
    with pytest.raises(UserError):
        enrollment.set_temporary_access(db.session, officer, org, date(2021, 2, 1), date(2020, 12, 10))
    actions = db.session.execute(sa.select(AuditRecord.action).where(
        AuditRecord.object_type == "organisation", AuditRecord.object_id == str(org.id))).scalars().all()
    assert "organisation.temporary_access_set" in actions
