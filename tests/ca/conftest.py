"""Fixtures for the CA tests: the embedded CA created once per session (committed,
outside the per-test rollback), the real django-ca peer started once per session
and stopped by PID, a misbehaving proxy in front of it, CSR makers, and OpenSSL."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from ra.profiles import SubjectData

CYRILLIC_HOLDER = SubjectData(
    latin_name="Batbayar Dorj", cyrillic_name="Батбаяр Дорж", register_number="УБ90010112",
    organisation="Нийслэлийн Засаг даргын Тамгын газар", department="Мэдээллийн технологийн хэлтэс",
    position="Ахлах мэргэжилтэн", email="batbayar@ub.gov.mn")
# A second holder with other letters; the serialNumber is ASCII (PNOMN-…), so
# django-ca, which writes it as PrintableString, issues for both.
LATIN_HOLDER = SubjectData(
    latin_name="Oyun Erdene", cyrillic_name="Оюун Эрдэнэ", register_number="ӨҮ85020304",
    organisation="Нийслэлийн Засаг даргын Тамгын газар", department="Санхүүгийн хэлтэс",
    position="Нягтлан бодогч", email="oyun@ub.gov.mn")


@pytest.fixture(scope="session", autouse=True)
def _embedded_ca_for_every_ca_test(embedded_ca):
    return embedded_ca


def django_connector(ra_ca: str):
    from ra.ca.django_ca import DjangoCAConnector

    return DjangoCAConnector.from_url(ra_ca[len("django-ca+"):], {})


@pytest.fixture(params=["embedded", "django-ca"])
def ca_kind(request):
    return request.param


@pytest.fixture
def connector(ca_kind, request, ports, monkeypatch):
    """``ports.ca`` for this test: the embedded CA, or the connector to the real django-ca."""
    if ca_kind == "django-ca":
        monkeypatch.setattr(ports, "ca", django_connector(request.getfixturevalue("peer").ra_ca))
    return ports.ca


@pytest.fixture
def holder(ca_kind):
    return LATIN_HOLDER if ca_kind == "django-ca" else CYRILLIC_HOLDER


def new_key(kind: str = "rsa2048"):
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def make_csr(key=None, cn: str = "requester's own subject", der: bool = False) -> bytes:
    key = key or new_key()
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).sign(key, algorithm))
    return csr.public_bytes(serialization.Encoding.DER if der else serialization.Encoding.PEM)


def openssl(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], input=input, capture_output=True)


def write_chain(directory: Path, chain: list[x509.Certificate]) -> tuple[Path, Path]:
    root, issuing = directory / "root.pem", directory / "issuing.pem"
    root.write_bytes(chain[-1].public_bytes(serialization.Encoding.PEM))
    issuing.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain[:-1]))
    return root, issuing
