"""What other modules hand to revocation: token events at the counter (DESIGN §3.3
token states and their certificate effects, on real SoftHSM2 tokens for "found"),
a position change (affiliationChanged), the embedded CA down during an approval,
and the 24-hour clock on the officer's queue."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from cryptography import x509

from ra.ca.embedded import EmbeddedCA
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.errors import RAError
from ra.extensions import db
from ra.ports import FrozenClock
from ra.revocation.models import RevocationRequest
from ra.revocation.policy import SETTINGS_KEY, RevocationSettings
from ra.revocation.states import RevocationStatus
from ra.tokens import stock_service
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus
from tests.conftest import csrf_from
from tests.enrollment.helpers import login
from tests.revocation.conftest import auth, crl_entry, crl_text, issue, new_token, user
from tests.tokens.conftest import driver, hsm  # noqa: F401  (a fresh SoftHSM2 token directory per test)

S = RevocationStatus


def _status(cert_id):
    c = db.session.get(Certificate, cert_id)
    db.session.refresh(c)
    return c.status


def _token(token_id):
    t = db.session.get(Token, token_id)
    db.session.refresh(t)
    return t.status


def _crl_text(ports, tmp_path):
    return crl_text(ports.ca.crl(), tmp_path)


def test_token_suspended_found_and_released_with_the_token_in_the_reader(ctx, ports, world, driver, hsm,
                                                                        tmp_path):
    officer = user(world.officer)
    serial = hsm.create_stock_token(so_pin="FACTORY-SO-1234", user_pin="4815162342", label="FOUND")
    driver.rescan()
    token = new_token(ports, serial=serial)
    issued = issue(ports, world, token=token)

    effect = stock_service.change_token_state(db.session, officer, token, TokenStatus.SUSPENDED,
                                              reason="The holder cannot find it", ports=ports)
    db.session.commit()
    assert effect.state == "done"
    assert _status(issued.certificate_id) == CertificateStatus.SUSPENDED
    assert "Certificate Hold" in crl_entry(_crl_text(ports, tmp_path), issued.serial)

    # "Found", but the token is not in the reader (pulled out): refused, nothing changes.
    pulled = tmp_path / "pulled-out"
    shutil.move(str(hsm.tokendir), str(pulled))
    hsm.tokendir.mkdir()
    driver.rescan()
    with pytest.raises(RAError) as err:
        stock_service.change_token_state(db.session, officer, token, TokenStatus.ACTIVE, reason="Found",
                                         ports=ports)
    assert err.value.status == 409 and err.value.code == "token_not_present"
    db.session.rollback()
    assert _token(token.id) == TokenStatus.SUSPENDED and _status(issued.certificate_id) == CertificateStatus.SUSPENDED

    # Put back in the reader.
    shutil.rmtree(hsm.tokendir)
    shutil.move(str(pulled), str(hsm.tokendir))
    driver.rescan()
    stock_service.change_token_state(db.session, officer, db.session.get(Token, token.id), TokenStatus.ACTIVE,
                                     reason="Found in the office", ports=ports)
    db.session.commit()
    assert _token(token.id) == TokenStatus.ACTIVE and _status(issued.certificate_id) == CertificateStatus.VALID
    assert crl_entry(_crl_text(ports, tmp_path), issued.serial) is None
    reasons = [r.reason.value for r in db.session.execute(sa.select(RevocationRequest).where(
        RevocationRequest.serial == issued.serial).order_by(RevocationRequest.id)).scalars()]
    assert reasons == ["certificateHold", "removeFromCRL"]


def test_token_lost_at_the_counter_waits_for_a_second_approver_but_is_held_at_once(ctx, ports, world, tmp_path):
    officer, manager = user(world.officer), user(world.manager)
    issued = issue(ports, world)
    token = db.session.get(Token, issued.token_id)
    stock_service.change_token_state(db.session, officer, token, TokenStatus.LOST, reason="Stolen bag", ports=ports)
    db.session.commit()
    assert _token(token.id) == TokenStatus.LOST
    assert _status(issued.certificate_id) == CertificateStatus.SUSPENDED
    [revocation] = db.session.execute(sa.select(RevocationRequest).where(
        RevocationRequest.serial == issued.serial, RevocationRequest.reason == "keyCompromise")).scalars().all()
    assert revocation.status == S.AWAITING_APPROVAL and revocation.requested_by_id == officer.id
    from ra.revocation import jobs, service
    jobs.run(db.session, manager, lambda: service.approve(db.session, manager, revocation, ports=ports), ports=ports)
    assert _status(issued.certificate_id) == CertificateStatus.REVOKED
    assert "Key Compromise" in crl_entry(_crl_text(ports, tmp_path), issued.serial)


def test_token_damaged_or_returned_revokes_at_once_without_dual_control(ctx, ports, world, monkeypatch, tmp_path):
    monkeypatch.setitem(ports.extra, SETTINGS_KEY, RevocationSettings(dual_control=False))
    officer = user(world.officer)
    damaged, returned = issue(ports, world), issue(ports, world)
    stock_service.change_token_state(db.session, officer, db.session.get(Token, damaged.token_id),
                                     TokenStatus.DAMAGED, reason="Cracked", ports=ports)
    stock_service.change_token_state(db.session, officer, db.session.get(Token, returned.token_id),
                                     TokenStatus.RETURNED, reason="Moved to the ministry", ports=ports,
                                     return_reason="affiliationChanged")
    db.session.commit()
    text = _crl_text(ports, tmp_path)
    assert "Cessation Of Operation" in crl_entry(text, damaged.serial)
    assert "Affiliation Changed" in crl_entry(text, returned.serial)


def test_a_position_change_requests_the_old_certificates_revocation(ctx, ports, world):
    from ra.enrollment import orders_service as orders
    from ra.enrollment.holder_models import Holder, RevocationState
    from ra.enrollment.models import Organisation
    from ra.enrollment.order_states import OrderStatus, order_states
    from tests.enrollment.helpers import approved_order

    from ra.revocation.hooks import register
    register(ports)  # as create_app wires it (another module's test may have taken it out)
    org = db.session.get(Organisation, world.org_id)
    registrar, officer = user(world.registrar), user(world.officer)
    order = approved_order(db.session, ports, org, registrar, officer)
    issued = issue(ports, world, holder=order.holder)
    for target in (OrderStatus.SCHEDULED, OrderStatus.ISSUED):  # the handover's end state
        order_states.transition(db.session, order, target, actor="handover (test)")
    cert = db.session.get(Certificate, issued.certificate_id)
    order.certificate_serial, order.certificate_not_after = cert.serial, cert.not_after
    db.session.commit()

    change = orders.change_position(db.session, registrar, db.session.get(Holder, issued.holder_id),
                                    position="Хэлтсийн дарга", ports=ports)
    db.session.commit()
    assert change.revocation == RevocationState.REVOCATION_REQUESTED
    req = db.session.execute(sa.select(RevocationRequest).where(
        RevocationRequest.number == change.revocation_reference)).scalar_one()
    assert (req.reason.value, req.status, req.position_change_id) == ("affiliationChanged", S.AWAITING_APPROVAL,
                                                                      change.id)


def test_an_abandoned_handovers_certificate_that_no_token_holds_is_revoked(ctx, ports, world, tmp_path):
    from ra.revocation.hooks import UNHELD_KEY, register

    register(ports)
    issued = issue(ports, world, token=False)
    cert = db.session.get(Certificate, issued.certificate_id)
    number = ports.extra[UNHELD_KEY](db.session, user(world.officer), cert, "The token broke before step 7")
    db.session.commit()
    made = db.session.execute(sa.select(RevocationRequest).where(RevocationRequest.serial == issued.serial)
                              .order_by(RevocationRequest.id)).scalars().all()
    assert [(r.number == number, r.reason.value, r.status) for r in made] == [
        (True, "cessationOfOperation", S.AWAITING_APPROVAL), (False, "certificateHold", S.COMPLETED)]
    assert "The token broke" in made[0].note
    assert "Certificate Hold" in crl_entry(_crl_text(ports, tmp_path), issued.serial)


def test_the_embedded_ca_down_during_approval_then_back(app, client, ports, world, monkeypatch, tmp_path):
    with app.app_context():
        issued = issue(ports, world)
    made = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                       json={"certificate_serial": issued.serial, "reason": "superseded"}).get_json()
    client.post(f"/api/v1/revocations/{made['id']}/approve", headers=auth(world, world.officer), json={})
    working = ports.ca
    # Its keys cannot be opened (the key setting changed): the embedded CA's way of being down.
    broken = EmbeddedCA(lambda: db.session, base_url=ports.base_url, wrapping_key=b"\x01" * 32, clock=ports.clock)
    monkeypatch.setattr(ports, "ca", broken)
    body = client.post(f"/api/v1/revocations/{made['id']}/approve", headers=auth(world, world.manager),
                       json={}).get_json()
    assert body["status"] == "approved" and body["last_error"].startswith("ca_key_unavailable")
    with app.app_context():
        assert db.session.get(Certificate, issued.certificate_id).status == CertificateStatus.VALID
        assert working.crl().get_revoked_certificate_by_serial_number(int(issued.serial, 16)) is None
        db.session.commit()
    monkeypatch.setattr(ports, "ca", working)
    done = app.test_cli_runner().invoke(args=["revocation", "work"])
    assert done.exit_code == 0 and "completed 1" in done.output, done.output
    got = client.get(f"/api/v1/revocations/{made['id']}", headers=auth(world, world.officer)).get_json()
    assert got["status"] == "completed" and got["published_at"] and got["attempts"] == 2
    crl = x509.load_der_x509_crl(client.get("/ca/crl/issuing-g1.crl").data)
    assert "Superseded" in crl_entry(crl_text(crl, tmp_path), issued.serial)


def test_a_request_received_25_hours_ago_shows_as_breached(app, client, ports, world, monkeypatch):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    monkeypatch.setattr(ports, "clock", FrozenClock(now - timedelta(hours=25)))
    with app.app_context():
        old, fresh = issue(ports, world), None
    late = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                       json={"certificate_serial": old.serial, "reason": "superseded"}).get_json()
    monkeypatch.setattr(ports, "clock", FrozenClock(now - timedelta(hours=13)))
    with app.app_context():
        fresh = issue(ports, world)
    middle = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                         json={"certificate_serial": fresh.serial, "reason": "superseded"}).get_json()
    monkeypatch.setattr(ports, "clock", FrozenClock(now))

    got = client.get(f"/api/v1/revocations/{late['id']}", headers=auth(world, world.officer)).get_json()
    assert got["breached"] is True and got["overdue"] is True and got["hours_since_receipt"] == 25.0
    got = client.get(f"/api/v1/revocations/{middle['id']}", headers=auth(world, world.officer)).get_json()
    assert got["breached"] is False and got["overdue"] is True

    login(client, world.officer)
    client.post("/language", data={"lang": "en", "csrf_token": csrf_from(client.get("/revocations").get_data(
        as_text=True))})
    page = client.get("/revocations").get_data(as_text=True)
    rows = {r.split('data-number="')[1].split('"')[0]: r for r in page.split("<tr")[1:] if 'data-number="' in r}
    assert "Breached: over 24 hours" in rows[late["number"]]
    assert "Overdue: over 12 hours" in rows[middle["number"]] and "Breached" not in rows[middle["number"]]
    # The CLI for monitoring says so too, and fails.
    out = app.test_cli_runner().invoke(args=["revocation", "overdue"])
    assert out.exit_code == 1 and f"{late['number']}" in out.output and "BREACHED" in out.output
