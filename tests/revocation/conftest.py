"""Fixtures for the revocation tests: an active organisation with its registrar,
RU staff, holders whose certificates the real embedded CA (or the real django-ca
peer) issued onto tokens in stock, and helpers to read what an auditor reads —
the CRL through ``openssl crl``, the mail the real SMTP sink received."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra.auth.roles import Role
from ra.ca import jobs as ca_jobs
from ra.ca.models import Certificate
from ra.extensions import db
from ra.profiles import SubjectData
from ra.tokens import stock_service
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus, token_states
from tests.ca.conftest import make_csr, new_key
from tests.enrollment.helpers import active_org, api_token, make_holder
from tests.factories import make_staff
# The real django-ca `peer` fixture lives in tests/conftest.py (one server per session).



@pytest.fixture(scope="session", autouse=True)
def _embedded_ca_for_every_revocation_test(embedded_ca):
    return embedded_ca


@dataclass
class World:
    """Who is who, as ids and e-mails (usable across app contexts)."""
    org_id: int
    registrar: str
    officer: str
    officer2: str
    manager: str
    auditor: str
    admin: str
    other_registrar: str
    tokens: dict = field(default_factory=dict)   # e-mail → API token


def _user(email: str):
    from ra.auth.models import User
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def build_world(ports) -> World:
    org, registrar, officer = active_org(db.session, ports)
    other_org, other_registrar, _ = active_org(db.session, ports)
    staff = {r: make_staff(db.session, ports, r) for r in (Role.RA_MANAGER, Role.AUDITOR, Role.ADMIN)}
    officer2 = make_staff(db.session, ports, Role.RA_OFFICER)
    db.session.commit()
    w = World(org.id, registrar.email, officer.email, officer2.email, staff[Role.RA_MANAGER].email,
              staff[Role.AUDITOR].email, staff[Role.ADMIN].email, other_registrar.email)
    for email in (w.registrar, w.officer, w.officer2, w.manager, w.auditor, w.other_registrar):
        w.tokens[email] = api_token(db.session, _user(email))
    db.session.commit()
    return w


@pytest.fixture
def world(app, ports) -> World:
    with app.app_context():
        return build_world(ports)


def user(email: str):
    return _user(email)


def auth(world: World, email: str) -> dict:
    return {"Authorization": f"Bearer {world.tokens[email]}"}


@dataclass
class Issued:
    certificate_id: int
    serial: str
    pem: str
    holder_id: int
    holder_email: str
    token_id: int | None
    token_serial: str | None


def new_token(ports, serial: str | None = None) -> Token:
    """A token received into stock and handed over (the handover itself is the
    tokens module's; here it is its end state)."""
    import uuid

    admin = make_staff(db.session, ports, Role.ADMIN)
    serial = serial or uuid.uuid4().hex[:16]
    batch = stock_service.receive_batch(db.session, admin, stock_service.BatchData(
        model="SoftHSM2 test", supplier="Test supplier", received_on=ports.clock.today(), serials=serial,
        factory_so_pin="FACTORY-SO-1234"), ports=ports)
    token = batch.tokens[0]
    token_states.transition(db.session, token, TokenStatus.ACTIVE, actor="handover (test)",
                            details={"serial": token.serial})
    return token


def issue(ports, world: World, *, token: Token | None | bool = True, holder=None,
          profile: str = "signing") -> Issued:
    """A holder of ``world``'s organisation with a certificate signed by ``ports.ca``
    (the embedded CA, or django-ca when the test switched it) on a token."""
    from ra.enrollment.models import Organisation

    org = db.session.get(Organisation, world.org_id)
    holder = holder or make_holder(db.session, ports, org, user(world.registrar))
    subject = SubjectData(latin_name=holder.latin_name, cyrillic_name=holder.full_name,
                          register_number=holder.register_number,
                          organisation=org.name, department=holder.department, position=holder.position,
                          email=holder.email)
    import uuid
    outcome = ca_jobs.issue_certificate(db.session, "officer@test", csr=make_csr(new_key("ec-p256")),
                                        profile=profile, subject=subject, request_id=f"rev-{uuid.uuid4().hex}",
                                        holder_id=holder.id, ports=ports)
    cert = db.session.get(Certificate, outcome.certificate.id)
    if token is True:
        token = new_token(ports)
    if token:
        cert.token_id = token.id
    db.session.commit()
    return Issued(cert.id, cert.serial, cert.pem, holder.id, holder.email, token.id if token else None,
                  token.serial if token else None)


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)


def crl_text(crl: x509.CertificateRevocationList, tmp_path: Path) -> str:
    """What ``openssl crl -inform DER -text`` says about a CRL."""
    path = tmp_path / f"crl-{id(crl)}.der"
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    done = openssl("crl", "-inform", "DER", "-in", str(path), "-noout", "-text")
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def crl_entry(text: str, serial: str) -> str | None:
    """The block of ``openssl crl -text`` about one serial (openssl prints the
    serial in upper-case hex without leading zeros), or None."""
    blocks = re.split(r"\n\s*Serial Number: ", text)
    for block in blocks[1:]:
        head, _, rest = block.partition("\n")
        if int(head.strip(), 16) == int(serial, 16):
            return rest.split("Signature Algorithm")[0]
    return None


def mails_to(mail, address: str) -> list:
    return mail.to(address)


def code_in(message) -> str:
    body = message.get_content() if hasattr(message, "get_content") else str(message)
    m = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b", body)
    assert m, body
    return m.group(1)


def reference_in(message) -> str:
    """The report's own reference, from the confirmation link only the mailbox sees."""
    body = message.get_content() if hasattr(message, "get_content") else str(message)
    m = re.search(r"/lost-token/([A-Za-z0-9_-]+)", body)
    assert m, body
    return m.group(1)


def login(client, email: str):
    from tests.enrollment.helpers import login as _login
    return _login(client, email)
