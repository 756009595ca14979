"""Revocation requests through the JSON API, against the real embedded CA: the
registrar asks, two RU staff approve (dual control), the CA revokes, the CRL the
RU publishes lists the serial with its reason (read by ``openssl crl``), the holder
and the registrar are told, and every bad input gets a clear error and changes
nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from cryptography import x509

from ra.audit.models import AuditRecord
from ra.audit.service import verify
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.extensions import db
from ra.revocation.models import RevocationRequest
from ra.revocation.states import RevocationStatus
from tests.revocation.conftest import auth, crl_entry, crl_text, issue


def _cert(app, certificate_id):
    with app.app_context():
        c = db.session.get(Certificate, certificate_id)
        return c.status, c.revocation_reason


def _requests(app, serial):
    with app.app_context():
        return [(r.number, r.reason.value, r.status) for r in db.session.execute(
            sa.select(RevocationRequest).where(RevocationRequest.serial == serial)
            .order_by(RevocationRequest.id)).scalars()]


def test_registrar_asks_two_officers_approve_and_the_crl_lists_it(app, client, ports, world, mail, tmp_path):
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    # The registrar asks, for their own holder, with the RFC 5280 reason.
    resp = client.post("/api/v1/revocations", headers=auth(world, world.registrar), json={
        "certificate_serial": issued.serial.lower(), "reason": "affiliationChanged", "note": "left the office"})
    assert resp.status_code == 201, resp.get_json()
    req = resp.get_json()
    assert req["status"] == "awaiting_approval" and req["reason"] == "affiliationChanged"
    assert req["number"].startswith("ЦХ-")
    assert _cert(app, issued.certificate_id)[0] == CertificateStatus.VALID  # nothing done before approval

    # First officer: still one short (dual control: two RU staff).
    first = client.post(f"/api/v1/revocations/{req['id']}/approve", headers=auth(world, world.officer), json={})
    assert first.status_code == 200 and first.get_json()["status"] == "awaiting_approval"
    again = client.post(f"/api/v1/revocations/{req['id']}/approve", headers=auth(world, world.officer), json={})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_decided"
    # The manager is the second: the CA revokes, the CRL is published at once.
    second = client.post(f"/api/v1/revocations/{req['id']}/approve", headers=auth(world, world.manager), json={})
    body = second.get_json()
    assert second.status_code == 200 and body["status"] == "completed", body
    assert body["published_at"] and body["crl_number"] and [a["by"] for a in body["approvals"]] == [
        world.officer, world.manager]
    assert _cert(app, issued.certificate_id) == (CertificateStatus.REVOKED, "affiliationChanged")

    # What a relying party downloads from the CDP URL, read by OpenSSL.
    crl = x509.load_der_x509_crl(client.get("/ca/crl/issuing-g1.crl").data)
    entry = crl_entry(crl_text(crl, tmp_path), issued.serial)
    assert entry is not None and "Affiliation Changed" in entry
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == body["crl_number"]
    assert crl.next_update_utc - crl.last_update_utc <= timedelta(hours=24)
    # The certificate's status through the API.
    got = client.get(f"/api/v1/certificates/{issued.serial}", headers=auth(world, world.registrar)).get_json()
    assert got["status"] == "revoked" and got["revocation_reason"] == "affiliationChanged"

    # The holder and the registration officer were told.
    with app.app_context():
        from ra.enrollment.models import Organisation
        registrar_address = db.session.get(Organisation, world.org_id).registrar_email
    assert any(issued.serial in m["Subject"] for m in mail.to(issued.holder_email))
    assert any(issued.serial in m["Subject"] for m in mail.to(registrar_address))

    # On the audit log, in a chain that holds.
    with app.app_context():
        actions = db.session.execute(sa.select(AuditRecord.action).where(
            AuditRecord.object_type == "revocation_request", AuditRecord.object_id == str(req["id"]))
            .order_by(AuditRecord.seq)).scalars().all()
        assert actions == ["revocation_request.received", "revocation_request.approval",
                           "revocation_request.approval", "revocation_request.approved",
                           "revocation_request.completed"]
        assert verify(db.session).ok


def test_the_requester_never_approves_their_own_request(app, client, ports, world):
    with app.app_context():
        issued = issue(ports, world)
    resp = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                       json={"certificate_serial": issued.serial, "reason": "superseded"})
    req = resp.get_json()
    assert resp.status_code == 201 and req["status"] == "awaiting_approval"  # the officer is one of two
    own = client.post(f"/api/v1/revocations/{req['id']}/approve", headers=auth(world, world.officer), json={})
    assert own.status_code == 403 and own.get_json()["error"]["code"] == "own_request"
    auditor = client.post(f"/api/v1/revocations/{req['id']}/approve", headers=auth(world, world.auditor), json={})
    assert auditor.status_code == 403
    assert _cert(app, issued.certificate_id)[0] == CertificateStatus.VALID
    done = client.post(f"/api/v1/revocations/{req['id']}/approve", headers=auth(world, world.officer2), json={})
    assert done.get_json()["status"] == "completed"


def test_a_rejection_changes_nothing_and_is_told(app, client, ports, world, mail):
    with app.app_context():
        issued = issue(ports, world)
    req = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                      json={"certificate_serial": issued.serial, "reason": "cessationOfOperation"}).get_json()
    mail.clear()
    no_reason = client.post(f"/api/v1/revocations/{req['id']}/reject", headers=auth(world, world.officer), json={})
    assert no_reason.status_code == 422
    rejected = client.post(f"/api/v1/revocations/{req['id']}/reject", headers=auth(world, world.officer),
                           json={"reason": "The organisation did not stop"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert _cert(app, issued.certificate_id)[0] == CertificateStatus.VALID
    assert any("rejected" in m["Subject"] or "татгалз" in m["Subject"] for m in mail.to(issued.holder_email))


def test_with_dual_control_off_one_officer_decides(app, client, ports, world, monkeypatch):
    from ra.revocation.policy import SETTINGS_KEY, RevocationSettings

    monkeypatch.setitem(ports.extra, SETTINGS_KEY, RevocationSettings(dual_control=False))
    with app.app_context():
        a, b = issue(ports, world), issue(ports, world)
    by_officer = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                             json={"certificate_serial": a.serial, "reason": "superseded"}).get_json()
    assert by_officer["status"] == "completed"  # the officer's own request needs nobody else
    by_registrar = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                               json={"certificate_serial": b.serial, "reason": "superseded"}).get_json()
    assert by_registrar["status"] == "awaiting_approval"
    done = client.post(f"/api/v1/revocations/{by_registrar['id']}/approve", headers=auth(world, world.officer),
                       json={}).get_json()
    assert done["status"] == "completed"


def test_a_key_compromise_is_held_at_once_while_it_awaits_approval(app, client, ports, world, tmp_path):
    with app.app_context():
        issued = issue(ports, world)
    resp = client.post("/api/v1/revocations", headers=auth(world, world.registrar), json={
        "certificate_serial": issued.serial, "reason": "keyCompromise",
        "invalidity_date": "2026-01-05T08:30:00+08:00"})
    body = resp.get_json()
    assert resp.status_code == 201 and body["status"] == "awaiting_approval"
    assert [r["reason"] for r in body["also"]] == ["certificateHold"] and body["also"][0]["status"] == "completed"
    assert _cert(app, issued.certificate_id)[0] == CertificateStatus.SUSPENDED
    text = crl_text(x509.load_der_x509_crl(client.get("/ca/crl/issuing-g1.crl").data), tmp_path)
    assert "Certificate Hold" in crl_entry(text, issued.serial)
    for who in (world.officer, world.manager):
        last = client.post(f"/api/v1/revocations/{body['id']}/approve", headers=auth(world, who), json={})
    assert last.get_json()["status"] == "completed"
    crl = x509.load_der_x509_crl(client.get("/ca/crl/issuing-g1.crl").data)
    entry = crl_entry(crl_text(crl, tmp_path), issued.serial)
    assert "Key Compromise" in entry and "Invalidity Date" in entry and "Jan  5 00:30:00 2026" in entry
    assert "Certificate Hold" not in entry


# -- bad input: a clear error, nothing lost ----------------------------------------------------------

def test_a_registrar_cannot_touch_another_organisations_certificate(app, client, ports, world):
    with app.app_context():
        issued = issue(ports, world)
    resp = client.post("/api/v1/revocations", headers=auth(world, world.other_registrar),
                       json={"certificate_serial": issued.serial, "reason": "keyCompromise"})
    assert resp.status_code == 404
    assert client.get(f"/api/v1/certificates/{issued.serial}",
                      headers=auth(world, world.other_registrar)).status_code == 404
    assert _requests(app, issued.serial) == [] and _cert(app, issued.certificate_id)[0] == CertificateStatus.VALID


def test_malformed_serials_and_reasons_get_a_clear_400(app, client, world):
    for serial in ("XYZ-not-hex", "0x12", "1" * 41, "12 34 ; drop table"):
        resp = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                           json={"certificate_serial": serial, "reason": "keyCompromise"})
        assert resp.status_code == 400, serial
        assert resp.get_json()["error"]["code"] == "malformed_serial"
    assert client.get("/api/v1/certificates/not-a-serial", headers=auth(world, world.officer)).status_code == 400
    assert client.post("/api/v1/certificates/zz/release", headers=auth(world, world.officer)).status_code == 400
    missing = client.post("/api/v1/revocations", headers=auth(world, world.officer), json={"reason": "superseded"})
    assert missing.status_code == 422 and "certificate_serial" in missing.get_json()["error"]["fields"]
    unknown = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                          json={"certificate_serial": "0ABC", "reason": "keyCompromise"})
    assert unknown.status_code == 404


def test_revoked_is_final_unrevoking_or_releasing_gets_409(app, client, ports, world):
    from ra.revocation.policy import SETTINGS_KEY, RevocationSettings

    with app.app_context():
        issued = issue(ports, world)
    ports.extra[SETTINGS_KEY], saved = RevocationSettings(dual_control=False), ports.extra.get(SETTINGS_KEY)
    try:
        done = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                           json={"certificate_serial": issued.serial, "reason": "keyCompromise"}).get_json()
    finally:
        ports.extra[SETTINGS_KEY] = saved
    assert done["status"] == "completed"
    bad_reason = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                             json={"certificate_serial": issued.serial, "reason": "unrevoke"})
    assert bad_reason.status_code == 400 and bad_reason.get_json()["error"]["code"] == "unknown_reason"
    for reason in ("removeFromCRL", "certificateHold", "superseded"):
        resp = client.post("/api/v1/revocations", headers=auth(world, world.officer),
                           json={"certificate_serial": issued.serial, "reason": reason})
        expected = 400 if reason == "removeFromCRL" else 409
        assert resp.status_code == expected, (reason, resp.get_json())
    release = client.post(f"/api/v1/certificates/{issued.serial}/release", headers=auth(world, world.officer))
    assert release.status_code == 409 and release.get_json()["error"]["code"] == "already_revoked"
    assert _cert(app, issued.certificate_id) == (CertificateStatus.REVOKED, "keyCompromise")
    assert [r[2] for r in _requests(app, issued.serial)] == [RevocationStatus.COMPLETED]


def test_the_embedded_ca_itself_refuses_to_unrevoke(app, ports, world):
    import pytest

    from ra.errors import RAError

    with app.app_context():
        issued = issue(ports, world)
        ports.ca.revoke(issued.serial, x509.ReasonFlags.superseded)
        for undo in (lambda: ports.ca.release(issued.serial), lambda: ports.ca.suspend(issued.serial),
                     lambda: ports.ca.revoke(issued.serial, x509.ReasonFlags.key_compromise)):
            with pytest.raises(RAError) as err:
                undo()
            assert err.value.status == 409
        db.session.rollback()


def test_an_invalidity_date_in_the_future_is_refused(app, client, ports, world):
    with app.app_context():
        issued = issue(ports, world)
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    for value in (future, "yesterday"):
        resp = client.post("/api/v1/revocations", headers=auth(world, world.registrar), json={
            "certificate_serial": issued.serial, "reason": "keyCompromise", "invalidity_date": value})
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_invalidity_date"
    assert _requests(app, issued.serial) == []


def test_a_second_open_request_for_the_same_certificate_is_refused(app, client, ports, world):
    with app.app_context():
        issued = issue(ports, world)
    first = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                        json={"certificate_serial": issued.serial, "reason": "superseded"}).get_json()
    again = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                        json={"certificate_serial": issued.serial, "reason": "affiliationChanged"})
    assert again.status_code == 409 and first["number"] in again.get_json()["error"]["message"]

