"""The handover through its three entry points — the counter page (without
JavaScript: plain form posts), ``flask tokens handover`` and ``/api/v1/handovers``
— on real SoftHSM2 and the embedded CA; and no user PIN anywhere afterwards."""
from __future__ import annotations

import base64
import logging
import re

import pytest
import sqlalchemy as sa

from ra.auth.roles import Role
from ra.enrollment.holder_models import CertificateOrder
from ra.extensions import db
from ra.tokens import handover_queries as hq
from ra.tokens import stock_service
from ra.tokens.escrow import token_context
from ra.tokens.handover_models import PinEnvelope
from ra.tokens.handover_states import HandoverStep as H
from tests.factories import make_staff
from tests.foundation.helpers import login, token_of
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN
from tests.tokens.test_handover_support import certificates_of, pdf_text, ready_order

WEB_PIN, CLI_PIN, API_PIN, RESUME_PIN = "Kq4-70t2", "Zr9-31m5", "Hx2-86w4", "Pb6-47n8"
CLI2_PIN, CRASH_PIN = "Ys3-58d1", "Gv7-14c3"


@pytest.fixture(autouse=True)
def _ca(embedded_ca):
    return embedded_ca


def _setup(app, hsm, driver, n_tokens=1, n_orders=1):
    serials = hsm.create_stock(n_tokens, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)
    driver.rescan()
    with app.app_context():
        ports = app.extensions["ra.ports"]
        admin = make_staff(db.session, ports, Role.ADMIN)
        officer = make_staff(db.session, ports, Role.RA_OFFICER)
        stock_service.receive_batch(db.session, admin, stock_service.BatchData(
            model="SoftHSM2 test", supplier="Test", received_on=ports.clock.today(), serials="\n".join(serials),
            factory_so_pin=FACTORY_SO_PIN), ports=ports)
        orders = [ready_order(db.session, ports) for _ in range(n_orders)]
        db.session.commit()
        return officer.email, officer, serials, [(o.id, o.holder.register_number, o.holder.full_name)
                                                  for o in orders]


def _client(app, email, lang="en"):
    client = app.test_client()
    login(client, email)
    client.post("/language", data={"lang": lang, "next": "/", "csrf_token": token_of(client, "/tokens/handovers")})
    return client


def test_the_counter_page_without_javascript(app, driver, hsm, tmp_path):
    email, _, (serial,), [(order_id, regno, name)] = _setup(app, hsm, driver)
    client = _client(app, email)
    listing = client.get("/tokens/handovers").get_data(as_text=True)
    assert name in listing and f"/tokens/handovers/new?order_id={order_id}" in listing

    page = client.get(f"/tokens/handovers/new?order_id={order_id}").get_data(as_text=True)
    assert serial in page and "Ready for a holder" in page
    csrf = token_of(client, f"/tokens/handovers/new?order_id={order_id}")
    wrong = client.post("/tokens/handovers", data={"csrf_token": csrf, "order_id": order_id, "token_serial": serial,
                                                   "id_document_type": "id_card", "id_document_number": "УБ00000000"})
    assert wrong.status_code == 400 and regno in wrong.get_data(as_text=True)
    resp = client.post("/tokens/handovers", data={"csrf_token": csrf, "order_id": order_id, "token_serial": serial,
                                                  "id_document_type": "id_card", "id_document_number": regno})
    assert resp.status_code == 303
    url = resp.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert 'id="run-form"' in page and 'data-step="token_picked" class="done"' in page
    assert '<script src="/static/handover.js"></script>' in page

    mismatch = client.post(f"{url}/run", data={"csrf_token": csrf, "pin_choice": "typed", "pin": WEB_PIN,
                                               "pin2": "other-pin"})
    assert mismatch.status_code == 422 and "The PINs do not match." in mismatch.get_data(as_text=True)
    weak = client.post(f"{url}/run", data={"csrf_token": csrf, "pin_choice": "typed", "pin": "123456",
                                           "pin2": "123456"})
    assert weak.status_code == 400 and "sequence" in weak.get_data(as_text=True)
    done = client.post(f"{url}/run", data={"csrf_token": csrf, "pin_choice": "typed", "pin": WEB_PIN,
                                           "pin2": WEB_PIN})
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "The token was handed over" in page and 'data-step="completed" class="done"' in page
    progress = client.get(f"{url}/progress").get_json()
    assert progress["step"] == "completed" and progress["finished"] and not progress["running"]
    assert progress["certificate"]["on_token"] is True
    receipt = client.get(f"{url}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert progress["certificate"]["serial"] in pdf_text(receipt.data, tmp_path)
    driver.check_user_pin(serial, WEB_PIN)


def test_the_counter_page_prints_the_sealed_envelope_once_and_speaks_mongolian(app, driver, hsm, tmp_path):
    email, _, (serial,), [(order_id, regno, name)] = _setup(app, hsm, driver)
    client = _client(app, email, lang="mn")
    csrf = token_of(client, f"/tokens/handovers/new?order_id={order_id}")
    url = client.post("/tokens/handovers", data={"csrf_token": csrf, "order_id": order_id, "scanned_serial": serial,
                                                 "id_document_type": "passport", "id_document_number": regno}
                      ).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert 'lang="mn"' in page and "Identity checked" not in page  # Mongolian first
    done = client.post(f"{url}/run", data={"csrf_token": csrf, "pin_choice": "envelope"})
    target = done.headers["Location"]
    assert target.endswith(url)  # no key in a URL: URLs land in access logs
    page = client.get(target).get_data(as_text=True)
    link = re.search(r'href="(/tokens/handovers/\d+/envelope\.pdf)"', page).group(1)
    with app.app_context():  # waiting in the database for any worker, sealed
        (sealed,) = db.session.execute(sa.select(PinEnvelope.sealed)).scalars().all()
        assert b"%PDF" not in sealed
    other_window = _client(app, email, lang="mn")  # the same officer, another session: not its envelope
    assert other_window.get(link).status_code == 404
    envelope = client.get(link)
    assert envelope.status_code == 200 and envelope.mimetype == "application/pdf"
    pin = next(w for w in pdf_text(envelope.data, tmp_path).split() if w.isdigit() and len(w) == 8)
    driver.check_user_pin(serial, pin)
    assert client.get(link).status_code == 404  # printed once, then gone
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(PinEnvelope)).scalar() == 0


