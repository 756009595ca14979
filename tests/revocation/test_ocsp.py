"""OCSP answers checked by OpenSSL's own client against a responder served on loopback."""
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ra.revocation.ocsp import Responder, SerialStatus, respond

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "MN"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, pub, key, serial, *, ca=False, eku=None, extra=()):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub).serial_number(serial)
         .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    for ext in extra:
        b = b.add_extension(ext, critical=False)
    return b.sign(key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("State Test Issuing CA"), _name("State Test Issuing CA"), ca_key.public_key(), ca_key, 1, ca=True)
    r_key = ec.generate_private_key(ec.SECP256R1())
    responder = _cert(_name("OCSP"), ca.subject, r_key.public_key(), ca_key, 2,
                      eku=[ExtendedKeyUsageOID.OCSP_SIGNING], extra=[x509.OCSPNoCheck()])
    leaves = {}
    for serial in (0x1001, 0x1002, 0x1003):
        k = ec.generate_private_key(ec.SECP256R1())
        leaves[serial] = _cert(_name(f"holder {serial}"), ca.subject, k.public_key(), ca_key, serial)
        (d / f"{serial}.pem").write_bytes(leaves[serial].public_bytes(serialization.Encoding.PEM))
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    statuses = {0x1001: SerialStatus("good"),
                0x1002: SerialStatus("revoked", NOW - timedelta(hours=1), "keyCompromise"),
                0x1003: SerialStatus("revoked", NOW - timedelta(hours=2), "certificateHold")}
    r = Responder(ca, responder, r_key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            der = respond(body, r, lambda s: statuses.get(s, SerialStatus("unknown")), datetime.now(timezone.utc))
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(der)))
            self.end_headers()
            self.wfile.write(der)

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield d, f"http://127.0.0.1:{server.server_port}", r, statuses
    server.shutdown()


def _openssl_ocsp(d, url, serial):
    out = subprocess.run(["openssl", "ocsp", "-issuer", str(d / "ca.pem"), "-cert", str(d / f"{serial}.pem"),
                          "-url", url, "-CAfile", str(d / "ca.pem"), "-resp_text"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout + out.stderr


def test_openssl_sees_good(pki):
    d, url, *_ = pki
    text = _openssl_ocsp(d, url, 0x1001)
    assert "Response verify OK" in text and ": good" in text


def test_openssl_sees_revoked_with_reason(pki):
    d, url, *_ = pki
    text = _openssl_ocsp(d, url, 0x1002)
    assert "Response verify OK" in text and ": revoked" in text and "keyCompromise" in text


def test_a_hold_is_revoked_with_certificate_hold(pki):
    d, url, *_ = pki
    text = _openssl_ocsp(d, url, 0x1003)
    assert ": revoked" in text and "certificateHold" in text


def test_a_malformed_request_gets_malformed_request(pki):
    _, _, r, _ = pki
    resp = ocsp.load_der_ocsp_response(respond(b"not der", r, lambda s: SerialStatus("good"), NOW))
    assert resp.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_another_cas_certificate_is_unknown(pki):
    _, _, r, _ = pki
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = _cert(_name("Other CA"), _name("Other CA"), other_key.public_key(), other_key, 9, ca=True)
    leaf = _cert(_name("x"), other_ca.subject, other_key.public_key(), other_key, 0x1001)
    req = ocsp.OCSPRequestBuilder().add_certificate(leaf, other_ca, hashes.SHA1()).build()
    resp = ocsp.load_der_ocsp_response(respond(req.public_bytes(serialization.Encoding.DER), r,
                                               lambda s: SerialStatus("good"), NOW))
    assert resp.certificate_status == ocsp.OCSPCertStatus.UNKNOWN
