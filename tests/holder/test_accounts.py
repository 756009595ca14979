"""Holder accounts: made at the first certificate or by the registrar, activated
once by a 72-hour link, one per person across organisations."""
from __future__ import annotations

from datetime import timedelta

from ra.auth.roles import Role
from ra.extensions import db
from ra.holder.models import HolderActivation
from ra.ports import FrozenClock
from tests.conftest import csrf_from
from tests.enrollment.helpers import active_org, approved_order, login, make_holder
from tests.factories import PASSWORD
from tests.holder.conftest import account_of, activate_account, link_in


def _issue(order, officer, ports):
    from ra.enrollment import orders_service as orders
    from ra.enrollment.appointments_service import book_appointments, slot_starts
    from tests.enrollment.helpers import make_counter, next_day

    counter = make_counter(db.session, ports)
    registrar = db.session.get(type(officer), order.requested_by_id)
    book_appointments(db.session, registrar, [order], counter, slot_starts(counter, next_day(ports))[0], ports=ports)
    orders.record_issuance(db.session, officer, order, serial="4F2A", issuer="CN=Төрийн ГБ 2026",
                           not_after=ports.clock.now() + timedelta(days=700), ports=ports)


def test_the_first_certificate_opens_the_account_and_the_link_sets_the_password_once(ctx, ports, mail,
                                                                                      client, monkeypatch):
    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer)
    holder = order.holder
    _issue(order, officer, ports)
    db.session.commit()
    from ra.db import commit
    commit()
    user = account_of(holder.register_number)
    assert user is not None and user.role == Role.HOLDER and user.password_hash is None
    assert any("account" in str(m["Subject"]).lower() or "бүртгэл" in str(m["Subject"]).lower()
               for m in mail.to(holder.email))
    # The holder asks for the link with their work e-mail; the answer is the same for a stranger.
    page = client.get("/me/activate").get_data(as_text=True)
    resp = client.post("/me/activate", data={"email": holder.email.upper(), "csrf_token": csrf_from(page)},
                       buffered=True)
    stranger = client.post("/me/activate", data={"email": "nobody@example.mn", "csrf_token": csrf_from(page)})
    assert resp.status_code == stranger.status_code == 303 and resp.location == stranger.location
    secret = link_in(mail.to(holder.email)[-1])
    assert db.session.query(HolderActivation).filter_by(user_id=user.id).one().secret_digest != secret
    page = client.get(f"/me/activate/{secret}")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    weak = client.post(f"/me/activate/{secret}", data={"password": "short", "confirm": "short", "csrf_token": token})
    assert weak.status_code == 400  # the staff's password policy
    ok = client.post(f"/me/activate/{secret}", data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert ok.status_code == 303
    assert client.get(f"/me/activate/{secret}").status_code == 400  # single use
    login(client, holder.email)
    assert client.get("/").location.endswith("/me")


def test_an_activation_link_expires_after_72_hours(ctx, ports, mail, client, monkeypatch):
    org, registrar, _ = active_org(db.session, ports)
    holder = make_holder(db.session, ports, org, registrar)
    from ra.holder import service as accounts
    accounts.deliver(accounts.open_account(db.session, registrar, holder, ports=ports), ports=ports)
    db.session.commit()
    secret = link_in(mail.to(holder.email)[-1])
    monkeypatch.setattr(ports, "clock", FrozenClock(ports.clock.now() + timedelta(hours=72, minutes=1)))
    assert client.get(f"/me/activate/{secret}").status_code == 400


def test_one_account_per_person_sees_both_organisations_and_logs_in_with_either_email(app, ports, mail, client):
    with app.app_context():
        org1, registrar1, _ = active_org(db.session, ports)
        org2, registrar2, _ = active_org(db.session, ports)
        first = make_holder(db.session, ports, org1, registrar1)
        second = make_holder(db.session, ports, org2, registrar2, register_number=first.register_number)
        activate_account(ports, mail, first, registrar1)
        from ra.holder import service as accounts
        assert accounts.ensure_account(db.session, registrar2, second)[1] is False  # the same account
        db.session.commit()
        names, emails = (org1.name, org2.name), (first.email, second.email)
    login(client, emails[1])
    page = client.get("/me").get_data(as_text=True)
    assert names[0] in page and names[1] in page
    other = app.test_client()
    login(other, emails[0])
    assert names[1] in other.get("/me").get_data(as_text=True)


def test_another_organisations_registrar_cannot_open_the_account(app, ports, client):
    with app.app_context():
        org1, registrar1, _ = active_org(db.session, ports)
        _, registrar2, _ = active_org(db.session, ports)
        holder = make_holder(db.session, ports, org1, registrar1)
        db.session.commit()
        holder_id, regno, email = holder.id, holder.register_number, registrar2.email
    login(client, email)
    page = client.get("/enrollment/holders").get_data(as_text=True)
    resp = client.post(f"/holders/{holder_id}/account", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 404
    with app.app_context():
        assert account_of(regno) is None
