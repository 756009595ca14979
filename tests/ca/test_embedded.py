"""The embedded State CA as a relying party and an auditor see it: keys sealed at
rest, RFC 5280 serials and extensions, the chain and CRLs downloadable at the URLs
written into the certificates, and hold/release."""
from __future__ import annotations

import sqlalchemy as sa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID

from ra.ca import jobs, service
from ra.ca.keys import CAKeyUnavailable, unseal, wrapping_key
from ra.ca.models import EmbeddedAuthority
from ra.ca.states import CertificateStatus
from ra.errors import Conflict
from ra.extensions import db
from tests.ca.conftest import CYRILLIC_HOLDER, make_csr, new_key, openssl, write_chain


def _issue(ports, request_id, profile="signing", key=None):
    return jobs.issue_certificate(db.session, "officer", csr=make_csr(key), profile=profile,
                                  subject=CYRILLIC_HOLDER, request_id=request_id, ports=ports).certificate


def test_ca_keys_are_sealed_at_rest(ctx, app):
    rows = db.session.scalars(sa.select(EmbeddedAuthority)).all()
    assert {r.name for r in rows} >= {"root-g1", "issuing-g1"}
    for row in rows:
        assert b"PRIVATE KEY" not in row.encrypted_key
        with pytest.raises(ValueError):
            serialization.load_der_private_key(row.encrypted_key, password=None)
        key = unseal(wrapping_key(app.config), row.encrypted_key, row.name)
        cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
        assert key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == \
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        with pytest.raises(CAKeyUnavailable):
            unseal(b"\x02" * 32, row.encrypted_key, row.name)
        with pytest.raises(CAKeyUnavailable):  # a sealed key cannot be moved to another CA's row
            unseal(wrapping_key(app.config), row.encrypted_key, "someone-else")
    root = next(r for r in rows if r.is_root)
    subject = x509.load_pem_x509_certificate(root.certificate_pem.encode()).subject.rfc4514_string()
    assert subject == "CN=State Test Root CA,O=State Test PKI,C=MN"


def test_serials_are_random_positive_and_at_most_20_octets(ctx, ports, unique):
    key = new_key("ec-p256")
    serials = [int(_issue(ports, f"serial-{unique()}", key=key).serial, 16) for _ in range(12)]
    assert len(set(serials)) == 12
    assert all(0 < s and s.bit_length() <= 159 for s in serials)   # DER INTEGER ≤ 20 octets
    assert max(s.bit_length() for s in serials) > 150                # drawn from ~159 random bits


def test_certificate_extensions_point_at_what_the_ru_publishes(ctx, ports, client, tmp_path, unique):
    cert = x509.load_pem_x509_certificate(_issue(ports, f"ext-{unique()}", profile="authentication").pem.encode())
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ext.get_extension_for_class(x509.KeyUsage).critical
    assert ext.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not ext.get_extension_for_class(x509.KeyUsage).value.content_commitment  # authentication profile
    issuing = ports.ca.chain()[0]
    assert ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == \
        issuing.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert ext.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == \
        x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    base = ports.base_url
    cdp = ext.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    aia = {d.access_method: d.access_location.value for d in ext.get_extension_for_class(
        x509.AuthorityInformationAccess).value}
    assert cdp == f"{base}/ca/crl/issuing-g1.crl"
    assert aia[AuthorityInformationAccessOID.OCSP] == f"{base}/ocsp"
    assert aia[AuthorityInformationAccessOID.CA_ISSUERS] == f"{base}/ca/issuing-g1.crt"

    # Those URLs answer: the issuer's certificate (DER) and its CRL (DER, signed by it).
    resp = client.get(aia[AuthorityInformationAccessOID.CA_ISSUERS][len(base):])
    assert resp.status_code == 200 and resp.mimetype == "application/pkix-cert"
    assert x509.load_der_x509_certificate(resp.data) == issuing
    resp = client.get(cdp[len(base):])
    assert resp.status_code == 200 and resp.mimetype == "application/pkix-crl"
    assert x509.load_der_x509_crl(resp.data).is_signature_valid(issuing.public_key())


def test_chain_downloads_as_pem_and_der(ports, client):
    pem = client.get("/ca/chain.pem")
    assert pem.status_code == 200
    chain = x509.load_pem_x509_certificates(pem.data)
    der = client.get("/ca/chain.p7c")
    assert der.status_code == 200 and der.mimetype == "application/pkcs7-mime"
    assert set(pkcs7.load_der_pkcs7_certificates(der.data)) == set(chain)  # a SET OF: DER sorts it
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=State Test Issuing CA,O=State Test PKI,C=MN", "CN=State Test Root CA,O=State Test PKI,C=MN"]
    root = client.get("/ca/root-g1.crt")
    assert x509.load_der_x509_certificate(root.data) == chain[1]
    assert client.get("/ca/nobody.crt").status_code == 404
    assert client.get("/ca/crl/root-g1.crl").status_code == 200


def test_openssl_refuses_a_revoked_certificate_with_the_published_crl(ctx, ports, client, tmp_path, unique):
    cert = _issue(ports, f"crl-{unique()}")
    (tmp_path / "cert.pem").write_text(cert.pem)
    root, issuing = write_chain(tmp_path, ports.ca.chain())
    service.revoke_certificate(db.session, "officer", cert, x509.ReasonFlags.affiliation_changed, ports=ports)
    db.session.commit()
    crl = client.get("/ca/crl/issuing-g1.crl").data
    (tmp_path / "crl.pem").write_bytes(x509.load_der_x509_crl(crl).public_bytes(serialization.Encoding.PEM))
    result = openssl("verify", "-crl_check", "-CAfile", str(root), "-untrusted", str(issuing),
                     "-CRLfile", str(tmp_path / "crl.pem"), str(tmp_path / "cert.pem"))
    assert result.returncode != 0 and b"certificate revoked" in result.stdout + result.stderr


def test_hold_and_release(ctx, ports, unique):
    cert = _issue(ports, f"hold-{unique()}")
    service.suspend_certificate(db.session, "officer", cert, ports=ports)
    entry = ports.ca.crl().get_revoked_certificate_by_serial_number(int(cert.serial, 16))
    assert cert.status == CertificateStatus.SUSPENDED
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.certificate_hold
    service.release_certificate(db.session, "officer", cert, ports=ports)
    assert cert.status == CertificateStatus.VALID
    assert ports.ca.crl().get_revoked_certificate_by_serial_number(int(cert.serial, 16)) is None
    service.suspend_certificate(db.session, "officer", cert, ports=ports)
    service.revoke_certificate(db.session, "officer", cert, x509.ReasonFlags.key_compromise, ports=ports)
    entry = ports.ca.crl().get_revoked_certificate_by_serial_number(int(cert.serial, 16))
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    with pytest.raises(Conflict):
        ports.ca.release(cert.serial)
