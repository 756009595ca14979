"""What relying parties check, checked by OpenSSL against the RU served on loopback
(a real WSGI server, its own database, the embedded CA publishing at the URLs its
certificates name): ``openssl crl`` lists the revoked serial with its reason and
the held one with certificateHold, and no longer the released one; ``openssl
ocsp`` at the AIA URL says revoked, then good after the release; ``openssl verify
-crl_check`` fails for the revoked certificate; OCSP and the CRL agree for every
serial the CA signed; ``flask --app ra crl publish`` numbers a new CRL for cron."""
from __future__ import annotations

import base64
import socket
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from werkzeug.serving import make_server

from ra.ca.models import EmbeddedIssued
from ra.extensions import db
from tests.conftest import app_config
from tests.revocation.conftest import World, build_world, crl_entry, issue, new_token, openssl
from tests.support.databases import drop_database, make_database

SO_PIN, USER_PIN = "FACTORY-SO-1234", "4815162342"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Live:
    def __init__(self, app, base: str, world: World):
        self.app, self.base, self.world = app, base, world
        self.ports = app.extensions["ra.ports"]

    def api(self, method: str, path: str, who: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.base}/api/v1{path}", timeout=30,
                                headers={"Authorization": f"Bearer {self.world.tokens[who]}"}, **kw)


@pytest.fixture(scope="module")
def live(db_kind, tmp_path_factory, smtp_sink):
    from flask_migrate import upgrade

    from ra import create_app

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    url = make_database(db_kind, tmp_path_factory.mktemp("live-db"))
    app = create_app(app_config(url, tmp_path_factory.mktemp("live-instance"), smtp_sink.port, TESTING=False,
                                BASE_URL=base))
    with app.app_context():
        upgrade(revision="heads")
        ports = app.extensions["ra.ports"]
        ports.ca.initialise(db.session, actor="test")
        db.session.commit()
        world = build_world(ports)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(app, base, world)
    finally:
        server.shutdown()
        thread.join(10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


def _write(path: Path, *certs) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _urls(cert: x509.Certificate) -> tuple[str, str]:
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0].full_name[0].value
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp_url = next(d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP)
    return cdp, ocsp_url


def _fetch_crl(url: str, path: Path) -> x509.CertificateRevocationList:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.headers["Content-Type"] == "application/pkix-crl"
        der = resp.read()
    path.write_bytes(der)
    return x509.load_der_x509_crl(der)


def _crl_text(path: Path, cafile: Path) -> str:
    done = openssl("crl", "-inform", "DER", "-in", str(path), "-noout", "-text", "-CAfile", str(cafile))
    assert done.returncode == 0, done.stderr
    return done.stdout.decode() + done.stderr.decode()


def _ocsp(d: Path, name: str, url: str) -> str:
    done = openssl("ocsp", "-issuer", str(d / "issuing.pem"), "-cert", str(d / f"{name}.pem"), "-url", url,
                   "-CAfile", str(d / "chain.pem"), "-resp_text")
    return done.stdout.decode() + done.stderr.decode()


