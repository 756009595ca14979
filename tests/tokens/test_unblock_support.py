"""Shared by the remote-unblock tests (no tests here): a token handed over on
SoftHSM2 with its certificate from the embedded CA, the app served on loopback over
TLS by a real WSGI server (with a switch that SIGKILLs the holder's command at a
chosen request), and the real ``ra-token`` command run as a subprocess."""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from ra.auth.roles import Role
from ra.ca import service as ca_service
from ra.extensions import db
from ra.profiles import SubjectData, build_subject
from ra.tokens import stock_service
from ra.tokens.driver import Pkcs11TokenDriver
from ra.tokens.escrow import token_context
from ra.tokens.models import Token
from ra.tokens.softhsm import SoftHSM
from ra.tokens.unblock_models import UnblockRequest, UnblockThrottle
from tests.conftest import app_config
from tests.enrollment.helpers import active_org, api_token, make_holder
from tests.factories import make_staff
from tests.support.databases import drop_database, make_database
from tests.tokens.conftest import FACTORY_SO_PIN, TRANSPORT_PIN

REPO = Path(__file__).resolve().parents[2]
FIRST_PIN = "Hx7-20q5"      # typed by the holder at the handover, then forgotten
CODE = re.compile(r"\b[0-9A-Z]{5}(?:-[0-9A-Z]{5}){3}\b")


@dataclass
class Handed:
    token_id: int
    holder_id: int
    serial: str
    label: str
    email: str


def hand_over(session, ports, driver, hsm, *, org, registrar, officer, locale: str = "mn") -> Handed:
    """DESIGN §3.3 steps 3–8 through the real services and the real driver: a stock
    token initialised with an RU SO PIN and the holder's PIN, an EC key made on it,
    a certificate from the embedded CA recorded for the holder and this token."""
    holder = make_holder(session, ports, org, registrar, locale=locale)
    serial = hsm.create_stock(1, so_pin=FACTORY_SO_PIN, user_pin=TRANSPORT_PIN)[0]
    driver.rescan()
    admin = make_staff(session, ports, Role.ADMIN)
    batch = stock_service.receive_batch(session, admin, stock_service.BatchData(
        model="SoftHSM2 test", supplier="Test", received_on=ports.clock.today(), serials=serial,
        factory_so_pin=FACTORY_SO_PIN), ports=ports)
    token = batch.tokens[0]
    label = f"UNBLOCK-{uuid.uuid4().hex[:8]}"
    stock_service.begin_initialisation(session, officer, token, ports=ports)
    session.commit()
    stock_service.initialise_token(session, officer, token, label=label, ports=ports)
    stock_service.set_user_pin(session, officer, token, FIRST_PIN, source="typed", ports=ports)
    key = driver.generate_key_pair(serial, FIRST_PIN, "ec-p256", "signing")
    subject = SubjectData(latin_name=holder.latin_name, cyrillic_name=holder.full_name,
                          register_number=holder.register_number, organisation=org.name,
                          department=holder.department, position=holder.position, email=holder.email)
    csr = driver.sign_csr(serial, FIRST_PIN, key.key_id, build_subject(ports.profiles["signing"], subject))
    req = ca_service.request_and_submit(session, officer, csr=csr, profile="signing", subject=subject,
                                        request_id=f"unblock-test-{uuid.uuid4().hex}", holder_id=holder.id,
                                        ports=ports)
    cert = req.certificate
    cert.token_id = token.id
    driver.put_certificate(serial, FIRST_PIN, key.key_id, "signing",
                           x509.load_pem_x509_certificate(cert.pem.encode()).public_bytes(serialization.Encoding.DER))
    stock_service.activate_token(session, officer, token, ports=ports)
    session.commit()
    return Handed(token.id, holder.id, serial, label, holder.email)


def escrowed(session, ports, token_id: int) -> tuple[str, str | None]:
    """The SO PIN the RU holds for the token and the pending one, out of escrow."""
    token = session.execute(sa.select(Token).where(Token.id == token_id)
                            .execution_options(populate_existing=True)).scalar_one()
    open_ = lambda blob: ports.tokens.escrow.open(blob, token_context(token.serial)) if blob else None  # noqa: E731
    return open_(token.so_pin), open_(token.so_pin_pending)


