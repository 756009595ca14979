"""The connector suite, run against the embedded CA and against a real django-ca:
what an auditor would check on every issued certificate, exactly-once issuance,
revocation with a reason that the CRL then lists, and a CA that cannot be used."""
from __future__ import annotations

import json

import sqlalchemy as sa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra.audit.models import AuditRecord
from ra.ca import jobs, service
from ra.ca.models import Certificate, CertificateRequest
from ra.ca.states import CertificateStatus, RequestStatus
from ra.errors import RAError
from ra.enrollment.register_number import semantics_identifier
from ra.extensions import db
from ra.profiles import STATE_CA_POLICY
from tests.ca.conftest import make_csr, new_key, openssl, write_chain


def _issue(ports, holder, csr, request_id, profile="signing", order=None):
    return jobs.issue_certificate(db.session, "officer@ra.ub.gov.mn", csr=csr, profile=profile, subject=holder,
                                  request_id=request_id, order_id=order.id if order else None,
                                  holder_id=order.holder_id if order else None, ports=ports)


def _ca_side_count(ca_kind, connector, request, public_key_pem: bytes) -> int:
    """How many certificates the CA itself holds for this key."""
    if ca_kind == "embedded":
        from ra.ca.csr import public_key_sha256
        from ra.ca.models import EmbeddedIssued
        fp = public_key_sha256(serialization.load_pem_public_key(public_key_pem))
        return db.session.scalar(sa.select(sa.func.count()).select_from(EmbeddedIssued)
                                 .where(EmbeddedIssued.public_key_sha256 == fp))
    peer = request.getfixturevalue("peer")
    return sum(1 for c in peer.certificates()
               if x509.load_pem_x509_certificate(c["certificate"]["pem"].encode()).public_key().public_bytes(
                   serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) == public_key_pem)


def test_issued_certificate_verifies_with_openssl_and_carries_the_profile(ctx, ports, connector, holder, tmp_path,
                                                                         unique):
    key = new_key("rsa2048")
    csr = make_csr(key, cn="Subject chosen by the requester")
    from tests.enrollment.helpers import active_org, approved_order

    org, registrar, officer = active_org(db.session, ports)
    order = approved_order(db.session, ports, org, registrar, officer)
    outcome = _issue(ports, holder, csr, f"order-{order.id}-{unique()}", order=order)
    cert = outcome.certificate
    assert cert is not None and cert.status == CertificateStatus.VALID

    (tmp_path / "cert.pem").write_text(cert.pem)
    root, issuing = write_chain(tmp_path, connector.chain())
    verify = openssl("verify", "-CAfile", str(root), "-untrusted", str(issuing), str(tmp_path / "cert.pem"))
    assert verify.returncode == 0, verify.stderr
    assert b": OK" in verify.stdout

    text = openssl("x509", "-in", str(tmp_path / "cert.pem"), "-noout", "-text", "-nameopt",
                   "utf8,sep_comma_plus_space").stdout.decode()
    # ETSI EN 319 412-2 §4.3.2: a signing certificate has nonRepudiation alone.
    assert "Non Repudiation" in text and "Digital Signature" not in text
    assert "E-mail Protection" in text
    assert f"email:{holder.email}" in text                         # subjectAltName rfc822Name
    assert f"Policy: {STATE_CA_POLICY}" in text
    subject_line = next(line for line in text.splitlines() if line.strip().startswith("Subject:"))
    assert "C=MN" in subject_line
    assert f"CN={holder.latin_name}" in subject_line
    assert f"GN={holder.latin_name.split()[0]}" in subject_line and f"SN={holder.latin_name.split()[1]}" in subject_line
    assert f"serialNumber={semantics_identifier(holder.register_number)}" in subject_line
    assert "emailAddress" not in subject_line
    assert holder.organisation in subject_line
    assert "Subject chosen by the requester" not in text          # the RU decides the subject

    # Its public key is the CSR's.
    (tmp_path / "req.pem").write_bytes(csr)
    cert_key = openssl("x509", "-in", str(tmp_path / "cert.pem"), "-noout", "-pubkey").stdout
    csr_key = openssl("req", "-in", str(tmp_path / "req.pem"), "-noout", "-pubkey").stdout
    assert cert_key and cert_key == csr_key

    # The record: serial, issuer and issuing CA, validity, PEM, profile, order and holder.
    parsed = x509.load_pem_x509_certificate(cert.pem.encode())
    assert cert.serial == format(parsed.serial_number, "X").rjust(len(cert.serial), "0")
    assert cert.issuer == parsed.issuer.rfc4514_string()
    assert cert.issuer_key_id == connector.chain()[0].extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest.hex()
    assert cert.ca_name.startswith(connector.name)
    assert (cert.not_before, cert.not_after) == (parsed.not_valid_before_utc, parsed.not_valid_after_utc)
    assert (cert.profile, cert.order_id, cert.holder_id) == ("signing", order.id, order.holder_id)
    # CA/B BR §5.4.1: the request and the issuance are both on record. A remote CA
    # is asked after the request is committed: two records. The embedded CA signs
    # in the request's own transaction: one record carries both.
    records = db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.object_type == "certificate_request", AuditRecord.object_id == str(outcome.request.id))
        .order_by(AuditRecord.seq)).all()
    if connector.local:
        assert [r.action for r in records] == ["certificate_request.issued"]
        facts = json.loads(records[0].details)["request"]
    else:
        assert [r.action for r in records] == ["certificate_request.created", "certificate_request.issued"]
        facts = json.loads(records[0].details)
    assert (facts["request_id"], facts["profile"], facts["key_type"]) == (
        outcome.request.request_id, "signing", "rsa2048")
    assert (facts["order_id"], facts["connector"]) == (order.id, connector.name)
    # The RU's record of the subject also names the e-mail, which the certificate carries in its SAN.
    assert facts["subject"] == f"1.2.840.113549.1.9.1={holder.email},{cert.subject}"
    issued = json.loads(records[-1].details)
    assert (issued["from"], issued["to"], issued["serial"]) == ("pending", "issued", cert.serial)
    assert records[-1].actor == "officer@ra.ub.gov.mn"


