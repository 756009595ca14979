"""Certificate orders: filing, approval rules (409 for a missing document, 403 for
self-approval), rejection, notifications, renewal and position change."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.audit.service import verify
from ra.auth.roles import Role
from ra.auth.service import change_role
from ra.db import commit
from ra.enrollment import orders_service as orders
from ra.enrollment import service as enrollment
from ra.enrollment.holder_models import HolderDocumentKind, OrderKind, RevocationState
from ra.enrollment.holder_queries import awaiting_revocation
from ra.enrollment.order_states import OrderStatus
from ra.errors import Conflict, InvalidTransition, PermissionDenied, UserError, ValidationFailed
from ra.enrollment import register_number as rn
from ra.extensions import db
from tests.enrollment.helpers import (active_org, api_token, approved_order, make_holder, submitted_order,
                                      upload_documents)
from tests.factories import make_staff


def _actions(order, since=0):
    return [a for (a,) in db.session.execute(sa.select(AuditRecord.action).where(
        AuditRecord.object_type == "order", AuditRecord.object_id == str(order.id), AuditRecord.seq > since)
        .order_by(AuditRecord.seq))]


def _last_seq():
    return db.session.execute(sa.select(sa.func.coalesce(sa.func.max(AuditRecord.seq), 0))).scalar()


def test_filing_and_approval_are_audited_and_the_subject_comes_from_the_profile(rctx, ports, mail):
    since = _last_seq()
    org, registrar, officer = active_org(db.session, ports)
    order = submitted_order(db.session, ports, org, registrar, surname="Цэрэндорж", given_name="Бат-Эрдэнэ",
                            position="Ахлах мэргэжилтэн")
    assert order.status == OrderStatus.SUBMITTED and order.key_type == "rsa2048"
    orders.approve_order(db.session, officer, order, checked_document_ids=[d.id for d in order.holder.documents],
                         ports=ports)
    commit()
    assert order.status == OrderStatus.APPROVED and order.decided_by_id == officer.id
    assert "CN=Bat-Erdene Tserendorj" in order.subject
    assert f"2.5.4.5=PNOMN-{rn.to_ascii(order.holder.register_number)}" in order.subject  # ETSI semantics identifier
    assert "2.5.4.42=Bat-Erdene" in order.subject and "2.5.4.4=Tserendorj" in order.subject
    assert "C=MN" in order.subject and "Ахлах мэргэжилтэн" in order.subject
    assert _actions(order, since) == ["order.created", "order.submitted", "order.approved"]
    assert verify(db.session).ok
    subjects = [m["Subject"] for m in mail.to(order.holder.email)]
    assert len(subjects) == 2 and all(str(order.id) in s for s in subjects)
    assert len(mail.to(org.registrar_email)) >= 2


def test_approval_with_a_missing_document_is_409_and_changes_nothing(client, app, ports):
    with app.app_context():
        org, registrar, officer = active_org(db.session, ports)
        holder = make_holder(db.session, ports, org, registrar)
        upload_documents(db.session, ports, holder, registrar, kinds=list(HolderDocumentKind)[:3])
        order = orders.create_order(db.session, registrar, holder, profile="signing", ports=ports)
        ids = [d.id for d in holder.documents]
        token = api_token(db.session, officer)
        commit()
        order_id = order.id
    resp = client.post(f"/api/v1/orders/{order_id}/approve", json={"checked_document_ids": ids},
                       headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert resp.status_code == 409
    assert "Signed subscriber agreement" in resp.json["error"]["message"]
    with app.app_context():
        got = db.session.get(type(order), order_id)
        assert got.status == OrderStatus.SUBMITTED
        assert all(d.checked_at is None for d in got.holder.documents)  # the ticks were rolled back too


def test_unchecked_documents_also_block_approval(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    order = submitted_order(db.session, ports, org, registrar)
    with pytest.raises(Conflict) as e:
        orders.approve_order(db.session, officer, order, ports=ports)
    assert e.value.code == "documents" and e.value.status == 409


def test_self_approval_is_403(client, app, ports):
    with app.app_context():
        org, registrar, officer = active_org(db.session, ports, domain="ra.ub.gov.mn")
        # The RU's own officer needs a certificate: the order is about them.
        order = submitted_order(db.session, ports, org, registrar, email=officer.email)
        token = api_token(db.session, officer)
        commit()
        order_id, ids = order.id, [d.id for d in order.holder.documents]
    resp = client.post(f"/api/v1/orders/{order_id}/approve", json={"checked_document_ids": ids},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403 and resp.json["error"]["code"] == "separation_of_duties"


def test_the_requester_cannot_approve_after_becoming_an_officer(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    order = submitted_order(db.session, ports, org, registrar)
    change_role(db.session, "admin", registrar, Role.RA_OFFICER)
    with pytest.raises(PermissionDenied):
        orders.approve_order(db.session, registrar, order, ports=ports)
    auditor = make_staff(db.session, ports, Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        orders.approve_order(db.session, auditor, order, ports=ports)


def test_approval_rechecks_the_organisation_and_the_holders_data(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    order = submitted_order(db.session, ports, org, registrar)
    ids = [d.id for d in order.holder.documents]
    org.email_domains = "other.gov.mn"  # the organisation's domains changed since filing
    with pytest.raises(Conflict) as e:
        orders.approve_order(db.session, officer, order, checked_document_ids=ids, ports=ports)
    assert e.value.code == "holder_data"
    enrollment.suspend_organisation(db.session, officer, org, "гэрээ зөрчсөн")
    with pytest.raises(Conflict) as e:
        orders.approve_order(db.session, officer, order, checked_document_ids=ids, ports=ports)
    assert e.value.code == "organisation"


def test_rejection_needs_a_reason_and_tells_both_in_their_language(rctx, ports, mail):
    org, registrar, officer = active_org(db.session, ports)
    order = submitted_order(db.session, ports, org, registrar, locale="en")
    with pytest.raises(UserError):
        orders.reject_order(db.session, officer, order, "  ", ports=ports)
    orders.reject_order(db.session, officer, order, "Иргэний үнэмлэхний хуулбар бүдэг", ports=ports)
    commit()
    assert order.status == OrderStatus.REJECTED and order.reason.startswith("Иргэний")
    english = mail.to(order.holder.email)[-1]
    assert "rejected" in english["Subject"] and "Иргэний үнэмлэхний хуулбар бүдэг" in english.get_content()
    with pytest.raises(InvalidTransition):
        orders.approve_order(db.session, officer, order, ports=ports)


def test_one_open_order_per_holder_and_profile(rctx, ports):
    org, registrar, _ = active_org(db.session, ports)
    order = submitted_order(db.session, ports, org, registrar)
    with pytest.raises(Conflict):
        orders.create_order(db.session, registrar, order.holder, profile="signing", ports=ports)
    other = orders.create_order(db.session, registrar, order.holder, profile="authentication", ports=ports)
    assert other.status == OrderStatus.SUBMITTED
    with pytest.raises(ValidationFailed):
        orders.create_order(db.session, registrar, order.holder, profile="server", ports=ports)
    orders.cancel_order(db.session, registrar, order, "алдаатай", ports=ports)
    again = orders.create_order(db.session, registrar, order.holder, profile="signing", ports=ports)
    assert again.status == OrderStatus.SUBMITTED


def test_orders_need_an_active_organisation(rctx, ports):
    from tests.factories import make_org
    org, registrar = make_org(db.session, ports, status="contract_sent")
    holder = make_holder(db.session, ports, org, registrar)
    with pytest.raises(Conflict):
        orders.create_order(db.session, registrar, holder, profile="signing", ports=ports)


def _issue(order, officer, ports, days_left):
    from ra.enrollment.appointments_service import book_appointments
    from tests.enrollment.helpers import make_counter, next_day
    from ra.enrollment.appointments_service import slot_starts
    counter = make_counter(db.session, ports)
    start = slot_starts(counter, next_day(ports))[0]
    registrar = db.session.get(type(officer), order.requested_by_id)
    book_appointments(db.session, registrar, [order], counter, start, ports=ports)
    orders.record_issuance(db.session, officer, order, serial="4F2A", issuer="CN=Төрийн ГБ 2026",
                           not_after=ports.clock.now() + timedelta(days=days_left), ports=ports)


def test_renewal_is_offered_from_60_days_before_expiry(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer)
    _issue(order, officer, ports, days_left=90)
    assert order.status == OrderStatus.ISSUED and order.appointment is None
    with pytest.raises(Conflict) as e:
        orders.file_renewal(db.session, registrar, order.holder, ports=ports)
    assert e.value.code == "too_early"
    order.certificate_not_after = ports.clock.now() + timedelta(days=59)
    renewal = orders.file_renewal(db.session, registrar, order.holder, ports=ports)
    assert renewal.kind == OrderKind.RENEWAL and renewal.replaces_order_id == order.id
    assert renewal.holder_id == order.holder_id and renewal.status == OrderStatus.SUBMITTED


def test_position_change_records_the_revocation_request_and_links_the_new_order(rctx, ports, monkeypatch):
    # Without the revocation module wired, the request is recorded and waits.
    monkeypatch.delitem(ports.extra, "revocation", raising=False)
    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer, position="Мэргэжилтэн")
    _issue(order, officer, ports, days_left=500)
    change = orders.change_position(db.session, registrar, order.holder, position="Хэлтсийн дарга",
                                    department="Хуулийн хэлтэс", ports=ports)
    assert change.revocation == RevocationState.AWAITING_REVOCATION
    assert change.old_certificate_serial == "4F2A" and change.old_order_id == order.id
    assert change.order.kind == OrderKind.POSITION_CHANGE and change.order.replaces_order_id == order.id
    assert order.holder.position == "Хэлтсийн дарга" and change in awaiting_revocation(db.session)
    actions = [a for (a,) in db.session.execute(sa.select(AuditRecord.action).where(
        AuditRecord.object_type == "position_change", AuditRecord.object_id == str(change.id)))]
    assert actions == ["position_change.revocation_awaiting"]


def test_position_change_calls_the_revocation_module_once_it_is_wired(rctx, ports, monkeypatch):
    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer)
    _issue(order, officer, ports, days_left=500)
    calls = []
    monkeypatch.setitem(ports.extra, "revocation", lambda session, actor, **kw: calls.append(kw) or "REV-1")
    change = orders.change_position(db.session, registrar, order.holder, position="Дарга", ports=ports)
    assert calls[0]["serial"] == "4F2A" and calls[0]["reason"] == "affiliationChanged"
    assert change.revocation == RevocationState.REVOCATION_REQUESTED and change.revocation_reference == "REV-1"


def test_position_change_without_a_certificate_has_nothing_to_revoke(rctx, ports):
    org, registrar, officer = active_org(db.session, ports)
    holder = make_holder(db.session, ports, org, registrar)
    change = orders.change_position(db.session, registrar, holder, position="Дарга", ports=ports)
    assert change.revocation == RevocationState.NOTHING_TO_REVOKE