def test_openssl_crl_ocsp_and_verify_agree_with_the_ru(live, tmp_path):
    app, ports, world = live.app, live.ports, live.world
    softhsm = ports.tokens.softhsm
    with app.app_context():
        revoked, held, good = issue(ports, world), None, issue(ports, world)
        # The held one's token is a real (SoftHSM2) token in the counter's reader.
        serial = softhsm.create_stock_token(so_pin=SO_PIN, user_pin=USER_PIN, label="REVOCATION")
        ports.tokens.rescan()
        held = issue(ports, world, token=new_token(ports, serial=serial))
        chain = ports.ca.chain()
    certs = {n: x509.load_pem_x509_certificate(i.pem.encode()) for n, i in
             (("revoked", revoked), ("held", held), ("good", good))}
    for name, cert in certs.items():
        _write(tmp_path / f"{name}.pem", cert)
    _write(tmp_path / "issuing.pem", chain[0])
    _write(tmp_path / "root.pem", chain[-1])
    _write(tmp_path / "chain.pem", *chain)
    cdp, ocsp_url = _urls(certs["revoked"])
    assert cdp == f"{live.base}/ca/crl/issuing-g1.crl" and ocsp_url == f"{live.base}/ocsp"

    # The registrar asks; two RU staff approve. The registrar suspends the other.
    made = live.api("POST", "/revocations", world.registrar,
                    json={"certificate_serial": revoked.serial, "reason": "keyCompromise"}).json()
    for who in (world.officer, world.manager):
        last = live.api("POST", f"/revocations/{made['id']}/approve", who, json={})
    assert last.json()["status"] == "completed"
    hold = live.api("POST", "/revocations", world.registrar,
                    json={"certificate_serial": held.serial, "reason": "certificateHold"})
    assert hold.status_code == 201 and hold.json()["status"] == "completed"

    crl = _fetch_crl(cdp, tmp_path / "crl.der")
    text = _crl_text(tmp_path / "crl.der", tmp_path / "issuing.pem")
    assert "verify OK" in text
    assert "Key Compromise" in crl_entry(text, revoked.serial)
    assert "Certificate Hold" in crl_entry(text, held.serial)
    assert crl_entry(text, good.serial) is None
    first_number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    out = _ocsp(tmp_path, "revoked", ocsp_url)
    assert "Response verify OK" in out and "revoked.pem: revoked" in out and "keyCompromise" in out
    out = _ocsp(tmp_path, "held", ocsp_url)
    assert "held.pem: revoked" in out and "certificateHold" in out
    out = _ocsp(tmp_path, "good", ocsp_url)
    assert "Response verify OK" in out and "good.pem: good" in out

    # openssl verify with the CRL: the revoked certificate fails, the good one passes.
    pem_crl = tmp_path / "crl.pem"
    pem_crl.write_bytes(urllib.request.urlopen(f"{live.base}/ca/crl/issuing-g1.pem", timeout=30).read())
    args = ["verify", "-crl_check", "-CAfile", str(tmp_path / "root.pem"), "-untrusted",
            str(tmp_path / "issuing.pem"), "-CRLfile", str(pem_crl)]
    bad = openssl(*args, str(tmp_path / "revoked.pem"))
    assert bad.returncode != 0 and b"certificate revoked" in bad.stdout + bad.stderr
    assert openssl(*args, str(tmp_path / "good.pem")).returncode == 0

    # The human-readable lists: revoked, and suspended separately.
    page = requests.get(f"{live.base}/revocation-lists", timeout=30).text
    revoked_table = page.split('id="revoked-issuing-g1"')[1].split("</table>")[0]
    suspended_table = page.split('id="suspended-issuing-g1"')[1].split("</table>")[0]
    assert revoked.serial in revoked_table and held.serial not in revoked_table
    assert held.serial in suspended_table and revoked.serial not in suspended_table

    # Released at the counter, token in the reader: good again, in both.
    released = live.api("POST", f"/certificates/{held.serial}/release", world.officer)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "valid"
    crl = _fetch_crl(cdp, tmp_path / "crl2.der")
    text = _crl_text(tmp_path / "crl2.der", tmp_path / "issuing.pem")
    assert crl_entry(text, held.serial) is None and "Key Compromise" in crl_entry(text, revoked.serial)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > first_number
    out = _ocsp(tmp_path, "held", ocsp_url)
    assert "Response verify OK" in out and "held.pem: good" in out
    # Revoked is final: no release.
    assert live.api("POST", f"/certificates/{revoked.serial}/release", world.officer).status_code == 409

    # OCSP and the CRL agree for every serial the CA signed (the responder's own too).
    with app.app_context():
        ledger = db.session.query(EmbeddedIssued.serial, EmbeddedIssued.certificate_der).all()
    listed = {e.serial_number: e for e in crl}
    issuing = chain[0]
    for serial_hex, der in ledger:
        cert = x509.load_der_x509_certificate(der)
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuing, hashes.SHA1()).build()
        answer = ocsp.load_der_ocsp_response(requests.post(
            ocsp_url, data=request.public_bytes(serialization.Encoding.DER), timeout=30,
            headers={"Content-Type": "application/ocsp-request"}).content)
        assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        entry = listed.get(cert.serial_number)
        if entry is None:
            assert answer.certificate_status == ocsp.OCSPCertStatus.GOOD, serial_hex
        else:
            assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED, serial_hex
            assert answer.revocation_time_utc == entry.revocation_date_utc
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            assert answer.revocation_reason == reason

    # The responder is a delegated one: OCSPSigning, ocsp-nocheck, signed by the issuing CA.
    responder = answer.certificates[0]
    assert responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING])
    assert responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
    responder.verify_directly_issued_by(issuing)
    # GET per RFC 6960 Appendix A.1 answers too.
    req = ocsp.OCSPRequestBuilder().add_certificate(certs["good"], issuing, hashes.SHA1()).build()
    encoded = quote(base64.b64encode(req.public_bytes(serialization.Encoding.DER)).decode(), safe="")
    got = ocsp.load_der_ocsp_response(requests.get(f"{ocsp_url}/{encoded}", timeout=30).content)
    assert got.certificate_status == ocsp.OCSPCertStatus.GOOD
    bad_request = ocsp.load_der_ocsp_response(requests.post(ocsp_url, data=b"junk", timeout=30).content)
    assert bad_request.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    page = requests.get(f"{live.base}/revocation-lists", timeout=30).text
    assert held.serial not in page.split('id="suspended-issuing-g1"')[1].split("</table>")[0]


def test_crl_publish_for_cron(live, tmp_path):
    app = live.app
    runner = app.test_cli_runner()
    first = runner.invoke(args=["crl", "publish", "--out", str(tmp_path / "pub")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["crl", "publish", "--out", str(tmp_path / "pub")])
    assert second.exit_code == 0, second.output
    numbers = [int(line.split("CRL number ")[1].split(",")[0]) for line in second.output.splitlines()
               if line.startswith("issuing-g1")] + [int(line.split("CRL number ")[1].split(",")[0])
                                                    for line in first.output.splitlines()
                                                    if line.startswith("issuing-g1")]
    assert numbers[0] == numbers[1] + 1  # monotonically increasing
    assert "root-g1" in second.output
    crl = x509.load_der_x509_crl((tmp_path / "pub" / "issuing-g1.crl").read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == numbers[0]
    assert crl.next_update_utc - crl.last_update_utc <= timedelta(hours=24)
    pem = openssl("crl", "-in", str(tmp_path / "pub" / "issuing-g1.crl.pem"), "-noout", "-crlnumber")
    assert pem.returncode == 0 and f"{numbers[0]:X}" in pem.stdout.decode().upper()
    # The URL serves the same CRL the cron job made.
    served = x509.load_der_x509_crl(urllib.request.urlopen(f"{live.base}/ca/crl/issuing-g1.crl", timeout=30).read())
    assert served.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == numbers[0]
    # Each publication also signs an audit checkpoint, shipped to the operator's file.
    shipped = Path(app.config["AUDIT_CHECKPOINTS"]).read_text().splitlines()
    assert len(shipped) >= 2 and "audit checkpoint: records 1-" in second.output
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "signed checkpoints agree" in verified.output, verified.output
