"""Unique values under racing requests: a concurrent insert of the same value is a
409 naming the field (or the usual field error when it arrives after the winner
committed), never a 500; counters and throttles are upserted."""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.auth.models import LoginThrottle
from ra.auth.roles import Role
from ra.enrollment.models import Organisation
from ra.extensions import db
from tests.conftest import csrf_from
from tests.factories import PASSWORD, make_staff, registration
from tests.support.races import all_at_once, committed_app


def test_ten_parallel_api_registrations_of_one_organisation_make_one(db_kind, tmp_path, smtp_sink):
    body = dataclasses.asdict(registration())
    with committed_app(db_kind, tmp_path, smtp_sink.port) as app:
        def register():
            r = app.test_client().post("/api/v1/organisations", json=body, headers={"Accept-Language": "en"})
            return r.status_code, r.get_json()

        results = all_at_once([register] * 10)

        # The public answer (202) is the same whether or not the address had an account.
        assert [s for s, _ in results].count(202) == 1, results
        for status, answer in results:
            if status == 202:
                continue
            error = answer["error"]
            # Raced at the INSERT: 409 with the field; arrived after the winner's commit: its field error.
            assert (status, error.get("field")) == (409, "registry_number") or (
                status == 422 and "registry_number" in error["fields"]), answer
        with app.app_context():
            assert db.session.execute(sa.select(sa.func.count()).select_from(Organisation).where(
                Organisation.registry_number == body["registry_number"])).scalar() == 1


def test_parallel_first_logins_of_one_account_all_get_an_answer(db_kind, tmp_path, smtp_sink):
    with committed_app(db_kind, tmp_path, smtp_sink.port) as app:
        with app.app_context():
            email = make_staff(db.session, app.extensions["ra.ports"], Role.RA_OFFICER).email
            db.session.commit()
        clients = [app.test_client() for _ in range(6)]
        forms = [csrf_from(c.get("/login").get_data(as_text=True)) for c in clients]

        def log_in(i):
            password = PASSWORD if i % 2 else "wrong-password-1"
            return clients[i].post("/login", data={"email": email, "password": password,
                                                   "csrf_token": forms[i]}).status_code

        statuses = all_at_once([lambda i=i: log_in(i) for i in range(6)])

        assert 500 not in statuses and statuses.count(303) + statuses.count(302) == 3, statuses
        with app.app_context():
            assert db.session.get(LoginThrottle, email) is not None
            logged = db.session.execute(sa.select(AuditRecord.action).where(
                AuditRecord.actor.in_([email]) | AuditRecord.action.like("login.%"))).scalars().all()
            assert logged.count("login.succeeded") == 3 and logged.count("login.failed") == 3
