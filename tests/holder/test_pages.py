"""The holder's own pages: only their own certificates, tokens and orders (404
for anything else), the step-up code before a lost-token report or an unblock
request, and booking their own appointment."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.enrollment.holder_models import Holder
from ra.enrollment.order_states import OrderStatus
from ra.extensions import db
from ra.holder import stepup
from ra.holder.models import StepUpCode
from ra.ports import FrozenClock
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus
from tests.conftest import csrf_from
from tests.enrollment.helpers import approved_order, login, make_counter
from tests.holder.conftest import activate_account, digits_in
from tests.revocation.conftest import build_world, issue, user

PHONE = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"}


@pytest.fixture
def two(app, ports, mail):
    """Two holders of one organisation, each with a certificate on a token and an
    activated account, and an approved order each."""
    with app.app_context():
        world = build_world(ports)
        mine, theirs = issue(ports, world), issue(ports, world)
        registrar = user(world.registrar)
        for issued in (mine, theirs):
            activate_account(ports, mail, db.session.get(Holder, issued.holder_id), registrar)
        officer = user(world.officer)
        orders = []
        for issued in (mine, theirs):
            holder = db.session.get(Holder, issued.holder_id)
            from tests.enrollment.helpers import upload_documents
            from ra.enrollment import orders_service
            upload_documents(db.session, ports, holder, registrar)
            order = orders_service.create_order(db.session, registrar, holder, profile="authentication", ports=ports)
            orders_service.approve_order(db.session, officer, order, checked_document_ids=[
                d.id for d in holder.documents], ports=ports)
            orders.append(order.id)
        db.session.commit()
        return world, mine, theirs, orders


def _post(client, path, data, **kw):
    token = csrf_from(client.get(path, headers=PHONE).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, headers=PHONE, buffered=True, **kw)


def test_a_holder_sees_only_their_own_certificates_tokens_and_orders(app, client, two):
    world, mine, theirs, (my_order, their_order) = two
    login(client, mine.holder_email)
    page = client.get("/me", headers=PHONE).get_data(as_text=True)
    assert mine.serial in page and theirs.serial not in page
    assert mine.token_serial in client.get("/me/tokens").get_data(as_text=True)
    assert theirs.token_serial not in client.get("/me/tokens").get_data(as_text=True)
    with app.app_context():
        my_cert, their_cert = (db.session.get(Certificate, i.certificate_id) for i in (mine, theirs))
        my_cert_id, their_cert_id = my_cert.id, their_cert.id
    pem = client.get(f"/me/certificates/{my_cert_id}.pem")
    assert pem.status_code == 200 and pem.data.startswith(b"-----BEGIN CERTIFICATE-----")
    assert client.get(f"/me/certificates/{my_cert_id}.der").data[0] == 0x30
    assert client.get(f"/me/certificates/{my_cert_id}.chain.pem").data.count(b"BEGIN CERTIFICATE") >= 2
    for path in (f"/me/certificates/{their_cert_id}.pem", f"/me/certificates/{their_cert_id}.der",
                 f"/me/tokens/{theirs.token_id}/lost", f"/me/tokens/{theirs.token_id}/unblock",
                 f"/me/tokens/{theirs.token_id}/receipt.pdf", f"/me/orders/{their_order}/book"):
        assert client.get(path).status_code == 404, path
    assert _post(client, f"/me/tokens/{mine.token_id}/lost", {"send": "1"}).status_code == 200
    assert client.post(f"/me/tokens/{theirs.token_id}/lost", data={
        "send": "1", "csrf_token": csrf_from(client.get("/me").get_data(as_text=True))}).status_code == 404
    # Staff and registrars have no /me pages.
    other = app.test_client()
    login(other, world.registrar)
    assert other.get("/me").status_code == 404


def test_the_expiry_warning_shows_at_60_30_and_7_days(app, client, two, ports, monkeypatch):
    from ra.holder.views import expiry_warning

    _, mine, _, _ = two
    with app.app_context():
        cert = db.session.get(Certificate, mine.certificate_id)
        not_after = cert.not_after
        warnings = [expiry_warning(cert, not_after - timedelta(days=d) + timedelta(hours=1))
                    for d in (61, 59, 29, 20, 6)]
        assert warnings == [None, 60, 30, 30, 7]
    # The page, on a phone, 20 days before expiry (the clock set before the login:
    # a later jump would end the session as idle).
    monkeypatch.setattr(ports, "clock", FrozenClock(not_after - timedelta(days=20) + timedelta(hours=1)))
    login(client, mine.holder_email)
    page = client.get("/me", headers=PHONE).get_data(as_text=True)
    assert 'class="expiry d30"' in page and ">20<" in page and 'name="viewport"' in page


def test_step_up_codes_are_single_use_expire_and_are_throttled(app, ports, mail, two, monkeypatch):
    _, mine, _, _ = two
    with app.app_context():
        from ra.auth.models import User
        import sqlalchemy as sa
        holder = db.session.get(Holder, mine.holder_id)
        account = db.session.execute(sa.select(User).where(User.register_number == holder.register_number)).scalar_one()
        target = str(mine.token_id)
        code = digits_in(_send(ports, mail, account, holder, target))
        stepup.consume(db.session, account, "lost_token", target, code, ports=ports)
        with pytest.raises(stepup.StepUpRefused):  # single use
            stepup.consume(db.session, account, "lost_token", target, code, ports=ports)
        code = digits_in(_send(ports, mail, account, holder, target))
        with pytest.raises(stepup.StepUpRefused):  # bound to its purpose
            stepup.consume(db.session, account, "unblock", target, code, ports=ports)
        with pytest.raises(stepup.StepUpRefused):  # and its token
            stepup.consume(db.session, account, "lost_token", str(mine.token_id + 1000), code, ports=ports)
        now = ports.clock.now()
        monkeypatch.setattr(ports, "clock", FrozenClock(now + timedelta(minutes=stepup.CODE_MINUTES, seconds=1)))
        with pytest.raises(stepup.StepUpRefused):  # expired
            stepup.consume(db.session, account, "lost_token", target, code, ports=ports)
        monkeypatch.setattr(ports, "clock", FrozenClock(now + timedelta(minutes=20)))
        code = digits_in(_send(ports, mail, account, holder, target))
        wrong = f"{(int(code) + 1) % 10 ** 8:08d}"
        for _ in range(stepup.MAX_WRONG):
            with pytest.raises(stepup.StepUpRefused):
                stepup.consume(db.session, account, "lost_token", target, wrong, ports=ports)
        with pytest.raises(stepup.StepUpRefused):  # locked after five wrong tries, even with the right code
            stepup.consume(db.session, account, "lost_token", target, code, ports=ports)
        for _ in range(stepup.CODES_PER_HOUR - 3):
            _send(ports, mail, account, holder, target)
        with pytest.raises(stepup.StepUpThrottled):  # five an hour
            stepup.send(db.session, account, holder, "lost_token", target, ports=ports)
        assert all(len(r.code_digest) == 64 for r in db.session.query(StepUpCode).filter_by(user_id=account.id))


def _send(ports, mail, account, holder, target):
    sent = stepup.send(db.session, account, holder, "lost_token", target, ports=ports)
    db.session.commit()
    assert stepup.deliver(sent, ports=ports)
    return mail.to(holder.email)[-1]


def test_i_lost_my_token_needs_the_code_then_suspends_it_and_holds_its_certificate(app, client, mail, two):
    _, mine, theirs, _ = two
    login(client, mine.holder_email)
    path = f"/me/tokens/{mine.token_id}/lost"
    assert _post(client, path, {"code": "00000000"}).status_code == 400  # no code asked for yet
    assert _post(client, path, {"send": "1"}).status_code == 200
    code = digits_in(mail.to(mine.holder_email)[-1])
    resp = _post(client, path, {"code": code})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:400]
    with app.app_context():
        token = db.session.get(Token, mine.token_id)
        cert = db.session.get(Certificate, mine.certificate_id)
        assert token.status == TokenStatus.SUSPENDED and cert.status == CertificateStatus.SUSPENDED
        assert db.session.get(Certificate, theirs.certificate_id).status == CertificateStatus.VALID
    assert _post(client, path, {"code": code}).status_code == 400  # the code is spent


def test_a_holder_books_moves_and_cancels_their_own_appointment(app, client, ports, two):
    _, mine, _, (my_order, _) = two
    with app.app_context():
        counter = make_counter(db.session, ports)
        db.session.commit()
        counter_id = counter.id
    login(client, mine.holder_email)
    page = client.get(f"/me/orders/{my_order}/book").get_data(as_text=True)
    assert "first-slot" in page
    import re
    slots = re.findall(r'name="slot" value="([^"]+)"', page)
    assert slots and all(s.startswith(f"{counter_id}@") or "@" in s for s in slots)
    assert _post(client, f"/me/orders/{my_order}/book", {"slot": slots[0]}).status_code == 303
    with app.app_context():
        from ra.enrollment.holder_models import CertificateOrder
        order = db.session.get(CertificateOrder, my_order)
        assert order.status == OrderStatus.SCHEDULED and order.appointment is not None
    assert _post(client, f"/me/orders/{my_order}/book", {"slot": slots[1]}).status_code == 303  # moved
    with app.app_context():
        order = db.session.get(CertificateOrder, my_order)
        appt_id = order.appointment.id
        assert order.appointment.slot.starts_at.isoformat() == slots[1].split("@", 1)[1]
    assert _post(client, f"/me/appointments/{appt_id}/cancel", {}).status_code == 303
    with app.app_context():
        assert db.session.get(CertificateOrder, my_order).status == OrderStatus.APPROVED


def test_no_time_within_three_working_days_tells_the_registrar_and_managers_once_a_day(app, client, ports, mail,
                                                                                        two):
    world, mine, _, (my_order, _) = two
    with app.app_context():
        from ra.holder.actions import shortage_days
        before = shortage_days(db.session)
        db.session.commit()
    login(client, mine.holder_email)
    mail.clear()
    page = client.get(f"/me/orders/{my_order}/book").get_data(as_text=True)  # no counter open at all
    assert "first-slot" not in page
    client.get(f"/me/orders/{my_order}/book")
    assert len(mail.to(world.registrar)) == 1 and len(mail.to(world.manager)) == 1
    with app.app_context():
        assert shortage_days(db.session) == before + 1
    manager = app.test_client()
    login(manager, world.manager)
    assert 'id="booking-shortage-days"' in manager.get("/reports/").get_data(as_text=True)


def test_my_pin_is_blocked_needs_the_code_then_starts_the_remote_unblock(app, client, ports, mail, two):
    import sqlalchemy as sa

    from ra.tokens.escrow import token_context
    from ra.tokens.unblock_models import UnblockRequest
    from ra.tokens.unblock_states import UnblockChannel
    from tests.tokens.test_unblock_support import CODE

    _, mine, _, _ = two
    with app.app_context():
        token = db.session.get(Token, mine.token_id)
        token.so_pin = ports.tokens.escrow.seal("SO-PIN-kept-by-RU", token_context(token.serial))
        db.session.commit()
    login(client, mine.holder_email)
    path = f"/me/tokens/{mine.token_id}/unblock"
    assert _post(client, path, {"send": "1"}).status_code == 200
    step_up = digits_in(mail.to(mine.holder_email)[-1])
    assert _post(client, path, {"code": "12345678" if step_up != "12345678" else "87654321"}).status_code == 400
    assert _post(client, path, {"code": step_up}).status_code == 303
    message = mail.to(mine.holder_email)[-1]
    assert CODE.search(message.get_content()) and "ra-token unblock" in message.get_content()
    with app.app_context():
        req = db.session.execute(sa.select(UnblockRequest).where(UnblockRequest.token_id == mine.token_id)
                                 ).scalar_one()
        assert req.channel == UnblockChannel.HOLDER and req.code_digest != CODE.search(message.get_content())[0]
