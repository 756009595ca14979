"""The national data set generator, at its small scale (the same code and shape as
``--scale national``, a thousandth of the size), on SQLite and PostgreSQL: what it
writes is consistent with what the services would have written, and the reports
read it."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.audit.service import verify
from ra.extensions import db
from ra.reports import national
from ra.reports.national_data import SCALES
from tests.reports.conftest import api_headers


def one(sql: str, **params):
    return db.session.execute(sa.text(sql), params).scalar_one()


def test_the_small_data_set_is_consistent_and_reported(app, client, ports):
    scale = SCALES["small"]
    with app.app_context():
        counts = national.generate(db.session, ports, "small", seed=3)
        db.session.commit()
        assert counts["certificate"] == scale.certificates == one("SELECT count(*) FROM certificate")
        assert counts["organisation"] == scale.organisations
        assert one("SELECT count(DISTINCT kind) FROM organisation WHERE registry_number >= '9000000'") == 13
        assert one("SELECT count(DISTINCT district) FROM organisation WHERE registry_number >= '9000000'") == 9
        # Every certificate has its order, request, holder, token and handover.
        assert one("SELECT count(*) FROM certificate c JOIN certificate_request r ON r.id = c.request_pk JOIN "
                   "certificate_order o ON o.id = c.order_id JOIN holder h ON h.id = c.holder_id JOIN token t "
                   "ON t.id = c.token_id JOIN handover ho ON ho.certificate_id = c.id") == scale.certificates
        reasons = {r for (r,) in db.session.execute(sa.text(
            "SELECT DISTINCT revocation_reason FROM certificate WHERE status = 'revoked'"))}
        assert {"keyCompromise", "affiliationChanged"} <= reasons <= {
            "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"}
        revoked = one("SELECT count(*) FROM certificate WHERE status = 'revoked'")
        held = one("SELECT count(*) FROM audit_record WHERE action = 'certificate.suspended'")
        assert 0.05 < (revoked + held) / scale.certificates < 0.3
        # Each revocation has its request; the numbering series moved past what was used.
        assert one("SELECT count(*) FROM certificate c WHERE c.status = 'revoked' AND NOT EXISTS (SELECT 1 FROM "
                   "revocation_request r WHERE r.certificate_id = c.id AND r.reason = c.revocation_reason)") == 0
        per_year = {}
        for (number,) in db.session.execute(sa.text("SELECT number FROM revocation_request")):
            year = int(number.split("-")[1].split("/")[0])
            per_year[year] = max(per_year.get(year, 0), int(number.split("/")[1]))
        assert per_year == dict(db.session.execute(sa.text(
            "SELECT year, last_value FROM document_counter WHERE series = 'revocation'")).all())
        # The audit chain is whole, the token rollup agrees with the tokens, slots are not overbooked.
        assert verify(db.session).ok
        rollup = dict(db.session.execute(sa.text("SELECT status, tokens FROM token_state_count WHERE tokens > 0")).all())
        assert rollup == dict(db.session.execute(sa.text("SELECT status, count(*) FROM token GROUP BY status")).all())
        assert one("SELECT count(*) FROM appointment_slot WHERE booked > capacity") == 0
        manager = "national.manager@ra.ub.gov.mn"
        with pytest.raises(RuntimeError):
            national.generate(db.session, ports, "small")
        db.session.rollback()
        today = ports.clock.today()
        issued = one("SELECT count(*) FROM certificate WHERE holder_id IS NOT NULL")
    frm = (today - timedelta(days=366 * scale.years + 400)).isoformat()
    out = client.get(f"/api/v1/reports/issuance?from={frm}&to={today.isoformat()}&group_by=year",
                     headers=api_headers(app, manager))
    assert out.status_code == 200 and out.get_json()["total"] == issued
    dash = client.get("/api/v1/reports/dashboard?period=year", headers=api_headers(app, manager)).get_json()
    assert dash["figures"]["issued"] > 0 and dash["figures"]["expiring_90"] > 0