def test_an_unprinted_envelope_is_gone_after_ten_minutes(app, driver, hsm):
    from datetime import timedelta

    from ra.ports import FrozenClock

    email, _, (serial,), [(order_id, regno, name)] = _setup(app, hsm, driver)
    client = _client(app, email)
    csrf = token_of(client, f"/tokens/handovers/new?order_id={order_id}")
    url = client.post("/tokens/handovers", data={"csrf_token": csrf, "order_id": order_id, "scanned_serial": serial,
                                                 "id_document_type": "passport", "id_document_number": regno}
                      ).headers["Location"]
    client.post(f"{url}/run", data={"csrf_token": csrf, "pin_choice": "envelope"})
    ports = app.extensions["ra.ports"]
    real = ports.clock
    ports.clock = FrozenClock(real.now() + timedelta(minutes=11))
    try:
        assert "envelope.pdf" not in client.get(url).get_data(as_text=True)
        assert client.get(f"{url}/envelope.pdf").status_code == 404
    finally:
        ports.clock = real
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(PinEnvelope)).scalar() == 0


def test_the_counter_page_abandons_a_handover_whose_token_broke_after_issuance(app, driver, hsm):
    """The certificate exists but the token broke: the officer gives the reason, the
    certificate's revocation is requested (held meanwhile) and the handover stops."""
    from ra.ca.models import Certificate
    from ra.ca.states import CertificateStatus
    from ra.tokens import handover_jobs

    email, officer, (serial,), [(order_id, regno, name)] = _setup(app, hsm, driver)
    with app.app_context():
        ports = app.extensions["ra.ports"]
        order = db.session.get(CertificateOrder, order_id)
        run = handover_jobs.start(db.session, db.session.merge(officer), order, id_document_type="id_card",
                                  id_document_number=regno, token_serial=serial, user_pin="483920",
                                  stop_after=H.CERTIFICATE_ISSUED, ports=ports)
        handover_id = run.handover_id
    client = _client(app, email)
    url = f"/tokens/handovers/{handover_id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="abandon-form"' in page
    csrf = token_of(client, url)
    assert client.post(f"{url}/abandon", data={"csrf_token": csrf, "reason": ""}).status_code == 303
    assert "Give the reason." in client.get(url).get_data(as_text=True)
    client.post(f"{url}/abandon", data={"csrf_token": csrf, "reason": "The token cracked in the reader"})
    page = client.get(url).get_data(as_text=True)
    # Dual control (the default): held now, revoked once a second officer approves —
    # and the officer is told so, not that it is revoked.
    assert "revocation is requested" in page and "was revoked" not in page
    assert client.get(f"{url}/progress").get_json()["step"] == "cancelled"
    with app.app_context():
        cert = db.session.execute(sa.select(Certificate).where(Certificate.order_id == order_id)).scalar_one()
        assert cert.status == CertificateStatus.SUSPENDED


