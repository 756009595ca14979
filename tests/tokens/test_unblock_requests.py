"""Asking for a remote-unblock code (issue #5, DESIGN §3.3): the holder from the
public page or API, the registration officer from the portal or API. Real SoftHSM2
tokens handed over with an embedded-CA certificate, the real SMTP sink, the app's
pages and API through Flask's test client."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.auth.roles import Role
from ra.extensions import db
from ra.tokens import stock_service
from ra.tokens import unblock_service as svc
from ra.tokens.unblock_api import openapi_paths
from ra.tokens.unblock_models import UnblockRequest
from ra.tokens.unblock_states import UnblockStatus
from tests.enrollment.helpers import active_org, api_token, login
from tests.factories import make_staff
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN
from tests.tokens.test_no_pin_leaks import _database_dump
from tests.tokens.test_unblock_support import code_in, hand_over


@pytest.fixture
def world(app, embedded_ca, driver, hsm, smtp_sink):
    """Two active organisations; a token handed over to a holder of the first; a
    token still in stock."""
    with app.app_context():
        ports = app.extensions["ra.ports"]
        org, registrar, officer = active_org(db.session, ports)
        other_org, other_registrar, _ = active_org(db.session, ports)
        handed = hand_over(db.session, ports, driver, hsm, org=org, registrar=registrar, officer=officer)
        serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
        driver.rescan()
        stock_service.receive_batch(db.session, make_staff(db.session, ports, Role.ADMIN), stock_service.BatchData(
            model="SoftHSM2 test", supplier="Test", received_on=ports.clock.today(), serials=serial,
            factory_so_pin=FACTORY_SO_PIN), ports=ports)
        db.session.commit()
        world = dict(handed=handed, in_stock=serial, registrar=registrar.email, other_registrar=other_registrar.email,
                     officer=officer.email, bearer=api_token(db.session, registrar),
                     other_bearer=api_token(db.session, other_registrar),
                     auditor=api_token(db.session, make_staff(db.session, ports, Role.AUDITOR)),
                     officer_bearer=api_token(db.session, officer))
        db.session.commit()
    smtp_sink.clear()
    return world


def _ask(client, email, serial, addr="198.51.100.7", lang="en"):
    resp = client.post("/api/v1/unblock-requests", json={"email": email, "token_serial": serial},
                       headers={"Accept-Language": lang}, environ_base={"REMOTE_ADDR": addr})
    resp.close()  # the server sends the code once the answer is out (``call_on_close``)
    return resp


def test_the_public_answer_is_the_same_whether_or_not_it_matched(app, client, world, smtp_sink):
    h = world["handed"]
    answers = [_ask(client, *pair) for pair in [
        (h.email.upper(), h.serial),                       # matches
        ("someone.else@" + h.email.split("@")[1], h.serial),  # wrong e-mail
        (h.email, "0000deadbeef0000"),                     # no such token
        (h.email, world["in_stock"]),                      # a token nobody holds
    ]]
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_data() for a in answers}) == 1
    assert answers[0].get_json()["message"].startswith("If this e-mail is the registered address")
    assert len(smtp_sink) == 1 and len(smtp_sink.to(h.email)) == 1
    code = code_in(smtp_sink.to(h.email)[0])
    with app.app_context():
        dump = _database_dump(db.session)
        unmatched = db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "token_unblock.unmatched")).scalar_one()
    assert unmatched == 3 and "token_unblock.requested" in dump
    assert code not in dump and code.replace("-", "") not in dump  # only its SHA-256 is kept


def _reset_throttle(app):
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM token_unblock_throttle"))
        db.session.commit()


def test_public_requests_are_throttled_alike_matched_or_not(app, client, world, smtp_sink):
    h = world["handed"]
    stranger = "nobody@" + h.email.split("@")[1]
    seen = {}
    for email in (stranger, h.email):
        _reset_throttle(app)
        answers = [_ask(client, email, h.serial, addr=f"203.0.113.{n}") for n in range(svc.ASKS_PER_EMAIL + 1)]
        seen[email] = [(a.status_code, a.get_data()) for a in answers]
    assert seen[stranger] == seen[h.email]
    assert [code for code, _ in seen[h.email]] == [202] * svc.ASKS_PER_EMAIL + [429]
    # Three codes an hour per token: the later matched asks are answered alike and send nothing.
    assert len(smtp_sink.to(h.email)) == svc.CODES_PER_TOKEN_PER_HOUR
    with app.app_context():
        sent = db.session.execute(sa.select(sa.func.count()).select_from(UnblockRequest)).scalar_one()
        not_sent = db.session.execute(sa.select(sa.func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "token_unblock.not_sent")).scalar_one()
    assert sent == svc.CODES_PER_TOKEN_PER_HOUR and not_sent == svc.ASKS_PER_EMAIL - svc.CODES_PER_TOKEN_PER_HOUR
    # One address asking about many e-mails and serials is stopped too, in the asker's language.
    _reset_throttle(app)
    answers = [_ask(client, f"x{n}@example.mn", f"serial{n}", addr="192.0.2.99", lang="mn")
               for n in range(svc.ASKS_PER_ADDRESS + 1)]
    assert [a.status_code for a in answers] == [202] * svc.ASKS_PER_ADDRESS + [429]
    assert answers[-1].get_json()["error"]["message"] == \
        "Тайлах хүсэлт хэт олон байна. Нэг цагийн дараа дахин оролдоно уу."


def test_the_registrar_asks_for_their_own_holders_only(app, client, world, smtp_sink):
    h = world["handed"]
    bearer = lambda token: {"Authorization": f"Bearer {token}", "Accept-Language": "en"}  # noqa: E731
    theirs = client.post(f"/api/v1/tokens/{h.serial}/unblock-requests", headers=bearer(world["other_bearer"]))
    unknown = client.post("/api/v1/tokens/0000deadbeef0000/unblock-requests", headers=bearer(world["other_bearer"]))
    assert theirs.status_code == unknown.status_code == 404 and theirs.get_json() == unknown.get_json()
    assert client.post(f"/api/v1/tokens/{h.serial}/unblock-requests",
                       headers=bearer(world["auditor"])).status_code == 403
    assert len(smtp_sink) == 0

    mine = client.post(f"/api/v1/tokens/{h.serial}/unblock-requests", headers=bearer(world["bearer"]))
    assert mine.status_code == 201
    body = mine.get_json()
    assert body["status"] == "code_sent" and body["sent_to"] == h.email and body["channel"] == "registrar"
    mail = smtp_sink.to(h.email)[0]
    assert "registration officer" not in mail.get_body(("plain",)).get_content()  # the holder reads Mongolian
    assert "бүртгэлийн ажилтан" in mail.get_body(("plain",)).get_content()
    assert client.get(f"/api/v1/unblock-requests/{body['id']}", headers=bearer(world["bearer"])).status_code == 200
    assert client.get(f"/api/v1/unblock-requests/{body['id']}",
                      headers=bearer(world["other_bearer"])).status_code == 404

    by_officer = client.post(f"/api/v1/tokens/{h.serial}/unblock-requests", headers=bearer(world["officer_bearer"]))
    assert by_officer.status_code == 201 and by_officer.get_json()["channel"] == "ru_staff"
    # The first code was replaced by the newer one.
    first = client.post("/api/v1/unblock-sessions", json={"token_serial": h.serial, "code": code_in(mail)},
                        headers={"Accept-Language": "en"})
    assert first.status_code == 409 and first.get_json()["error"]["code"] == "unblock_code_replaced"
    client.post(f"/api/v1/tokens/{h.serial}/unblock-requests", headers=bearer(world["bearer"]))
    fourth = client.post(f"/api/v1/tokens/{h.serial}/unblock-requests", headers=bearer(world["bearer"]))
    assert fourth.status_code == 429 and "Three codes were already sent" in fourth.get_json()["error"]["message"]
    in_stock = client.post(f"/api/v1/tokens/{world['in_stock']}/unblock-requests",
                           headers=bearer(world["officer_bearer"]))
    assert in_stock.status_code == 404  # nobody holds it


def test_the_registrars_portal_page(app, client, world, smtp_sink):
    h = world["handed"]
    login(client, world["other_registrar"])
    page = client.get("/tokens/unblock-requests").get_data(as_text=True)
    assert h.serial not in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/tokens/unblock-requests", data={"csrf_token": csrf, "serial": h.serial}).status_code == 404
    client.post("/logout", data={"csrf_token": csrf})

    client2 = app.test_client()
    login(client2, world["registrar"])
    page = client2.get("/tokens/unblock-requests").get_data(as_text=True)
    assert h.serial in page and "Тайлах код илгээх" in page  # Mongolian first
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sent = client2.post("/tokens/unblock-requests", data={"csrf_token": csrf, "serial": h.serial},
                        follow_redirects=True).get_data(as_text=True)
    assert f"{h.serial} токены нэг удаагийн кодыг {h.email} хаяг руу илгээлээ" in sent
    assert "Код илгээсэн" in sent and len(smtp_sink.to(h.email)) == 1
    client2.post("/language", data={"lang": "en", "csrf_token": csrf})
    assert "Code sent" in client2.get("/tokens/unblock-requests").get_data(as_text=True)


def test_the_public_page_in_both_languages(app, client, world, smtp_sink):
    h = world["handed"]
    page = client.get("/tokens/unblock").get_data(as_text=True)
    assert "Токены PIN тайлах" in page and "Надад код илгээх" in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answers = []
    for email in (h.email, "nobody@example.mn"):
        resp = client.post("/tokens/unblock", data={"csrf_token": csrf, "email": email, "serial": h.serial})
        resp.close()
        answers.append(resp)
    assert [a.status_code for a in answers] == [200, 200]
    texts = [re.search(r'id="unblock-sent">([^<]+)<', a.get_data(as_text=True)).group(1) for a in answers]
    assert texts[0] == texts[1] and "код илгээлээ" in texts[0]
    assert len(smtp_sink.to(h.email)) == 1
    assert client.post("/tokens/unblock", data={"csrf_token": csrf, "email": "", "serial": ""}).status_code == 422
    client.post("/language", data={"lang": "en", "csrf_token": csrf})
    assert "Unblock the PIN of your token" in client.get("/tokens/unblock").get_data(as_text=True)


def test_the_session_steps_go_in_order_with_the_secret(app, client, world, smtp_sink):
    h = world["handed"]
    client.post(f"/api/v1/tokens/{h.serial}/unblock-requests", headers={"Authorization": f"Bearer {world['bearer']}"})
    code = code_in(smtp_sink.to(h.email)[0])
    en = {"Accept-Language": "en"}
    opened = client.post("/api/v1/unblock-sessions", json={"token_serial": h.serial.upper(), "code": code.lower()},
                         headers=en)
    assert opened.status_code == 201
    grant = opened.get_json()
    sid, secret = grant["session"], grant["secret"]
    assert grant["status"] == "code_accepted" and grant["new_so_pin"] is None and not grant["user_pin_set"]
    step = lambda name, **body: client.post(f"/api/v1/unblock-sessions/{sid}/{name}",  # noqa: E731
                                            json={"secret": secret, **body}, headers=en)
    assert client.post(f"/api/v1/unblock-sessions/{sid}/user-pin-set", json={"secret": "x" * 43},
                       headers=en).get_json()["error"]["code"] == "unblock_session_refused"
    assert step("confirm").status_code == 409 and step("new-so-pin").status_code == 409
    weak = step("pin-check", user_pin="123456")
    assert weak.status_code == 400 and "sequence" in weak.get_json()["error"]["message"]
    assert step("pin-check", user_pin="Vb3-62c7").get_json() == {"accepted": True}
    assert step("user-pin-set").get_json()["status"] == "user_pin_set"
    assert step("so-pin-setting").status_code == 409
    new = step("new-so-pin").get_json()["new_so_pin"]
    assert new == step("new-so-pin").get_json()["new_so_pin"] and len(new) >= 16  # drawn once
    with app.app_context():
        token = db.session.get(UnblockRequest, sid).token
        assert token.so_pin_pending is not None and token.so_pin is not None
    # A second proof of the same code resumes the session with a new secret; the old one stops working.
    again = client.post("/api/v1/unblock-sessions", json={"token_serial": h.serial, "code": code}, headers=en)
    assert again.get_json()["resumed"] and again.get_json()["new_so_pin"] == new
    assert step("so-pin-setting").status_code == 403


def test_the_openapi_entries_cover_every_unblock_route(app):
    norm = lambda s: re.sub(r"<[^>]+>|\{[^}]+\}", "{}", s)  # noqa: E731
    documented = {norm(p) for p in openapi_paths()}
    rules = {norm(r.rule.removeprefix("/api/v1")) for r in app.url_map.iter_rules()
             if r.endpoint.split(".")[-1] in {"ask_unblock_code", "request_unblock_code", "get_unblock_request",
                                              "open_unblock_session", "check_unblock_pin", "record_unblock_user_pin",
                                              "draw_unblock_so_pin", "announce_unblock_so_pin", "confirm_unblock"}
             and r.rule.startswith("/api/v1")}
    assert len(rules) == 9 and rules == documented


def test_statuses_are_labelled_in_both_languages(ctx):
    from flask_babel import force_locale

    for status in UnblockStatus:
        with force_locale("mn"):
            mn = str(status.label)
        with force_locale("en"):
            en = str(status.label)
        assert mn != en


def test_a_code_that_cannot_be_mailed_is_withdrawn(app, client, world, smtp_sink, monkeypatch):
    from ra.mail.mailers import mailer_from_url
    from tests.support.smtp import _free_port

    h = world["handed"]
    ports = app.extensions["ra.ports"]
    monkeypatch.setattr(ports, "mailer", mailer_from_url(f"smtp://127.0.0.1:{_free_port()}", ports.files.root))
    resp = client.post(f"/api/v1/tokens/{h.serial}/unblock-requests",
                       headers={"Authorization": f"Bearer {world['bearer']}", "Accept-Language": "en"})
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "unblock_code_not_delivered"
    public = _ask(client, h.email, h.serial)
    assert public.status_code == 202  # the asker is told the same; the request is withdrawn behind the answer
    with app.app_context():
        rows = db.session.execute(sa.select(UnblockRequest.status).order_by(UnblockRequest.id)).scalars().all()
        why = db.session.execute(sa.select(AuditRecord.details).where(
            AuditRecord.action == "token_unblock.cancelled")).scalars().all()
    assert rows == [UnblockStatus.CANCELLED, UnblockStatus.CANCELLED] and len(smtp_sink) == 0
    assert all('"why": "mail_not_sent"' in w for w in why) and len(why) == 2