def latest_request(session, token_id: int) -> UnblockRequest:
    return session.execute(sa.select(UnblockRequest).where(UnblockRequest.token_id == token_id)
                           .order_by(UnblockRequest.id.desc()).limit(1)
                           .execution_options(populate_existing=True)).scalar_one()


def code_in(message) -> str:
    found = CODE.search(message.get_body(("plain",)).get_content())
    assert found, "no code in the e-mail"
    return found.group(0)


# -- independent checks with OpenSC's pkcs11-tool ---------------------------------------------

def pkcs11_tool_ok(hsm: SoftHSM, module: str, *args: str) -> bool:
    done = subprocess.run(["pkcs11-tool", "--module", module, *args], env=hsm.env(), capture_output=True, text=True,
                          timeout=60)
    return done.returncode == 0


def user_pin_works(hsm, module, label: str, pin: str) -> bool:
    return pkcs11_tool_ok(hsm, module, "--token-label", label, "--login", "--pin", pin, "-O")


def so_pin_works(hsm, module, label: str, so_pin: str) -> bool:
    # An SO login needs a read-write session: C_SetPIN to the same SO PIN gives one.
    return pkcs11_tool_ok(hsm, module, "--token-label", label, "--login", "--login-type", "so", "--so-pin", so_pin,
                          "--change-pin", "--new-pin", so_pin)


# -- the served app ------------------------------------------------------------------------------

def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 (as an RU with its own CA)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test RU private CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    import ipaddress
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class Faults:
    """WSGI middleware: at the next request whose path ends with ``suffix``, SIGKILL
    the holder's command, either before the app sees the request or after the app
    answered it (committed) but before the answer leaves."""

    def __init__(self, app):
        self.app = app
        self.rule: tuple[str, str] | None = None
        self.pid: int | None = None
        self.fired = threading.Event()

    def arm(self, suffix: str, when: str) -> None:
        assert when in ("before", "after")
        self.rule, self.pid = (suffix, when), None
        self.fired.clear()

    def _kill(self):
        deadline = time.monotonic() + 10
        while self.pid is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(self.pid, signal.SIGKILL)
        self.fired.set()

    def __call__(self, environ, start_response):
        rule = self.rule
        if rule is None or not environ.get("PATH_INFO", "").endswith(rule[0]):
            return self.app(environ, start_response)
        self.rule = None
        if rule[1] == "before":
            self._kill()
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"killed"]
        seen = {}
        body = self.app(environ, lambda status, headers, exc_info=None: seen.update(s=(status, headers)))
        try:
            data = b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()
        self._kill()
        start_response(*seen["s"])
        return [data]


@dataclass
class Served:
    base: str
    app: object
    cafile: Path
    faults: Faults
    org_id: int
    registrar_id: int
    officer_id: int
    registrar_token: str

    @property
    def ports(self):
        return self.app.extensions["ra.ports"]


