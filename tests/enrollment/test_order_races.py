"""Many officers at once: an order approved by twenty racing requests on two
officers' tokens is approved once, audited once and announced once."""
from __future__ import annotations

import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.auth.roles import Role
from ra.db import commit
from ra.enrollment.holder_models import CertificateOrder
from ra.enrollment.order_states import OrderStatus
from ra.extensions import db
from tests.enrollment.helpers import active_org, api_token, submitted_order
from tests.factories import make_staff
from tests.support.races import all_at_once, committed_app


def test_twenty_parallel_approvals_approve_the_order_once(db_kind, tmp_path, smtp_sink):
    with committed_app(db_kind, tmp_path, smtp_sink.port) as app:
        ports = app.extensions["ra.ports"]
        with app.app_context():
            org, registrar, officer = active_org(db.session, ports)
            second = make_staff(db.session, ports, Role.RA_OFFICER)
            order = submitted_order(db.session, ports, org, registrar)
            order_id, docs = order.id, [d.id for d in order.holder.documents]
            holder_email, registrar_email = order.holder.email, registrar.email
            tokens = [api_token(db.session, officer), api_token(db.session, second)]
            commit()
        smtp_sink.clear()

        def approve(i):
            client = app.test_client()
            resp = client.post(f"/api/v1/orders/{order_id}/approve", json={"checked_document_ids": docs},
                               headers={"Authorization": f"Bearer {tokens[i % 2]}", "Accept-Language": "en"})
            return resp.status_code, resp.get_json()

        results = all_at_once([lambda i=i: approve(i) for i in range(20)])

        statuses = sorted(r[0] for r in results)
        assert statuses == [200] + [409] * 19, results
        losers = [body["error"] for status, body in results if status == 409]
        assert {e["code"] for e in losers} == {"invalid_transition"}
        # The losers who read the order before the winner wrote are told its state now.
        assert all("approved" in e["message"].lower() or "not possible" in e["message"] for e in losers), losers
        with app.app_context():
            assert db.session.get(CertificateOrder, order_id).status == OrderStatus.APPROVED
            actions = db.session.execute(sa.select(AuditRecord.action, sa.func.count()).where(
                AuditRecord.object_type == "order", AuditRecord.object_id == str(order_id))
                .group_by(AuditRecord.action)).all()
            assert dict(actions)["order.approved"] == 1
            checks = db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord).where(
                AuditRecord.action == "holder_document.checked")).scalar()
            assert checks == len(set(docs)) == 4
        assert len(smtp_sink.to(holder_email)) == 1
        assert len(smtp_sink.to(registrar_email)) == 1
