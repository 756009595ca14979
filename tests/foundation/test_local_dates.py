"""The contract is dated and numbered in Ulaanbaatar. At 16:30 UTC on
31 December it is already 00:30 on 1 January there: the contract belongs to the
new year's series and carries the new year's date."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone

from ra.auth.roles import Role
from ra.enrollment.models import Organisation
from ra.extensions import db
from ra.localtime import local
from ra.ports import FrozenClock
from tests.conftest import csrf_from
from tests.factories import make_org, make_staff
from tests.foundation.helpers import login


def test_a_contract_approved_at_00h30_local_on_new_years_day_is_of_the_new_year(app, mail, monkeypatch):
    at = datetime(2098, 12, 31, 16, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(app.extensions["ra.ports"], "clock", FrozenClock(at))
    with app.app_context():
        ports = app.extensions["ra.ports"]
        org, registrar = make_org(db.session, ports, "under_review")
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        db.session.commit()
        org_id, officer_email, reg_email = org.id, officer.email, registrar.email
    client = app.test_client()
    login(client, officer_email)
    token = csrf_from(client.get(f"/organisations/{org_id}").get_data(as_text=True))
    assert client.post(f"/organisations/{org_id}/approve", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        number = db.session.get(Organisation, org_id).contract_number
    assert local(at).year == 2099 and number.startswith("БН-2099/")
    [msg] = mail.to(reg_email)
    pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"][0].get_content()
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "2099.01.01" in text and "2098.12.31" not in text