@pytest.fixture(scope="module")
def unblock_server(db_kind, tmp_path_factory, smtp_sink):
    """The app on a database of its own, served over TLS on 127.0.0.1 by Werkzeug's
    threaded server, with one active organisation, its registrar and an officer."""
    from flask_migrate import upgrade

    from ra import create_app

    url = make_database(db_kind, tmp_path_factory.mktemp("unblock-db"))
    app = create_app(app_config(url, tmp_path_factory.mktemp("unblock-instance"), smtp_sink.port, TESTING=False))
    with app.app_context():
        upgrade(revision="heads")
        ports = app.extensions["ra.ports"]
        ports.ca.initialise(db.session, actor="test")
        org, registrar, officer = active_org(db.session, ports)
        token = api_token(db.session, registrar)
        db.session.commit()
        ids = org.id, registrar.id, officer.id
    cafile, cert, key = make_tls(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    faults = Faults(app)
    server = make_server("127.0.0.1", 0, faults, threaded=True, ssl_context=context)
    base = f"https://127.0.0.1:{server.server_port}"
    app.extensions["ra.ports"].base_url = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(base, app, cafile, faults, *ids, token)
    finally:
        server.shutdown()
        thread.join(10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(url)


class _Verified(requests.Session):
    """A session that trusts the test CA even when REQUESTS_CA_BUNDLE is set (requests
    lets the environment override a session's ``verify``, not a request's)."""

    def __init__(self, cafile: str):
        super().__init__()
        self.cafile = cafile

    def request(self, *args, **kw):
        kw.setdefault("verify", self.cafile)
        return super().request(*args, **kw)


class Remote:
    """One test's view of the served app: a fresh SoftHSM2 token directory that the
    server's token port and the holder's command share."""

    def __init__(self, served: Served, hsm: SoftHSM, driver: Pkcs11TokenDriver, sink):
        self.served, self.hsm, self.driver, self.sink = served, hsm, driver, sink
        self.module = driver.module_path
        self.http = _Verified(str(served.cafile))

    def context(self):
        return self.served.app.app_context()

    def hand_over(self, locale: str = "mn") -> Handed:
        from ra.auth.models import User
        from ra.enrollment.models import Organisation

        with self.context():
            ports = self.served.ports
            org = db.session.get(Organisation, self.served.org_id)
            registrar, officer = (db.session.get(User, i) for i in (self.served.registrar_id, self.served.officer_id))
            return hand_over(db.session, ports, self.driver, self.hsm, org=org, registrar=registrar,
                             officer=officer, locale=locale)

    def ask_as_registrar(self, serial: str) -> requests.Response:
        return self.http.post(f"{self.served.base}/api/v1/tokens/{serial}/unblock-requests",
                              headers={"Authorization": f"Bearer {self.served.registrar_token}"})

    def code_for(self, handed: Handed) -> str:
        """Asks as the registrar and returns the code from the holder's e-mail."""
        self.sink.clear()
        resp = self.ask_as_registrar(handed.serial)
        assert resp.status_code == 201, resp.text
        mails = self.sink.to(handed.email)
        assert len(mails) == 1
        return code_in(mails[0])

    def cli_args(self, code: str, *, serial: str | None = None, lang: str = "en", cafile: bool = True) -> list[str]:
        args = [sys.executable, "-m", "ra.tokens.remote_cli", "unblock", "--code", code, "--module", self.module,
                "--server", self.served.base, "--lang", lang, "--pin-stdin"]
        if serial:
            args += ["--token-serial", serial]
        if cafile:
            args += ["--cafile", str(self.served.cafile)]
        return args

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("RA_LANG", "RA_SERVER")}
        return {**env, "SOFTHSM2_CONF": str(self.hsm.conf), "PYTHONPATH": str(REPO)}

    def run(self, code: str, pin: str = "", **kw) -> subprocess.CompletedProcess:
        """The real ``ra-token unblock`` (``python -m ra.tokens.remote_cli``, the
        console script's module) as the holder runs it."""
        return subprocess.run(self.cli_args(code, **kw), input=pin + "\n", env=self.env(), cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    def run_killed_at(self, suffix: str, when: str, code: str, pin: str) -> subprocess.CompletedProcess:
        self.served.faults.arm(suffix, when)
        proc = subprocess.Popen(self.cli_args(code), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env(), cwd=REPO, text=True)
        self.served.faults.pid = proc.pid
        out, err = proc.communicate(pin + "\n", timeout=120)
        assert self.served.faults.fired.is_set(), f"never reached {suffix}: {out} {err}"
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def escrowed(self, handed: Handed):
        with self.context():
            return escrowed(db.session, self.served.ports, handed.token_id)

    def request(self, handed: Handed) -> UnblockRequest:
        with self.context():
            req = latest_request(db.session, handed.token_id)
            db.session.expunge(req)
            return req

    def user_pin_works(self, handed: Handed, pin: str) -> bool:
        return user_pin_works(self.hsm, self.module, handed.label, pin)

    def so_pin_works(self, handed: Handed, so_pin: str) -> bool:
        return so_pin_works(self.hsm, self.module, handed.label, so_pin)


@pytest.fixture
def remote(unblock_server, tmp_path, smtp_sink, monkeypatch):
    ports = unblock_server.ports
    hsm = SoftHSM(tmp_path / "softhsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(hsm.ensure()))
    driver = Pkcs11TokenDriver(ports.tokens.module_path, escrow=ports.tokens.escrow, softhsm=hsm)
    monkeypatch.setattr(ports, "tokens", driver)
    monkeypatch.setattr(ports, "clock", ports.clock)
    smtp_sink.clear()
    unblock_server.faults.rule = None
    with unblock_server.app.app_context():  # every test starts with a clean request throttle
        db.session.execute(sa.delete(UnblockThrottle))
        db.session.commit()
    return Remote(unblock_server, hsm, driver, smtp_sink)
