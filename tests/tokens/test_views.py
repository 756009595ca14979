"""The stock pages as officers, administrators and auditors use them, in both languages."""
from __future__ import annotations

import re

from ra.auth.roles import Role
from ra.extensions import db
from ra.tokens import stock_service as svc
from ra.tokens.models import Token
from tests.factories import make_org, make_staff
from tests.foundation.helpers import login, token_of
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN


def _people(app):
    with app.app_context():
        ports = app.extensions["ra.ports"]
        people = {role: make_staff(db.session, ports, role).email
                  for role in (Role.RA_OFFICER, Role.ADMIN, Role.AUDITOR, Role.RA_MANAGER)}
        _, registrar = make_org(db.session, ports, "active")
        people[Role.ORG_REGISTRAR] = registrar.email
        db.session.commit()
    return people


def _client(app, email, lang="en"):
    client = app.test_client()
    login(client, email)
    if lang:
        client.post("/language", data={"lang": lang, "next": "/", "csrf_token": token_of(client, "/tokens/")})
    return client


def _stock(app, hsm, driver, n=2, *, prepared=False):
    """n SoftHSM2 stock tokens received as a batch; ``prepared``: the first is
    initialised, has PIN 582047 and is handed over."""
    serials = hsm.create_stock(n, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)
    driver.rescan()
    with app.app_context():
        ports = app.extensions["ra.ports"]
        admin = make_staff(db.session, ports, Role.ADMIN)
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        batch = svc.receive_batch(db.session, admin, svc.BatchData(
            model="SoftHSM2 test", supplier="Test supplier", received_on=ports.clock.today(),
            serials="\n".join(serials), factory_so_pin=FACTORY_SO_PIN), ports=ports)
        if prepared:
            token = batch.tokens[0]
            svc.begin_initialisation(db.session, officer, token, ports=ports)
            svc.initialise_token(db.session, officer, token, label="Holder", ports=ports)
            svc.set_user_pin(db.session, officer, token, "582047", source="typed", ports=ports)
            svc.activate_token(db.session, officer, token, ports=ports)
        db.session.commit()
        return {t.serial: t.id for t in batch.tokens}, batch.id


def test_admin_receives_a_scanned_batch_through_the_form(app, driver):
    people = _people(app)
    client = _client(app, people[Role.ADMIN])
    csrf = token_of(client, "/tokens/batches/new")
    resp = client.post("/tokens/batches/new", data={
        "csrf_token": csrf, "model": "SafeNet eToken 5110", "supplier": "Gemalto", "received_on": "2026-11-20",
        "serials": "WEB-0001\nWEB-0002\nWEB-0003\n", "factory_so_pin": "Vendor-SO-1", "factory_so_pin2": "Vendor-SO-1"})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "3 tokens were received into stock." in page and "WEB-0002" in page
    stock = client.get("/tokens/").get_data(as_text=True)
    assert re.search(r'data-state="in_stock"><a[^>]*>\s*3\s*<', stock)

    again = client.post("/tokens/batches/new", data={
        "csrf_token": csrf, "model": "SafeNet eToken 5110", "supplier": "Gemalto", "received_on": "2026-11-20",
        "serials": "WEB-0003\nWEB-0004", "factory_so_pin": "", "factory_so_pin2": ""})
    assert again.status_code == 422
    assert "Already in stock: WEB-0003" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Token).filter(Token.serial == "WEB-0004").count() == 0


def test_officer_reads_stock_and_history_but_cannot_receive(app, driver, hsm):
    people = _people(app)
    ids, _ = _stock(app, hsm, driver, prepared=True)
    client = _client(app, people[Role.RA_OFFICER], lang="mn")
    page = client.get("/tokens/").get_data(as_text=True)
    assert 'lang="mn"' in page and "Токены нөөц" in page
    assert client.get("/tokens/batches/new").status_code == 403
    serial = next(iter(ids))
    found = client.get(f"/tokens/?q={serial.upper()}")  # a scanned serial opens its token
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/tokens/{ids[serial]}")
    history = client.get(f"/tokens/{ids[serial]}").get_data(as_text=True)
    for event in ("token.received", "token.initialised", "token.user_pin_set", "token.active"):
        assert event in history


def test_reader_page_matches_slots_against_stock(app, driver, hsm):
    people = _people(app)
    _stock(app, hsm, driver, n=1)
    stranger = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    client = _client(app, people[Role.RA_OFFICER])
    page = client.get("/tokens/reader?rescan=1").get_data(as_text=True)
    assert "Yes" in page  # the received one is ready
    assert f"Token {stranger} is not in the RU&#39;s stock" in page
    assert _client(app, people[Role.AUDITOR]).get("/tokens/reader").status_code == 403


def test_officer_records_a_lost_token_and_sees_the_certificate_warning(app, driver, hsm, monkeypatch):
    # This test is about the effect recorded while revocation is not wired in.
    monkeypatch.delitem(app.extensions["ra.ports"].extra, "token_certificate_effects", raising=False)
    people = _people(app)
    ids, _ = _stock(app, hsm, driver, prepared=True)
    token_id = next(iter(ids.values()))
    client = _client(app, people[Role.RA_OFFICER])
    csrf = token_of(client, f"/tokens/{token_id}")
    resp = client.post(f"/tokens/{token_id}/state/lost", data={"csrf_token": csrf, "reason": "Stolen on the bus"},
                       follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "The token is now: Lost." in page
    assert "were NOT changed" in page and "keyCompromise" in page
    assert "Stolen on the bus" in page  # in the history
    assert client.post(f"/tokens/{token_id}/state/in_stock", data={"csrf_token": csrf, "reason": "x"}).status_code == 409


def test_unblock_at_the_counter_page(app, driver, hsm):
    people = _people(app)
    ids, _ = _stock(app, hsm, driver, prepared=True)
    serial, token_id = next(iter(ids.items()))
    client = _client(app, people[Role.RA_OFFICER])
    csrf = token_of(client, f"/tokens/{token_id}")
    weak = client.post(f"/tokens/{token_id}/unblock", data={"csrf_token": csrf, "pin": "123456", "pin2": "123456"})
    assert weak.status_code == 400 and "sequence" in weak.get_data(as_text=True)
    ok = client.post(f"/tokens/{token_id}/unblock", data={"csrf_token": csrf, "pin": "306158", "pin2": "306158"},
                     follow_redirects=True)
    assert "The PIN was reset." in ok.get_data(as_text=True)
    driver.check_user_pin(serial, "306158")


def test_people_outside_the_ru_see_no_stock(app, driver):
    people = _people(app)
    client = _client(app, people[Role.ORG_REGISTRAR])
    assert client.get("/tokens/").status_code == 403
    auditor = _client(app, people[Role.AUDITOR])
    assert auditor.get("/tokens/").status_code == 200
    assert "Receive a batch" not in auditor.get("/tokens/").get_data(as_text=True)


def test_a_missing_pkcs11_module_is_reported_on_the_reader_page(app, monkeypatch):
    from ra.tokens.driver import Pkcs11TokenDriver

    people = _people(app)
    ports = app.extensions["ra.ports"]
    monkeypatch.setattr(ports, "tokens", Pkcs11TokenDriver("/opt/vendor/libeToken.so", escrow=ports.tokens.escrow))
    page = _client(app, people[Role.RA_OFFICER]).get("/tokens/reader").get_data(as_text=True)
    assert "The PKCS#11 module /opt/vendor/libeToken.so cannot be loaded" in page
