"""Builders and independent checks shared by the handover tests (no tests here).

Everything is real: SoftHSM2 tokens in a fresh directory per test (``stock``),
the embedded CA (committed once per session) or the django-ca peer, OpenSC's
pkcs11-tool and OpenSSL as the independent readers."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra.ca.models import Certificate
from ra.enrollment import orders_service as orders
from ra.extensions import db
from tests.enrollment.helpers import active_org, make_holder, upload_documents

HOLDER_PIN = "730519"


def ready_order(session, ports, *, key_type: str = "ec-p256", profile: str = "signing", **holder):
    """An approved order of an active organisation, through the real services."""
    org, registrar, officer = active_org(session, ports)
    person = make_holder(session, ports, org, registrar, **holder)
    upload_documents(session, ports, person, registrar)
    order = orders.create_order(session, registrar, person, profile=profile, key_type=key_type, ports=ports)
    orders.approve_order(session, officer, order, checked_document_ids=[d.id for d in person.documents],
                         ports=ports)
    return order


def handover_of(order):
    """The order's latest handover, read afresh."""
    from ra.tokens.handover_models import Handover
    return db.session.execute(sa.select(Handover).where(Handover.order_id == order.id).order_by(Handover.id.desc())
                              .limit(1).execution_options(populate_existing=True)).scalar_one()


def certificates_of(session, order_id: int) -> list[Certificate]:
    return list(session.execute(sa.select(Certificate).where(Certificate.order_id == order_id)).scalars())


def pkcs11_objects(hsm, module: str, slot_id: int, pin: str | None = None) -> str:
    """``pkcs11-tool -O`` (OpenSC) on the same token directory."""
    args = ["pkcs11-tool", "--module", module, "--slot", str(slot_id), "-O"]
    if pin:
        args += ["--login", "--pin", pin]
    done = subprocess.run(args, env=hsm.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def private_key_blocks(listing: str) -> list[str]:
    return [b for b in re.split(r"\n(?=\S)", listing) if b.startswith("Private Key Object")]


def read_token_certificate(hsm, module: str, slot_id: int, key_id_hex: str, out: Path) -> bytes:
    """The certificate object as OpenSC reads it off the token (DER)."""
    done = subprocess.run(["pkcs11-tool", "--module", module, "--slot", str(slot_id), "--read-object",
                           "--type", "cert", "--id", key_id_hex, "--output-file", str(out)],
                          env=hsm.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def openssl_verify(tmp: Path, chain: list[x509.Certificate], pem: str) -> subprocess.CompletedProcess:
    root, issuing, leaf = tmp / "root.pem", tmp / "issuing.pem", tmp / "leaf.pem"
    root.write_bytes(chain[-1].public_bytes(serialization.Encoding.PEM))
    issuing.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain[:-1]))
    leaf.write_text(pem)
    return subprocess.run(["openssl", "verify", "-CAfile", str(root), "-untrusted", str(issuing), str(leaf)],
                          capture_output=True, text=True)


def pdf_text(data: bytes, tmp: Path) -> str:
    path = tmp / "doc.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())
