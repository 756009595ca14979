"""Dual control under racing approvers: whoever completes the quorum completes the
revocation, exactly once at the CA and once on the CRL; nobody gets a 500 and no
request stays stuck awaiting approval with enough sign-offs."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography import x509

from ra.audit.models import AuditRecord
from ra.auth.roles import Role
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.extensions import db
from ra.revocation.models import RevocationRequest
from ra.revocation.states import RevocationStatus
from tests.enrollment.helpers import api_token
from tests.factories import make_staff
from tests.revocation.conftest import auth, build_world, issue
from tests.support.races import all_at_once, committed_app


def _holders_lost_report(app, client, world, issued, smtp_sink) -> int:
    """The holder reports the token lost by e-mail code, says "misplaced, maybe"; the
    officer confirms the loss the next morning: the revocation awaits approval."""
    from ra.revocation import service
    from tests.revocation.conftest import code_in, user

    smtp_sink.clear()
    ref = client.post("/api/v1/lost-token-reports", buffered=True, json={  # the code is mailed after the answer
        "email": issued.holder_email, "token_serial": issued.token_serial}).get_json()["id"]
    code = code_in(smtp_sink.to(issued.holder_email)[0])
    misplaced = client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": code, "lost": False})
    assert misplaced.status_code == 200
    with app.app_context():
        req = db.session.execute(sa.select(RevocationRequest).where(
            RevocationRequest.certificate_id == issued.certificate_id,
            RevocationRequest.status == RevocationStatus.AWAITING_CONFIRMATION)).scalar_one()
        service.confirm_lost(db.session, user(world.officer), req, ports=app.extensions["ra.ports"])
        db.session.commit()
        assert req.status == RevocationStatus.AWAITING_APPROVAL
        return req.id


@pytest.mark.parametrize("requester, approvers", [
    ("registrar", 2), ("registrar", 3), ("officer", 2), ("officer", 3), ("holder", 2), ("holder", 3)])
def test_racing_approvers_complete_the_revocation_once(db_kind, tmp_path, smtp_sink, requester, approvers):
    with committed_app(db_kind, tmp_path, smtp_sink.port) as app:
        ports = app.extensions["ra.ports"]
        with app.app_context():
            ports.ca.initialise(db.session, actor="test")
            db.session.commit()
            world = build_world(ports)
            issued = issue(ports, world)
            extra = [make_staff(db.session, ports, Role.RA_OFFICER) for _ in range(2)]
            deciders = [api_token(db.session, u) for u in extra]
            db.session.commit()
        client = app.test_client()
        if requester == "holder":
            request_id = _holders_lost_report(app, client, world, issued, smtp_sink)
        else:
            asker = world.registrar if requester == "registrar" else world.officer
            resp = client.post("/api/v1/revocations", headers=auth(world, asker), json={
                "certificate_serial": issued.serial, "reason": "affiliationChanged"})
            assert resp.status_code == 201 and resp.get_json()["status"] == "awaiting_approval", resp.get_json()
            request_id = resp.get_json()["id"]
        tokens = ([world.tokens[world.manager]] + deciders + [world.tokens[world.officer2]])[:approvers]

        def approve(token):
            r = app.test_client().post(f"/api/v1/revocations/{request_id}/approve", json={},
                                       headers={"Authorization": f"Bearer {token}"})
            return r.status_code, r.get_json()

        results = all_at_once([lambda t=t: approve(t) for t in tokens])

        assert all(status in (200, 409) for status, _ in results), results
        with app.app_context():
            req = db.session.get(RevocationRequest, request_id)
            assert req.status == RevocationStatus.COMPLETED, (req.status, results)
            cert = db.session.get(Certificate, issued.certificate_id)
            assert cert.status == CertificateStatus.REVOKED
            revoked = db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord).where(
                AuditRecord.action == "certificate.revoked", AuditRecord.object_id == str(cert.id))).scalar()
            completed = db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord).where(
                AuditRecord.action == "revocation_request.completed",
                AuditRecord.object_id == str(request_id))).scalar()
            assert (revoked, completed) == (1, 1)
        crl = x509.load_der_x509_crl(client.get("/ca/crl/issuing-g1.crl").data)
        assert [e.serial_number for e in crl].count(int(issued.serial, 16)) == 1
        # Every approver either signed off or was told the request had moved on.
        losers = [body["error"]["code"] for status, body in results if status == 409]
        assert set(losers) <= {"not_awaiting_approval", "invalid_transition"}, losers
