"""Every artefact the embedded CA makes, as DigiCert's ``pkilint`` (a linter
nobody here wrote) sees it: each profile's end-entity certificate, the root,
issuing and OCSP-responder certificates, the CRL, the ARL and an OCSP response
pass ``lint_pkix_cert``, ``lint_crl`` and ``lint_ocsp_response`` with no finding
at WARNING or above; the signing certificate passes ETSI EN 319 412-2's
natural-person lint with no ERROR; and ``openssl x509 -text`` shows its policies
and subjectAltName."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from ra.ca import jobs
from ra.extensions import db
from ra.profiles import DEFAULT_PROFILES, ETSI_NCP_PLUS, STATE_CA_POLICY
from tests.ca.conftest import CYRILLIC_HOLDER, make_csr, new_key, openssl

# pkilint is a test dependency (pyproject's test extra): missing, these tests fail.


def _tool(name: str) -> str:
    beside = Path(__import__("sys").executable).parent / name
    return str(beside) if beside.exists() else name


def lint(tool: str, path: Path, *args: str, severity: str = "WARNING") -> list[dict]:
    """pkilint's findings at ``severity`` or above, as JSON rows."""
    done = subprocess.run([_tool(tool), "lint", *args, "-s", severity, "-f", "JSON", str(path)],
                          capture_output=True, text=True)
    assert not done.stderr, done.stderr  # its exit code counts the findings; stderr means it failed
    return _findings(json.loads(done.stdout))


def _findings(report) -> list[dict]:
    rows = report.get("results", report) if isinstance(report, dict) else report
    found = []
    for row in rows:
        for f in row.get("finding_descriptions", []):
            found.append({"validator": row.get("validator"), "node": row.get("node_path"), **f})
    return found


def _der(path: Path, obj) -> Path:
    path.write_bytes(obj.public_bytes(serialization.Encoding.DER))
    return path


def _issue(ports, unique, profile: str, key_type: str = "rsa2048") -> x509.Certificate:
    done = jobs.issue_certificate(db.session, "officer", csr=make_csr(new_key(key_type)), profile=profile,
                                  subject=CYRILLIC_HOLDER, request_id=f"lint-{profile}-{unique()}", ports=ports)
    return x509.load_pem_x509_certificate(done.certificate.pem.encode())


@pytest.mark.parametrize("profile", sorted(DEFAULT_PROFILES))
def test_each_profile_passes_the_pkix_linter(ctx, ports, unique, tmp_path, profile):
    key_type = DEFAULT_PROFILES[profile].allowed_key_types[-1] if profile != "encryption" else "rsa2048"
    for kind in {"rsa2048", key_type}:
        cert = _issue(ports, unique, profile, kind)
        assert lint("lint_pkix_cert", _der(tmp_path / f"{profile}-{kind}.der", cert)) == [], (profile, kind)


def test_qc_statements_when_a_profile_asks_for_them(ctx, published, unique, tmp_path, monkeypatch):
    ports = published
    qualified = dataclasses.replace(DEFAULT_PROFILES["signing"], name="signing-qc", qc_statements=True,
                                    qc_pds_url="https://ra.ub.gov.mn/pds/en.pdf")
    monkeypatch.setitem(ports.profiles, "signing-qc", qualified)
    cert = _issue(ports, unique, "signing-qc")
    path = _der(tmp_path / "qc.der", cert)
    assert lint("lint_pkix_cert", path) == []
    assert lint("lint_etsi_cert", path, "--type", "NCP-NATURAL-PERSON-CERTIFICATE", severity="ERROR") == []
    text = openssl("x509", "-inform", "DER", "-in", str(path), "-noout", "-text").stdout.decode()
    assert "qcStatements" in text or "1.3.6.1.5.5.7.1.3" in text
    # Off by default: the ordinary signing certificate has none.
    plain = _issue(ports, unique, "signing")
    assert x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3") not in {e.oid for e in plain.extensions}


PUBLIC_URL = "http://ra.ub.gov.mn"  # RA_PKI_URL: CRLs are fetched over plain http


@pytest.fixture
def published(app, ports, monkeypatch):
    """The embedded CA as production configures it: ETSI's linter reports the
    tests' loopback URLs (CRL, AIA, CPS) as internal names."""
    from ra.ca.embedded import EmbeddedCA
    from ra.ca.keys import wrapping_key

    ca = EmbeddedCA(lambda: db.session, base_url=PUBLIC_URL, wrapping_key=wrapping_key(app.config), clock=ports.clock)
    monkeypatch.setattr(ports, "ca", ca)
    return ports


def test_signing_certificate_passes_the_etsi_natural_person_lint(ctx, published, unique, tmp_path):
    cert = _issue(published, unique, "signing")
    path = _der(tmp_path / "signing.der", cert)
    assert lint("lint_etsi_cert", path, "--type", "NCP-NATURAL-PERSON-CERTIFICATE", severity="ERROR") == []

    # What a relying party reads: Latin names, the PNOMN semantics identifier as
    # a PrintableString, the e-mail in the SAN and not in the DN, nonRepudiation alone.
    serial = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0]
    assert serial.value == "PNOMN-UB90010112"
    assert serial._type.name == "PrintableString"
    assert cert.subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == "Batbayar"
    assert cert.subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "Dorj"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Batbayar Dorj"
    assert not cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.content_commitment and not ku.digital_signature and not ku.key_encipherment

    text = openssl("x509", "-inform", "DER", "-in", str(path), "-noout", "-text").stdout.decode()
    assert "X509v3 Certificate Policies:" in text
    assert f"Policy: {STATE_CA_POLICY}" in text and f"Policy: {ETSI_NCP_PLUS}" in text
    assert f"CPS: {PUBLIC_URL}/ca/cps" in text
    assert "X509v3 Subject Alternative Name:" in text and "email:batbayar@ub.gov.mn" in text
    assert "Non Repudiation" in text and "Digital Signature" not in text


def test_ca_and_responder_certificates_pass_the_pkix_linter(ctx, ports, tmp_path):
    for authority in ports.ca.authorities():
        path = _der(tmp_path / f"{authority.name}.der", authority.certificate)
        assert lint("lint_pkix_cert", path) == [], authority.name
    responder = ports.ca.ocsp_responder().responder
    assert lint("lint_pkix_cert", _der(tmp_path / "ocsp.der", responder.certificate)) == []


def test_crl_arl_and_ocsp_response_pass_the_linters(ctx, ports, client, unique, tmp_path):
    revoked = _issue(ports, unique, "authentication")
    ports.ca.revoke(format(revoked.serial_number, "X"), x509.ReasonFlags.key_compromise)
    good = _issue(ports, unique, "signing")
    assert lint("lint_crl", _der(tmp_path / "crl.der", ports.ca.crl()), "-t", "CRL", "-p", "PKIX") == []
    root = next(a for a in ports.ca.authorities() if a.is_root)
    assert lint("lint_crl", _der(tmp_path / "arl.der", ports.ca.crl(root.name)), "-t", "ARL", "-p", "PKIX") == []

    issuing = ports.ca.chain()[0]
    for cert in (good, revoked):
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuing, hashes.SHA1()).build()
        resp = client.post("/ocsp", data=request.public_bytes(serialization.Encoding.DER),
                           headers={"Content-Type": "application/ocsp-request"})
        assert resp.status_code == 200
        path = tmp_path / f"ocsp-{cert.serial_number}.der"
        path.write_bytes(resp.data)
        assert lint("lint_ocsp_response", path) == []
