"""The same revocation scenario against a CA written by others: the real django-ca
peer (REST API over TLS, its own CRL). What the RU records and what django-ca's CRL
lists agree; a CA that is down during the approval leaves the request approved,
awaiting the CA, visible to the officer, and the worker sends it when the CA is
back; the lost-token report works with a CA that cannot hold."""
from __future__ import annotations

import socket

import pytest
from cryptography import x509

from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.extensions import db
from ra.revocation.models import RevocationRequest
from tests.ca.conftest import django_connector
from tests.enrollment.helpers import login
from tests.revocation.conftest import auth, code_in, crl_entry, crl_text, issue


@pytest.fixture
def django(ports, peer, monkeypatch):
    connector = django_connector(peer.ra_ca)
    monkeypatch.setattr(ports, "ca", connector)
    return connector


def _dead_connector():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return django_connector(f"django-ca+https://u:p@127.0.0.1:{port}/django_ca/api?ca=AB&retries=0&timeout=2")


def _record(app, certificate_id):
    with app.app_context():
        c = db.session.get(Certificate, certificate_id)
        return c.status, c.revocation_reason


def test_revocation_at_django_ca_matches_its_crl(app, client, ports, world, django, peer, tmp_path):
    with app.app_context():
        revoked, kept = issue(ports, world), issue(ports, world)
    made = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                       json={"certificate_serial": revoked.serial, "reason": "keyCompromise",
                             "invalidity_date": "2026-11-01T10:00:00+08:00"}).get_json()
    assert made["status"] == "awaiting_approval" and made["also"] == []  # django-ca cannot hold
    for who in (world.officer, world.manager):
        body = client.post(f"/api/v1/revocations/{made['id']}/approve", headers=auth(world, who), json={}).get_json()
    assert body["status"] == "completed" and body["published_at"] is None  # django-ca publishes on its own
    assert _record(app, revoked.certificate_id) == (CertificateStatus.REVOKED, "keyCompromise")

    peer.regenerate_crls()  # django-ca's cron job
    crl = django.crl()
    assert crl.is_signature_valid(django.chain()[0].public_key())
    text = crl_text(crl, tmp_path)
    entry = crl_entry(text, revoked.serial)
    assert entry is not None and "Key Compromise" in entry and "Invalidity Date" in entry
    assert crl_entry(text, kept.serial) is None
    # What the RU records agrees with django-ca's CRL, for each of its certificates.
    with app.app_context():
        for c in db.session.query(Certificate).filter(Certificate.ca_name.like("django-ca:%")).all():
            listed = crl.get_revoked_certificate_by_serial_number(int(c.serial, 16))
            assert (listed is not None) == (c.status == CertificateStatus.REVOKED), c.serial
            if listed is not None:
                assert listed.extensions.get_extension_for_class(x509.CRLReason).value.reason.value == \
                    c.revocation_reason
    # The worker notes when django-ca's CRL showed it (receipt → publication for the reports).
    from ra.revocation import jobs
    with app.app_context():
        report = jobs.work(db.session, ports=ports)
        assert report.published_seen >= 1
        req = db.session.get(RevocationRequest, made["id"])
        assert req.published_at == crl.last_update_utc and req.published_at >= req.received_at


def test_a_ca_outage_during_approval_is_queued_then_published(app, client, ports, world, django, peer, monkeypatch,
                                                              tmp_path):
    with app.app_context():
        issued = issue(ports, world)
    made = client.post("/api/v1/revocations", headers=auth(world, world.registrar),
                       json={"certificate_serial": issued.serial, "reason": "superseded"}).get_json()
    client.post(f"/api/v1/revocations/{made['id']}/approve", headers=auth(world, world.officer), json={})
    monkeypatch.setattr(ports, "ca", _dead_connector())  # the CA goes down
    body = client.post(f"/api/v1/revocations/{made['id']}/approve", headers=auth(world, world.manager),
                       json={}).get_json()
    assert body["status"] == "approved" and body["awaiting_ca"] is True
    assert body["attempts"] == 1 and body["last_error"].startswith("ca_unreachable")
    assert _record(app, issued.certificate_id)[0] == CertificateStatus.VALID

    # The officer sees it on the queue, as approved and awaiting the CA.
    login(client, world.officer)
    page = client.get(f"/revocations/{made['id']}").get_data(as_text=True)
    assert "ca_unreachable" in page
    # The worker, while the CA is still down: kept, counted, exit 1 for cron to notice.
    runner = app.test_cli_runner()
    still = runner.invoke(args=["revocation", "work"])
    assert still.exit_code == 1 and "still awaiting the CA 1" in still.output

    monkeypatch.setattr(ports, "ca", django)  # the CA is back
    back = runner.invoke(args=["revocation", "work"])
    assert back.exit_code == 0, back.output
    assert "completed 1" in back.output
    assert _record(app, issued.certificate_id) == (CertificateStatus.REVOKED, "superseded")
    peer.regenerate_crls()
    entry = crl_entry(crl_text(django.crl(), tmp_path), issued.serial)
    assert entry is not None and "Superseded" in entry
    seen = runner.invoke(args=["revocation", "work"])
    assert "newly seen in the CA's CRL 1" in seen.output
    with app.app_context():
        req = db.session.get(RevocationRequest, made["id"])
        assert req.attempts == 3 and req.published_at is not None


def test_a_lost_token_with_a_ca_that_cannot_hold(app, client, ports, world, django, peer, mail, tmp_path):
    with app.app_context():
        issued = issue(ports, world)
    mail.clear()
    body = {"email": issued.holder_email, "token_serial": issued.token_serial}
    ref = client.post("/api/v1/lost-token-reports", json=body, buffered=True).get_json()["id"]
    done = client.post(f"/api/v1/lost-token-reports/{ref}/confirm",
                       json={"code": code_in(mail.to(issued.holder_email)[0])}).get_json()
    assert done["holds_possible"] is False and done["token_status"] == "suspended"
    assert [(r["reason"], r["status"]) for r in done["requests"]] == [("keyCompromise", "awaiting_confirmation")]
    assert _record(app, issued.certificate_id)[0] == CertificateStatus.VALID  # the CA cannot hold it
    mail.clear()
    ref = client.post("/api/v1/lost-token-reports", json=body, buffered=True).get_json()["id"]
    done = client.post(f"/api/v1/lost-token-reports/{ref}/confirm",
                       json={"code": code_in(mail.to(issued.holder_email)[0]), "lost": True}).get_json()
    assert done["token_status"] == "lost"
    assert _record(app, issued.certificate_id) == (CertificateStatus.REVOKED, "keyCompromise")
    peer.regenerate_crls()
    assert "Key Compromise" in crl_entry(crl_text(django.crl(), tmp_path), issued.serial)
