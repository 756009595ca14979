"""The holder's lost-token report (DESIGN §3.4), end to end on the real embedded CA
and the real SMTP sink: reported at night from a phone with the registered e-mail
and a one-time code, the certificates on hold at once (the CRL says
certificateHold), and the next morning an officer confirms the loss and a second
approves: revoked (keyCompromise), the token lost, a confirmation PDF. Then the
holder's own path, and every way a code can be wrong."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from cryptography import x509

from ra.audit.models import AuditRecord
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.enrollment.holder_models import Holder
from ra.extensions import db
from ra.ports import FrozenClock
from ra.revocation.models import LostTokenReport, RevocationRequest
from ra.revocation.states import RevocationStatus
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus
from tests.conftest import csrf_from
from tests.enrollment.helpers import login, pdf_text
from tests.revocation.conftest import code_in, crl_entry, crl_text, issue, reference_in

# The test client closes a response (running what waits for the answer to go out,
# like the code e-mail) only when buffered.
PHONE = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36"}


def _state(app, issued):
    with app.app_context():
        cert = db.session.get(Certificate, issued.certificate_id)
        token = db.session.get(Token, issued.token_id)
        return cert.status, cert.revocation_reason, token.status


def _crl(client, tmp_path):
    return crl_text(x509.load_der_x509_crl(client.get("/ca/crl/issuing-g1.crl").data), tmp_path)


def _freeze(monkeypatch, ports, at):
    """The RU's clock and the embedded CA's (which dates CRLs and revocations)."""
    monkeypatch.setattr(ports, "clock", FrozenClock(at))
    monkeypatch.setattr(ports.ca, "clock", FrozenClock(at))


def _page_post(client, path, data, headers=None):
    token = csrf_from(client.get(path, headers=headers or {}).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, headers=headers or {}, buffered=True)


def test_reported_at_night_from_a_phone_confirmed_next_morning_with_a_second_approver(
        app, client, ports, world, mail, tmp_path, monkeypatch):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    night = now - timedelta(hours=7)   # 02:00 in Ulaanbaatar if the morning is 09:00
    _freeze(monkeypatch, ports, night)
    with app.app_context():
        issued = issue(ports, world)
        # The same token carries the holder's authentication certificate too.
        second = issue(ports, world, token=db.session.get(Token, issued.token_id),
                       holder=db.session.get(Holder, issued.holder_id), profile="authentication")
    mail.clear()

    # At night, on the phone: the public page, e-mail and register number (no serial at hand).
    page = client.get("/lost-token", headers=PHONE)
    assert page.status_code == 200 and 'name="viewport"' in page.get_data(as_text=True)
    with app.app_context():
        register_number = db.session.get(Holder, issued.holder_id).register_number
    sent = _page_post(client, "/lost-token", {"email": issued.holder_email.upper(),
                                              "register_number": register_number.lower()}, PHONE)
    assert sent.status_code == 303
    confirm_url = sent.headers["Location"].split("?")[0]
    [message] = mail.to(issued.holder_email)
    code = code_in(message)
    # The page the answer opens names no report (its number is a fresh receipt); the
    # e-mail's link names the report and opens the same form.
    assert confirm_url not in message.get_content() and "/lost-token/" + reference_in(message) in message.get_content()
    # The code is not on record in clear anywhere.
    with app.app_context():
        report = db.session.execute(sa.select(LostTokenReport).order_by(LostTokenReport.id)).scalars().all()[-1]
        assert report.code_digest and code.replace("-", "") not in report.code_digest
        outbox = db.session.execute(sa.text("SELECT body FROM outgoing_mail")).scalars().all()
        assert not any(code in body for body in outbox)

    done = _page_post(client, confirm_url, {"code": code.lower(), "lost": "misplaced"}, PHONE)
    assert done.status_code == 200, done.get_data(as_text=True)[:2000]
    assert issued.token_serial in done.get_data(as_text=True)
    # Suspended at once: both certificates on the token are on hold, in the CRL.
    assert _state(app, issued) == (CertificateStatus.SUSPENDED, "certificateHold", TokenStatus.SUSPENDED)
    assert _state(app, second)[0] == CertificateStatus.SUSPENDED
    text = _crl(client, tmp_path)
    assert "Certificate Hold" in crl_entry(text, issued.serial)
    assert "Certificate Hold" in crl_entry(text, second.serial)
    with app.app_context():
        from ra.enrollment.models import Organisation
        registrar_address = db.session.get(Organisation, world.org_id).registrar_email
        held = db.session.execute(sa.select(RevocationRequest).where(
            RevocationRequest.serial == issued.serial).order_by(RevocationRequest.id)).scalars().all()
        assert [(r.reason.value, r.status) for r in held] == [
            ("certificateHold", RevocationStatus.COMPLETED), ("keyCompromise", RevocationStatus.AWAITING_CONFIRMATION)]
        assert held[0].published_at == night  # published in the same unit of work as the hold
        revocation_id = held[1].id
    assert mail.to(registrar_address), "the registration officer is told"
    assert len(mail.to(issued.holder_email)) == 2  # the code, then the confirmation

    # The next morning: the officer finds it on the queue and confirms the loss.
    _freeze(monkeypatch, ports, now)
    login(client, world.officer)
    queue = client.get("/revocations").get_data(as_text=True)
    assert issued.serial in queue and "7.0" in queue  # hours since the report; overdue only after 12
    confirmed = _page_post(client, f"/revocations/{revocation_id}/confirm-lost", {"note": "Called the holder"})
    assert confirmed.status_code == 303
    with app.app_context():
        assert db.session.get(RevocationRequest, revocation_id).status == RevocationStatus.AWAITING_APPROVAL
    # The confirming officer cannot approve it: 403.
    token = csrf_from(client.get(f"/revocations/{revocation_id}").get_data(as_text=True))
    assert client.post(f"/revocations/{revocation_id}/approve", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})

    # The second approver.
    login(client, world.manager)
    approved = _page_post(client, f"/revocations/{revocation_id}/approve", {"note": "Second approval"})
    assert approved.status_code == 303
    assert _state(app, issued) == (CertificateStatus.REVOKED, "keyCompromise", TokenStatus.SUSPENDED)
    with app.app_context():
        sibling = db.session.execute(sa.select(RevocationRequest).where(
            RevocationRequest.serial == second.serial, RevocationRequest.reason == "keyCompromise")).scalar_one()
        sibling_id = sibling.id
    _page_post(client, f"/revocations/{sibling_id}/approve", {"note": "Second approval"})
    assert _state(app, second) == (CertificateStatus.REVOKED, "keyCompromise", TokenStatus.LOST)
    entry = crl_entry(_crl(client, tmp_path), issued.serial)
    assert "Key Compromise" in entry and "Certificate Hold" not in entry and "Invalidity Date" in entry

    # The confirmation PDF, as the organisation files it.
    pdf = client.get(f"/revocations/{revocation_id}/confirmation.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    (tmp_path / "c.pdf").write_bytes(pdf.data)
    text = pdf_text(tmp_path / "c.pdf")
    with app.app_context():
        holder = db.session.get(Holder, issued.holder_id)
        assert holder.full_name in text and holder.register_number in text
    assert issued.serial in text and "keyCompromise" in text
    assert "Ажилтан Тест" in text  # the approver, by name (the test staff's)

    # The 24-hour clock: received at night, published within the morning.
    with app.app_context():
        r = db.session.get(RevocationRequest, revocation_id)
        assert r.received_at == night and r.published_at == now
        assert timedelta(hours=6) < r.published_at - r.received_at < timedelta(hours=24)


def test_the_holder_confirms_lost_not_misplaced_no_second_approver(app, client, ports, world, mail, tmp_path):
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    resp = client.post("/api/v1/lost-token-reports", buffered=True, json={"email": issued.holder_email,
                                                            "token_serial": issued.token_serial})
    assert resp.status_code == 202
    reference = resp.get_json()["id"]
    code = code_in(mail.to(issued.holder_email)[0])
    done = client.post(f"/api/v1/lost-token-reports/{reference}/confirm", json={"code": code, "lost": True})
    body = done.get_json()
    assert done.status_code == 200, body
    assert body["token_status"] == "lost"
    assert sorted((r["reason"], r["status"]) for r in body["requests"]) == [
        ("certificateHold", "completed"), ("keyCompromise", "completed")]
    assert _state(app, issued) == (CertificateStatus.REVOKED, "keyCompromise", TokenStatus.LOST)
    assert "Key Compromise" in crl_entry(_crl(client, tmp_path), issued.serial)


def test_a_second_report_after_a_misplaced_one_revokes(app, client, ports, world, mail):
    with app.app_context():
        issued = issue(ports, world)
    for lost in (False, True):
        mail.clear()
        ref = client.post("/api/v1/lost-token-reports", buffered=True, json={"email": issued.holder_email,
                                                               "token_serial": issued.token_serial}).get_json()["id"]
        code = code_in(mail.to(issued.holder_email)[0])
        assert client.post(f"/api/v1/lost-token-reports/{ref}/confirm",
                           json={"code": code, "lost": lost}).status_code == 200
    assert _state(app, issued) == (CertificateStatus.REVOKED, "keyCompromise", TokenStatus.LOST)


def test_forged_expired_and_reused_codes_get_clear_errors(app, client, ports, world, mail, monkeypatch):
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    client.post("/api/v1/lost-token-reports", buffered=True, json={"email": issued.holder_email,
                                                     "token_serial": issued.token_serial})
    ref, code = reference_in(mail.to(issued.holder_email)[0]), code_in(mail.to(issued.holder_email)[0])

    forged = client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": "ABCD-EFGH-JKMN-PQRS"})
    assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "lost_code_refused"
    garbage = client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": "<script>"})
    assert garbage.status_code == 403
    elsewhere = client.post("/api/v1/lost-token-reports/no-such-report/confirm", json={"code": "ABCD-EFGH-JKMN-PQRS"})
    assert elsewhere.status_code == 403 and elsewhere.get_json()["error"]["code"] == "lost_code_refused"
    assert _state(app, issued)[0] == CertificateStatus.VALID
    with app.app_context():
        assert db.session.execute(sa.select(LostTokenReport.failed_attempts).where(
            LostTokenReport.reference == ref)).scalar_one() == 2  # counted, and committed before the 403

    # Expired: 31 minutes later.
    later = datetime.now(timezone.utc) + timedelta(minutes=31)
    monkeypatch.setattr(ports, "clock", FrozenClock(later))
    expired = client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": code})
    assert expired.status_code == 409 and expired.get_json()["error"]["code"] == "lost_code_expired"
    assert "30" in expired.get_json()["error"]["message"]
    assert _state(app, issued)[0] == CertificateStatus.VALID
    monkeypatch.undo()

    # A new report, used once; the second use is refused.
    mail.clear()
    ref2 = client.post("/api/v1/lost-token-reports", buffered=True, json={"email": issued.holder_email,
                                                            "token_serial": issued.token_serial}).get_json()["id"]
    code2 = code_in(mail.to(issued.holder_email)[0])
    assert client.post(f"/api/v1/lost-token-reports/{ref2}/confirm", json={"code": code2}).status_code == 200
    reused = client.post(f"/api/v1/lost-token-reports/{ref2}/confirm", json={"code": code2})
    assert reused.status_code == 409 and reused.get_json()["error"]["code"] == "lost_code_used"
    old = client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": code})
    assert old.status_code == 409  # the expired one stays expired

    # Five wrong codes lock a report; the right code then says so.
    mail.clear()
    with app.app_context():
        other = issue(ports, world)
    client.post("/api/v1/lost-token-reports", buffered=True, json={"email": other.holder_email,
                                                     "token_serial": other.token_serial})
    ref3, code3 = reference_in(mail.to(other.holder_email)[0]), code_in(mail.to(other.holder_email)[0])
    for _ in range(5):
        client.post(f"/api/v1/lost-token-reports/{ref3}/confirm", json={"code": "0000-0000-0000-0000"})
    locked = client.post(f"/api/v1/lost-token-reports/{ref3}/confirm", json={"code": code3})
    assert locked.status_code == 409 and locked.get_json()["error"]["code"] == "lost_code_locked"
    assert _state(app, other)[0] == CertificateStatus.VALID


def test_an_unknown_address_or_serial_gets_the_same_answer_and_no_mail(app, client, ports, world, mail):
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    answers = [client.post("/api/v1/lost-token-reports", buffered=True, json=body) for body in (
        {"email": "stranger@example.com", "token_serial": issued.token_serial},
        {"email": issued.holder_email, "token_serial": "NO-SUCH-TOKEN"},
        {"email": issued.holder_email, "token_serial": issued.token_serial})]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.get_json()["message"] for a in answers}) == 1
    assert len(mail.messages) == 1 and mail.to(issued.holder_email)
    missing = client.post("/api/v1/lost-token-reports", buffered=True, json={"email": issued.holder_email})
    assert missing.status_code == 422


def test_a_hundred_reports_from_one_address_in_a_minute(app, client, ports, world, mail, monkeypatch):
    """Rate limited (429 after ten), one e-mail to the holder, every report audited,
    the ones over the client's limit counted on no token, and the real holder,
    from their phone elsewhere, still gets through."""
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    minute = datetime.now(timezone.utc).replace(microsecond=0)
    statuses = []
    for i in range(100):
        monkeypatch.setattr(ports, "clock", FrozenClock(minute + timedelta(milliseconds=500 * i)))
        statuses.append(client.post("/api/v1/lost-token-reports", buffered=True, environ_base={"REMOTE_ADDR": "203.0.113.66"},
                                    json={"email": issued.holder_email,
                                          "token_serial": issued.token_serial}).status_code)
    assert statuses[:10] == [202] * 10 and set(statuses[10:]) == {429}
    assert len(mail.to(issued.holder_email)) == 1  # no flood
    with app.app_context():
        [report] = db.session.execute(sa.select(LostTokenReport).where(
            LostTokenReport.token_id == issued.token_id)).scalars().all()
        assert report.reports == 10  # the client's limit comes before the token's
        counted = dict(db.session.execute(sa.select(AuditRecord.action, sa.func.count()).where(
            AuditRecord.action.like("lost_token_report.%")).group_by(AuditRecord.action)).all())
        assert counted == {"lost_token_report.received": 1, "lost_token_report.repeated": 9,
                           "lost_token_report.throttled": 90}  # every one of them kept
    # The real holder, from their phone on another network, in the same minute.
    mine = client.post("/api/v1/lost-token-reports", buffered=True, environ_base={"REMOTE_ADDR": "198.51.100.7"},
                       json={"email": issued.holder_email, "token_serial": issued.token_serial})
    assert mine.status_code == 202 and mine.get_json()["id"] != report.reference
    code = code_in(mail.to(issued.holder_email)[0])
    done = client.post(f"/api/v1/lost-token-reports/{mine.get_json()['id']}/confirm",
                       environ_base={"REMOTE_ADDR": "198.51.100.7"}, json={"code": code})
    assert done.status_code == 200
    assert _state(app, issued)[:2] == (CertificateStatus.SUSPENDED, "certificateHold")
    assert len(mail.to(issued.holder_email)) == 2  # the code, then the confirmation


def test_a_report_beyond_three_codes_an_hour_is_kept_for_the_officer(app, client, ports, world, mail):
    """Codes locked by wrong tries make room for new ones, but not more than three
    an hour: the fourth report gets no code and waits, visible, for the officer."""
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    body = {"email": issued.holder_email, "token_serial": issued.token_serial}
    for _ in range(3):
        mail.clear()
        client.post("/api/v1/lost-token-reports", buffered=True, json=body)
        ref = reference_in(mail.to(issued.holder_email)[0])  # only the mailbox's owner can aim at the report
        for _ in range(5):
            client.post(f"/api/v1/lost-token-reports/{ref}/confirm", json={"code": "0000-0000-0000-0000"})
    mail.clear()
    fourth = client.post("/api/v1/lost-token-reports", buffered=True, json=body)
    assert fourth.status_code == 202
    assert len(mail.to(issued.holder_email)) == 0
    with app.app_context():
        statuses = [r.status.value for r in db.session.execute(sa.select(LostTokenReport).where(
            LostTokenReport.token_id == issued.token_id).order_by(LostTokenReport.id)).scalars()]
    assert statuses == ["locked", "locked", "locked", "not_sent"]
    login(client, world.officer)
    queue = client.get("/revocations").get_data(as_text=True)
    assert issued.token_serial in queue