def test_the_command_line(app, driver, hsm, tmp_path):
    email, _, serials, orders = _setup(app, hsm, driver, n_tokens=2, n_orders=2)
    runner = app.test_cli_runner()
    slot = driver.slot(serials[0]).slot_id
    (order_id, regno, _), (order2, regno2, _) = orders
    result = runner.invoke(args=["tokens", "handover", str(order_id), "--as", email, "--slot", str(slot),
                                 "--id-document", regno, "--pin-stdin", "--receipt", str(tmp_path / "r.pdf")],
                           input=CLI_PIN + "\n")
    assert result.exit_code == 0, result.output
    assert "[8/8]" in result.output and "completed" in result.output and CLI_PIN not in result.output
    assert regno in pdf_text((tmp_path / "r.pdf").read_bytes(), tmp_path)
    driver.check_user_pin(serials[0], CLI_PIN)

    # A handover that stops (a token not in the reader) is resumed from the command line.
    stopped = runner.invoke(args=["tokens", "handover", str(order2), "--as", email, "--serial", "NOT-IN-READER",
                                  "--id-document", regno2, "--random-pin", "--envelope", str(tmp_path / "e.pdf")])
    assert stopped.exit_code == 1 and "handover-resume" in stopped.output
    handover_id = int(re.search(r"handover (\d+) stopped", stopped.output).group(1))
    shown = runner.invoke(args=["tokens", "handover-show", str(handover_id)])
    assert "[x] 1." in shown.output and "token_refused" in shown.output  # not in the RU's stock
    resumed = runner.invoke(args=["tokens", "handover-resume", str(handover_id), "--as", email, "--serial",
                                  serials[1], "--random-pin", "--envelope", str(tmp_path / "e.pdf")])
    assert resumed.exit_code == 0, resumed.output
    pin = next(w for w in pdf_text((tmp_path / "e.pdf").read_bytes(), tmp_path).split()
               if w.isdigit() and len(w) == 8)
    driver.check_user_pin(serials[1], pin)
    with app.app_context():
        assert len(certificates_of(db.session, order2)) == 1


