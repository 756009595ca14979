"""The reports read what the real services write: a handover on SoftHSM2 with the
embedded CA, then the token reported lost at the counter, each counted where the
manager looks for it — and the token rollup agrees with the tokens themselves."""
from __future__ import annotations

import sqlalchemy as sa

from ra.extensions import db
from ra.tokens import handover_jobs as jobs
from ra.tokens import stock_service
from ra.tokens.states import TokenStatus
from tests.reports.conftest import api_headers
from tests.tokens.conftest import driver, hsm, staff, stock  # noqa: F401  (the token tests' real SoftHSM2 fixtures)
from tests.tokens.test_handover_support import HOLDER_PIN, ready_order


def _counts(session, sql: str, **params) -> dict:
    return dict(session.execute(sa.text(sql), params).all())


def test_a_real_handover_and_a_lost_token_are_counted(app, ctx, ports, staff, driver, stock, embedded_ca):  # noqa: F811
    before = _counts(db.session, "SELECT status, tokens FROM token_state_count")
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    org_id, approver_id, order_id = order.organisation_id, order.decided_by_id, order.id
    result = jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                        id_document_number=order.holder.register_number, token_serial=token.serial,
                        user_pin=HOLDER_PIN, ports=ports)
    assert result.error is None and result.completed
    db.session.commit()
    manager_email, officer_id = staff.manager.email, staff.officer.id

    # The whole stock from the rollup equals the tokens counted one by one.
    def stock_agrees():
        rollup = {k: v for k, v in _counts(db.session, "SELECT status, tokens FROM token_state_count").items() if v}
        assert rollup == _counts(db.session, "SELECT status, count(*) FROM token GROUP BY status")
        return rollup
    after = stock_agrees()
    assert after.get("active", 0) == before.get("active", 0) + 1

    client = app.test_client()
    headers = api_headers(app, manager_email)
    figures = client.get("/api/v1/reports/dashboard?period=day", headers=headers).get_json()["figures"]
    assert figures["issued"] >= 1 and figures["tokens_issued"] >= 1
    mine = client.get(f"/api/v1/reports/dashboard?period=day&organisation_id={org_id}", headers=headers).get_json()
    assert (mine["figures"]["issued"], mine["figures"]["tokens_issued"]) == (1, 1)
    by_officer = {r["key"]: r for r in client.get(f"/api/v1/reports/officers?period=day&organisation_id={org_id}",
                                                  headers=headers).get_json()["table"]["rows"]}
    assert by_officer[officer_id]["handovers"] == 1 and by_officer[approver_id]["approvals"] == 1
    listed = client.get(f"/api/v1/reports/issuance/certificates?period=day&organisation_id={org_id}",
                        headers=headers).get_json()["table"]["rows"]
    serial = db.session.execute(sa.text("SELECT certificate_serial FROM certificate_order WHERE id = :o"),
                                {"o": order_id}).scalar_one()
    assert [r["serial"] for r in listed] == [serial]

    # Lost at the counter: the token moves, and whatever the revocation module did to the
    # certificate (held, or revoked keyCompromise) is counted as the certificate records it.
    token = db.session.get(type(token), token.id)
    stock_service.change_token_state(db.session, staff.officer, token, TokenStatus.LOST, reason="lost in a taxi",
                                     ports=ports)
    db.session.commit()
    stock_agrees()
    tokens = client.get(f"/api/v1/reports/tokens?period=day&organisation_id={org_id}", headers=headers).get_json()
    assert {r["key"]: r["count"] for r in tokens["movements"]["rows"]}["lost"] == 1
    assert {r["key"]: r["count"] for r in tokens["by_state"]["rows"]}["lost"] == 1
    cert_status, reason = db.session.execute(sa.text(
        "SELECT c.status, c.revocation_reason FROM certificate c JOIN holder h ON h.id = c.holder_id "
        "WHERE h.organisation_id = :o"), {"o": org_id}).one()
    rev = client.get(f"/api/v1/reports/revocations?period=day&organisation_id={org_id}", headers=headers).get_json()
    counted = {r["key"]: r["count"] for r in rev["table"]["rows"]}
    if cert_status == "revoked":
        assert counted.get("keyCompromise") == 1 and reason == "keyCompromise"
    else:
        assert cert_status == "suspended" and counted.get("certificateHold") == 1
