"""The handover against a CA written by others: the real django-ca server (started
once per session by ``tests/ca``'s fixtures), directly and behind a proxy that
makes it fail the ways a CA does. One certificate per order, whatever happens."""
from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra.ca.states import RequestStatus
from ra.extensions import db
from ra.tokens import handover_jobs as jobs
from ra.tokens import handover_service as svc
from ra.tokens.handover_states import HandoverStep as H
from ra.tokens.states import TokenStatus
from tests.ca.conftest import django_connector
from tests.tokens.test_handover_support import HOLDER_PIN, certificates_of, openssl_verify, ready_order
from tests.tokens.test_handover_support import handover_of as _handover

SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def _start(staff, ports, order, token, **kw):
    return jobs.start(db.session, staff.officer, order, id_document_type="id_card",
                      id_document_number=order.holder.register_number, token_serial=token.serial,
                      user_pin=HOLDER_PIN, ports=ports, **kw)


def peer_count(peer, pem: str) -> int:
    """How many certificates django-ca itself holds for this certificate's key."""
    key = x509.load_pem_x509_certificate(pem.encode()).public_key().public_bytes(serialization.Encoding.DER, SPKI)
    return sum(1 for c in peer.certificates()
               if x509.load_pem_x509_certificate(c["certificate"]["pem"].encode()).public_key().public_bytes(
                   serialization.Encoding.DER, SPKI) == key)


def _on_token(ports, driver, order, token):
    h = _handover(order)
    (cert,) = certificates_of(db.session, order.id)
    assert cert.token_id == token.id
    assert driver.read_certificate(token.serial, None, h.key_id_bytes) == svc.certificate_der(cert)
    return cert


def test_a_full_handover_with_the_real_django_ca(ctx, ports, staff, driver, stock, peer, monkeypatch, tmp_path):
    monkeypatch.setattr(ports, "ca", django_connector(peer.ra_ca))
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)  # Cyrillic register number: PNOMN-… is ASCII
    result = _start(staff, ports, order, token)
    assert result.error is None and result.completed
    cert = _on_token(ports, driver, order, token)
    assert cert.ca_name and token.status == TokenStatus.ACTIVE
    verify = openssl_verify(tmp_path, ports.ca.chain(), cert.pem)
    assert verify.returncode == 0 and ": OK" in verify.stdout, verify.stderr
    assert peer_count(peer, cert.pem) == 1


def test_the_ca_down_at_step_6_pauses_the_handover_and_resume_issues_once(ctx, en, ports, staff, driver, stock,
                                                                           misbehaving, monkeypatch):
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(retries=0, grace=1)))
    ports.ca.chain()  # read while the CA was healthy
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)  # Cyrillic register number: PNOMN-… is ASCII
    misbehaving.mode = "error"
    result = _start(staff, ports, order, token)
    assert result.error is not None and result.error.code == "ca_error" and result.step == H.CSR_SIGNED
    h = _handover(order)
    assert h.error_code == "ca_error" and certificates_of(db.session, order.id) == []
    assert svc.certificate_request(db.session, h).status == RequestStatus.PENDING
    with pytest.raises(svc.CannotCancel):  # the CA may hold the request: no cancelling now
        jobs.cancel(db.session, staff.officer, h.id, "CA down", ports=ports)

    misbehaving.mode = "pass"
    ports.ca.grace = 0  # the grace period has run out: the earlier attempt is looked for, then posted again
    result = jobs.run(db.session, staff.officer, h.id, user_pin=HOLDER_PIN, ports=ports)
    assert result.error is None and result.completed
    cert = _on_token(ports, driver, order, token)
    assert peer_count(misbehaving.peer, cert.pem) == 1


def test_a_ca_that_answers_too_late_still_gives_one_certificate(ctx, ports, staff, driver, stock, misbehaving,
                                                                 monkeypatch):
    """The CA signs after the RU gave up waiting: Resume finds that certificate by
    its key instead of asking again."""
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=3600)))
    ports.ca.chain()  # read while the CA answers promptly
    ports.ca.timeout = 0.5
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)  # Cyrillic register number: PNOMN-… is ASCII
    misbehaving.plans = ["hold-answer"]  # django-ca signs; its answer is held until the test ends
    result = _start(staff, ports, order, token)
    assert result.error.code == "ca_timeout" and result.step == H.CSR_SIGNED
    assert misbehaving.signed[0].wait(120), "django-ca never answered the sign request"
    # A restarted app: a fresh connector knows nothing of the first attempt.
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=3600)))
    result = jobs.run(db.session, staff.officer, result.handover_id, user_pin=HOLDER_PIN, ports=ports)
    assert result.completed, result.error and result.error.code
    cert = _on_token(ports, driver, order, token)
    assert misbehaving.posts == 1 and peer_count(misbehaving.peer, cert.pem) == 1


def test_a_ca_refusal_stops_the_handover_and_cancel_returns_the_token(ctx, en, ports, staff, driver, stock, peer,
                                                                      monkeypatch):
    """django-ca cannot add qcStatements: for a profile that asks for them the
    connector refuses, the request is on record as rejected, no certificate
    exists, and the token goes back to stock."""
    monkeypatch.setattr(ports, "ca", django_connector(peer.ra_ca))
    token = stock(1).tokens[0]
    order = ready_order(db.session, ports)
    monkeypatch.setitem(ports.profiles, order.profile, dataclasses.replace(ports.profiles[order.profile],
                                                                           qc_statements=True))
    result = _start(staff, ports, order, token)
    assert result.error is not None and result.error.code == "ca_rejected"
    h = _handover(order)
    assert svc.certificate_request(db.session, h).status == RequestStatus.REJECTED
    assert certificates_of(db.session, order.id) == []
    jobs.cancel(db.session, staff.officer, h.id, "The CA refused the subject", ports=ports)
    assert _handover(order).step == H.CANCELLED and token.status == TokenStatus.IN_STOCK
    assert driver.slot(token.serial).label == "RA stock"