def test_the_json_api(app, driver, hsm, tmp_path):
    from tests.enrollment.helpers import api_token
    email, officer, serials, orders = _setup(app, hsm, driver, n_tokens=2, n_orders=2)
    with app.app_context():
        bearer = api_token(db.session, db.session.merge(officer))
        db.session.commit()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {bearer}", "Accept-Language": "en"}
    (order_id, regno, _), (order2, regno2, _) = orders
    bad = client.post("/api/v1/handovers", json={"order_id": order_id, "token_serial": serials[0],
                                                  "id_document_number": regno}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid"
    made = client.post("/api/v1/handovers", json={"order_id": order_id, "token_serial": serials[0],
                                                   "id_document_number": regno, "user_pin": API_PIN}, headers=auth)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["step"] == "completed" and body["certificate"]["on_token"] and "pin_envelope_pdf" not in body
    got = client.get(f"/api/v1/handovers/{body['id']}", headers=auth).get_json()
    assert got["certificate"]["serial"] == body["certificate"]["serial"]
    receipt = client.get(body["receipt_url"], headers=auth)
    assert receipt.mimetype == "application/pdf" and regno in pdf_text(receipt.data, tmp_path)

    paused = client.post("/api/v1/handovers", json={"order_id": order2, "token_serial": "NOPE",
                                                     "id_document_number": regno2, "random_pin": True}, headers=auth)
    assert paused.status_code == 202 and paused.get_json()["paused"]["code"] == "token_refused"
    hid = paused.get_json()["id"]
    resumed = client.post(f"/api/v1/handovers/{hid}/resume", json={"token_serial": serials[1], "random_pin": True},
                          headers=auth)
    assert resumed.status_code == 200 and resumed.get_json()["step"] == "completed"
    envelope = base64.b64decode(resumed.get_json()["pin_envelope_pdf"])
    pin = next(w for w in pdf_text(envelope, tmp_path).split() if w.isdigit() and len(w) == 8)
    driver.check_user_pin(serials[1], pin)
    assert client.get(f"/api/v1/handovers/{hid}", headers=auth).get_json().get("pin_envelope_pdf") is None
    assert client.get(f"/api/v1/handovers/{hid}").status_code == 401


def test_no_user_pin_reaches_the_database_or_the_logs(app, driver, hsm, caplog, capfd, tmp_path):
    """Every handover channel, a crash and a resume with a PIN typed again; then every
    table row, log record and console byte is searched."""
    from tests.tokens.test_no_pin_leaks import _database_dump
    caplog.set_level(logging.DEBUG)
    from tests.enrollment.helpers import api_token
    email, officer, serials, orders = _setup(app, hsm, driver, n_tokens=4, n_orders=4)
    client = _client(app, email)
    (order_id, regno, _), (order2, regno2, _), (order3, regno3, _), (order4, regno4, _) = orders
    cli = app.test_cli_runner().invoke(args=["tokens", "handover", str(order3), "--as", email, "--serial", serials[2],
                                             "--id-document", regno3, "--pin-stdin"], input=CLI2_PIN + "\n")
    assert cli.exit_code == 0, cli.output
    with app.app_context():
        bearer = api_token(db.session, db.session.merge(officer))
        db.session.commit()
    api = client.post("/api/v1/handovers", json={"order_id": order4, "token_serial": serials[3],
                                                  "id_document_number": regno4, "user_pin": API_PIN},
                      headers={"Authorization": f"Bearer {bearer}"})
    assert api.status_code == 201
    csrf = token_of(client, f"/tokens/handovers/new?order_id={order_id}")
    url = client.post("/tokens/handovers", data={"csrf_token": csrf, "order_id": order_id, "token_serial": serials[0],
                                                 "id_document_type": "id_card", "id_document_number": regno}
                      ).headers["Location"]
    client.post(f"{url}/run", data={"csrf_token": csrf, "pin_choice": "typed", "pin": WEB_PIN, "pin2": WEB_PIN})
    assert client.get(f"{url}/progress").get_json()["step"] == "completed"
    with app.app_context():
        from ra.tokens import handover_jobs as jobs
        ports = app.extensions["ra.ports"]
        actor = db.session.merge(officer)
        order = db.session.get(CertificateOrder, order2)

        def crash(step):
            if step == H.CSR_SIGNED:
                raise RuntimeError("power cut")

        with pytest.raises(RuntimeError):
            jobs.start(db.session, actor, order, id_document_type="id_card", id_document_number=regno2,
                       token_serial=serials[1], user_pin=CRASH_PIN, ports=ports, after_step=crash)
        hid = hq.handovers_of_order(db.session, order2)[0].id
        assert jobs.run(db.session, actor, hid, user_pin=RESUME_PIN, ports=ports).completed
        so_pins = [ports.tokens.escrow.open(t.so_pin, token_context(t.serial)) for t in _tokens(db.session)]
        dump = _database_dump(db.session)
    driver.check_user_pin(serials[1], RESUME_PIN)
    out, err = capfd.readouterr()
    out += cli.output
    logs = caplog.text + "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "handover.completed" in dump and "power cut" in logs  # tracebacks are searched too
    assert len(so_pins) == 4
    for secret in (WEB_PIN, CRASH_PIN, RESUME_PIN, CLI2_PIN, API_PIN, TRANSPORT_PIN, FACTORY_SO_PIN, *so_pins):
        for where, text in {"database": dump, "logs": logs, "console": out + err}.items():
            assert secret not in text, f"a PIN was found in the {where}"


def _tokens(session):
    import sqlalchemy as sa

    from ra.tokens.models import Token
    return list(session.execute(sa.select(Token).where(Token.so_pin.is_not(None))).scalars())


def test_the_counter_page_takes_the_token_again_and_cancels(app, driver, hsm):
    email, _, (serial,), [(order_id, regno, name)] = _setup(app, hsm, driver)
    client = _client(app, email)
    csrf = token_of(client, f"/tokens/handovers/new?order_id={order_id}")
    resp = client.post("/tokens/handovers", data={"csrf_token": csrf, "order_id": order_id,
                                                  "scanned_serial": "NOT-IN-STOCK", "id_document_type": "id_card",
                                                  "id_document_number": regno})
    url = resp.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "NOT-IN-STOCK is not in the RU" in page and 'id="pick-form"' in page and serial in page
    assert client.post(f"{url}/token", data={"csrf_token": csrf, "token_serial": serial}).status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert 'id="run-form"' in page and 'id="cancel-form"' in page
    assert client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": ""}).status_code == 303
    assert "Give the reason." in client.get(url).get_data(as_text=True)
    client.post(f"{url}/cancel", data={"csrf_token": csrf, "reason": "The holder forgot the ID card"})
    page = client.get(url).get_data(as_text=True)
    assert "The handover was cancelled" in page and "The holder forgot the ID card" in page
    assert 'id="run-form"' not in page
    assert client.get(f"{url}/progress").get_json()["step"] == "cancelled"
    # The order is ready again; an auditor may read the page but not act.
    assert f"new?order_id={order_id}" in client.get("/tokens/handovers").get_data(as_text=True)
    with app.app_context():
        auditor = make_staff(db.session, app.extensions["ra.ports"], Role.AUDITOR).email
        db.session.commit()
    reader = _client(app, auditor)
    assert reader.get(url).status_code == 200
    assert reader.post(f"{url}/run", data={"csrf_token": token_of(reader, url), "pin_choice": "envelope"}
                       ).status_code == 403
