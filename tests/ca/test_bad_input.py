"""Bad input gets a clear error and loses nothing (issue #4): bad CSRs never reach
the CA; a CA that is slow, broken or wrong leaves the request pending or on
record as rejected, never a certificate stored as issued, never two."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from flask_babel import force_locale

from ra.audit.models import AuditRecord
from ra.ca import jobs, service
from ra.ca.connector import CARejected
from ra.ca.csr import CSRRejected
from ra.ca.models import Certificate, CertificateRequest, EmbeddedIssued
from ra.ca.states import RequestStatus
from ra.errors import BackendUnavailable
from ra.extensions import db
from ra.profiles import DEFAULT_PROFILES, Profile
from tests.ca.conftest import CYRILLIC_HOLDER, LATIN_HOLDER, django_connector, make_csr, new_key


def _counts():
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                 for m in (CertificateRequest, Certificate, EmbeddedIssued))


def _issue(ports, csr, request_id="bad-1", profile="signing", holder=CYRILLIC_HOLDER):
    return jobs.issue_certificate(db.session, "officer", csr=csr, profile=profile, subject=holder,
                                  request_id=request_id, ports=ports)


def _tampered_signature() -> bytes:
    der = bytearray(make_csr(new_key("rsa2048"), der=True))
    der[-5] ^= 0xFF  # inside the signature BIT STRING at the end
    return bytes(der)


@pytest.mark.parametrize("csr, code, words", [
    (_tampered_signature, "csr_bad_signature", "signature is not valid"),
    (lambda: make_csr(new_key("rsa1024")), "csr_weak_key", "RSA-1024; at least RSA-2048"),
    (lambda: make_csr(new_key("ed25519")), "csr_key_type_forbidden", "Ed25519 is not allowed"),
    (lambda: b"Please give me a certificate", "csr_unreadable", "not a certificate request"),
    (lambda: b"-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n",
     "csr_unreadable", "not a certificate request"),
    (lambda: b"", "csr_unreadable", "empty"),
], ids=["bad-signature", "rsa-1024", "ed25519", "not-pem-or-der", "pem-garbage", "empty"])
def test_bad_csr_is_refused_before_anything_is_recorded(ctx, ports, csr, code, words):
    before = _counts()
    with pytest.raises(CSRRejected) as err:
        _issue(ports, csr())
    assert err.value.code == code and err.value.status == 422
    with force_locale("en"):
        assert words in err.value.render()
    with force_locale("mn"):
        assert err.value.render() and words not in err.value.render()  # Mongolian first
    assert _counts() == before


def test_a_key_type_the_profile_forbids(ctx, ports, monkeypatch):
    rsa_only = Profile(name="rsa-only", key_usage=DEFAULT_PROFILES["signing"].key_usage,
                       extended_key_usage=DEFAULT_PROFILES["signing"].extended_key_usage,
                       allowed_key_types=("rsa2048",))
    monkeypatch.setitem(ports.profiles, "rsa-only", rsa_only)
    before = _counts()
    with pytest.raises(CSRRejected) as err:
        _issue(ports, make_csr(new_key("ec-p256")), profile="rsa-only")
    assert err.value.code == "csr_key_type_forbidden"
    with force_locale("en"):
        assert "ec-p256 is not allowed for the profile rsa-only (allowed: rsa2048)" in err.value.render()
    assert _counts() == before
    assert _issue(ports, make_csr(new_key("rsa2048")), request_id="rsa-ok", profile="rsa-only").certificate


def test_a_ca_that_answers_long_after_the_grace_period_still_gives_one_certificate(ctx, ports, misbehaving,
                                                                                  monkeypatch, unique):
    """django-ca signs at once, but its answer is held far past the client's
    timeout and the grace period. The retry finds the certificate by its key and
    never posts the CSR again."""
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=3600)))
    ports.ca.chain()  # read while the CA answers promptly: only the sign request is held
    ports.ca.timeout = 0.5
    misbehaving.plans = ["hold-answer"]
    key = new_key("rsa2048")
    request_id = f"slow-{unique()}"
    with pytest.raises(BackendUnavailable) as err:
        _issue(ports, make_csr(key), request_id=request_id, holder=LATIN_HOLDER)
    assert err.value.code == "ca_timeout"
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.PENDING and req.certificate is None
    assert misbehaving.signed[0].wait(120), "django-ca never answered the sign request"
    # Restart: a fresh connector knows nothing of the first attempt, and finds
    # the certificate by its key before it would post again.
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=3600)))
    cert = jobs.retry(db.session, "officer", request_id, ports=ports).certificate
    assert cert is not None and misbehaving.posts == 1
    assert x509_key(cert.pem) == key.public_key().public_bytes(serialization.Encoding.DER,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    misbehaving.release()  # the held answer reaches nobody: the client is long gone


def x509_key(pem: str) -> bytes:
    from cryptography import x509
    return x509.load_pem_x509_certificate(pem.encode()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_ca_that_answers_500(ctx, ports, misbehaving, monkeypatch, unique):
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(retries=2)))
    ports.ca.chain()  # the CA chain was read while the server was healthy
    misbehaving.mode = "error"
    request_id = f"err-{unique()}"
    with pytest.raises(BackendUnavailable) as err:
        _issue(ports, make_csr(), request_id=request_id, holder=LATIN_HOLDER)
    assert err.value.code == "ca_error"
    assert misbehaving.posts == 1  # a sign request is never blindly repeated
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.PENDING and req.certificate is None


def test_a_certificate_for_another_key_is_rejected_and_reported(ctx, ports, misbehaving, monkeypatch, unique):
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca()))
    other = _issue(ports, make_csr(), request_id=f"other-{unique()}", holder=LATIN_HOLDER).certificate
    misbehaving.mode, misbehaving.swap_pem = "swap", other.pem
    request_id = f"swap-{unique()}"
    certificates_before = db.session.scalar(sa.select(sa.func.count()).select_from(Certificate))
    with pytest.raises(CARejected) as err:
        _issue(ports, make_csr(), request_id=request_id, holder=LATIN_HOLDER)
    with force_locale("en"):
        assert "another public key" in err.value.render()
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.REJECTED and req.certificate is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == certificates_before
    record = db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "certificate_request.rejected",
                                                             AuditRecord.object_id == str(req.id))).one()
    assert "another public key" in record.details and other.serial in record.details


def test_django_ca_issues_for_a_cyrillic_register_number_in_its_ascii_form(ctx, ports, peer, monkeypatch, unique):
    """django-ca writes serialNumber as PrintableString; the ETSI semantics
    identifier (PNOMN- and the letters in ASCII) fits, so it issues for every holder."""
    monkeypatch.setattr(ports, "ca", django_connector(peer.ra_ca))
    cert = _issue(ports, make_csr(), request_id=f"cyr-{unique()}", holder=CYRILLIC_HOLDER).certificate
    parsed = x509.load_pem_x509_certificate(cert.pem.encode())
    serial = parsed.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0]
    assert serial.value == "PNOMN-UB90010112" and serial._type.name == "PrintableString"


def test_the_same_request_id_sent_twice_concurrently_gives_one_certificate(db_kind, tmp_path):
    """Two app instances (as two gunicorn workers) on their own real database, not
    the rolled-back test transaction, issue with one request id at the same moment."""
    from flask_migrate import upgrade

    from ra import create_app
    from tests.conftest import TEST_SECRET
    from tests.support.databases import drop_database, make_database

    url = make_database(db_kind, tmp_path)
    try:
        config = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                  "SECRET_KEY": TEST_SECRET, "MAIL_URL": "file:", "CA_EMBEDDED_KEYS": ("ec-p256", "ec-p256"),
                  "ARGON2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}}
        apps = [create_app(config), create_app(config)]
        with apps[0].app_context():
            upgrade(revision="heads")
            apps[0].extensions["ra.ports"].ca.initialise(db.session)
            db.session.commit()
        csr = make_csr(new_key("rsa2048"))
        barrier = threading.Barrier(2)
        results, errors = [], []

        def worker(app):
            with app.app_context():
                barrier.wait()
                try:
                    outcome = _issue(app.extensions["ra.ports"], csr, request_id="twin-1")
                    results.append(outcome.certificate.serial)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=worker, args=(a,)) for a in apps]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert len(results) == 2 and results[0] == results[1]
        with apps[0].app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(EmbeddedIssued)) == 1
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 1
            req = db.session.scalars(sa.select(CertificateRequest)).one()
            # The twin either counted a second attempt or found the request issued already.
            assert req.status == RequestStatus.ISSUED and req.attempts in (1, 2)
            db.session.remove()
            db.engine.dispose()
        with apps[1].app_context():
            db.engine.dispose()
    finally:
        drop_database(url)