def test_the_same_request_id_gives_the_same_certificate(ctx, ports, connector, ca_kind, holder, request, unique):
    key = new_key("ec-p256")
    csr = make_csr(key)
    request_id = f"order-42-{unique()}"
    first = _issue(ports, holder, csr, request_id).certificate
    again = _issue(ports, holder, csr, request_id).certificate
    retried = jobs.retry(db.session, "officer", request_id, ports=ports).certificate
    assert first.serial == again.serial == retried.serial
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)
                             .where(Certificate.serial == first.serial)) == 1
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.ISSUED
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert _ca_side_count(ca_kind, connector, request, pem) == 1


def test_revocation_with_reason_is_listed_in_the_crl(ctx, ports, connector, ca_kind, holder, request, tmp_path,
                                                     unique):
    cert = _issue(ports, holder, make_csr(), f"order-43-{unique()}").certificate
    service.revoke_certificate(db.session, "officer", cert, x509.ReasonFlags.key_compromise, ports=ports)
    db.session.commit()
    assert cert.status == CertificateStatus.REVOKED and cert.revocation_reason == "keyCompromise"
    if ca_kind == "django-ca":
        request.getfixturevalue("peer").regenerate_crls()
    crl = connector.crl()
    db.session.commit()
    entry = crl.get_revoked_certificate_by_serial_number(int(cert.serial, 16))
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.is_signature_valid(connector.chain()[0].public_key())
    (tmp_path / "crl.der").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    text = openssl("crl", "-inform", "DER", "-in", str(tmp_path / "crl.der"), "-noout", "-text").stdout.decode()
    assert f"Serial Number: {cert.serial.lstrip('0')}" in text.replace("Serial Number: 0", "Serial Number: ")
    assert "Key Compromise" in text
    # Revoked is final.
    with pytest.raises(RAError):
        service.revoke_certificate(db.session, "officer", cert, x509.ReasonFlags.superseded, ports=ports)


def test_a_ca_that_cannot_be_used_loses_nothing(ctx, ports, ca_kind, holder, monkeypatch, unique, app):
    """django-ca: nobody listens on the port. Embedded: its keys cannot be opened
    because the key setting changed (the in-process CA's way of being down)."""
    if ca_kind == "django-ca":
        from tests.ca.conftest import django_connector
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        broken = django_connector(f"django-ca+https://u:p@127.0.0.1:{port}/django_ca/api?ca=AB&retries=1&timeout=2")
        expected = "ca_unreachable"
    else:
        from ra.ca.embedded import EmbeddedCA
        broken = EmbeddedCA(lambda: db.session, base_url="http://x", wrapping_key=b"\x01" * 32, clock=ports.clock)
        expected = "ca_key_unavailable"
    monkeypatch.setattr(ports, "ca", broken)
    request_id = f"order-44-{unique()}"
    with pytest.raises(RAError) as err:
        _issue(ports, holder, make_csr(), request_id)
    assert err.value.code == expected and err.value.status == 503
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.PENDING and req.certificate is None   # kept, to be retried
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CertificateRequest)
                             .where(CertificateRequest.request_id == request_id)) == 1
