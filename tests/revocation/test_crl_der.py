"""The DER-assembled CRL is a valid RFC 5280 v2 CRL: cryptography and OpenSSL read
it, its signature verifies, and reasons and invalidity dates are as recorded."""
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ra.revocation.crl_der import CrlIssuer, assemble_crl, encode_entry

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)


def _ca(key):
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "MN"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Төрийн туршилтын CA")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


@pytest.fixture(params=["rsa", "ec"])
def issuer(request):
    key = rsa.generate_private_key(65537, 2048) if request.param == "rsa" else ec.generate_private_key(ec.SECP256R1())
    cert = _ca(key)
    return cert, CrlIssuer.from_certificate(cert, key)


def test_cryptography_reads_it_and_the_signature_verifies(issuer):
    cert, iss = issuer
    big_serial = (1 << 159) - 12345  # 20 octets, RFC 5280 §4.1.2.2
    entries = [encode_entry(0x1234, NOW, "keyCompromise", NOW - timedelta(hours=5)),
               encode_entry(big_serial, NOW, "certificateHold"),
               encode_entry(77, NOW, "unspecified")]
    der = assemble_crl(iss, entries=entries, crl_number=42, this_update=NOW, next_update=NOW + timedelta(hours=24))
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(cert.public_key())
    assert crl.issuer == cert.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 42
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert crl.next_update_utc - crl.last_update_utc == timedelta(hours=24)
    first = crl.get_revoked_certificate_by_serial_number(0x1234)
    assert first.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert first.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc == \
        NOW - timedelta(hours=5)
    held = crl.get_revoked_certificate_by_serial_number(big_serial)
    assert held.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.certificate_hold
    assert len(crl.get_revoked_certificate_by_serial_number(77).extensions) == 0


def test_openssl_lists_serials_with_their_reasons(issuer, tmp_path):
    cert, iss = issuer
    der = assemble_crl(iss, entries=[encode_entry(0xABCDEF, NOW, "keyCompromise"),
                                     encode_entry(0x42, NOW, "certificateHold")],
                       crl_number=7, this_update=NOW, next_update=NOW + timedelta(hours=12))
    (tmp_path / "crl.der").write_bytes(der)
    (tmp_path / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "crl.der"), "-text", "-noout",
                          "-CAfile", str(tmp_path / "ca.pem")], capture_output=True, text=True, check=True)
    text = out.stdout + out.stderr
    assert "verify OK" in text
    assert "Serial Number: ABCDEF" in text and "Key Compromise" in text
    assert "Serial Number: 42" in text and "Certificate Hold" in text
    assert "X509v3 CRL Number" in text and "7" in text


def test_an_empty_crl_has_no_revoked_list(issuer):
    cert, iss = issuer
    crl = x509.load_der_x509_crl(assemble_crl(iss, entries=[], crl_number=1, this_update=NOW,
                                              next_update=NOW + timedelta(hours=24)))
    assert crl.is_signature_valid(cert.public_key()) and len(crl) == 0


def test_same_content_as_cryptographys_builder(issuer):
    """Byte for byte, the TBSCertList equals what cryptography's builder encodes."""
    cert, iss = issuer
    b = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject).last_update(NOW)
         .next_update(NOW + timedelta(hours=24))
         .add_extension(x509.AuthorityKeyIdentifier(iss.key_identifier, None, None), critical=False)
         .add_extension(x509.CRLNumber(5), critical=False))
    for serial, reason in ((1, x509.ReasonFlags.key_compromise), (2, x509.ReasonFlags.superseded)):
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW)
                                      .add_extension(x509.CRLReason(reason), critical=False).build())
    theirs = b.sign(iss.private_key, hashes.SHA256())
    ours = x509.load_der_x509_crl(assemble_crl(iss, entries=[encode_entry(1, NOW, "keyCompromise"),
                                                             encode_entry(2, NOW, "superseded")],
                                               crl_number=5, this_update=NOW,
                                               next_update=NOW + timedelta(hours=24)))
    assert ours.tbs_certlist_bytes == theirs.tbs_certlist_bytes
