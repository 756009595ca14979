"""The embedded CA's delegated OCSP responder (RFC 6960 §4.2.2.2).

The issuing CA signs a short-lived certificate for a separate P-256 key with
extendedKeyUsage id-kp-OCSPSigning and id-pkix-ocsp-nocheck (§4.2.2.2.1: clients
do not check the responder's own status, so it lives only 30 days and is renewed
a week before it ends). Its key is sealed like the CA keys (``ra.ca.keys``, AES-256-GCM
under the CA wrapping key, bound to the label ``<ca>/ocsp``) on the CA's row, and
the certificate is entered in the CA's ledger like every other it signs. The
opened key is kept in memory for the process.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ra import audit
from ra.ca.csr import public_key_sha256, serial_hex
from ra.ca.keys import seal, signature_hash, unseal
from ra.ca.models import EmbeddedAuthority, EmbeddedIssued
from ra.revocation.ocsp import Responder

VALIDITY = timedelta(days=30)
RENEW_BEFORE = timedelta(days=7)
_AUTHORITY = EmbeddedAuthority.__table__
_cache: dict[tuple[int, str], Responder] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class LoadedResponder:
    authority_id: int
    responder: Responder


def _label(row: EmbeddedAuthority) -> str:
    return f"{row.name}/ocsp"


def _digest(pem: str) -> str:
    return hashlib.sha256(pem.encode("ascii")).hexdigest()


def current_responder(session, authority_id: int, issuer_key, issuer_cert: x509.Certificate, wrapping: bytes,
                      now: datetime) -> LoadedResponder:
    """The responder of the CA ``authority_id``, issued (or renewed) when it has
    none or its certificate ends within a week. Reads two columns per request, not
    the CA's row (which carries its CRL); the caller commits a new responder."""
    found = session.execute(sa.select(_AUTHORITY.c.name, _AUTHORITY.c.ocsp_certificate_pem,
                                      _AUTHORITY.c.ocsp_encrypted_key).where(_AUTHORITY.c.id == authority_id)).one()
    if found.ocsp_certificate_pem:
        key = (authority_id, _digest(found.ocsp_certificate_pem))
        cached = _cache.get(key)
        if cached is not None and cached.certificate.not_valid_after_utc - now > RENEW_BEFORE:
            return LoadedResponder(authority_id, cached)
        cert = x509.load_pem_x509_certificate(found.ocsp_certificate_pem.encode("ascii"))
        if cert.not_valid_after_utc - now > RENEW_BEFORE:
            responder = Responder(issuer_cert, cert, unseal(wrapping, found.ocsp_encrypted_key, f"{found.name}/ocsp"))
            with _lock:
                _cache[key] = responder
            return LoadedResponder(authority_id, responder)
    row = session.get(EmbeddedAuthority, authority_id)
    return LoadedResponder(authority_id, _issue(session, row, issuer_key, issuer_cert, wrapping, now))


def _issue(session, row, issuer_key, issuer_cert, wrapping, now) -> Responder:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cn = issuer_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject = x509.Name([
        *[a for a in issuer_cert.subject if a.oid in (NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME)],
        x509.NameAttribute(NameOID.COMMON_NAME, f"{cn[0].value if cn else row.name} OCSP Responder"),
    ])
    serial = x509.random_serial_number()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_cert.subject).public_key(public)
            .serial_number(serial).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + VALIDITY, issuer_cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
            .sign(issuer_key, signature_hash(issuer_key)))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    row.ocsp_certificate_pem = pem
    row.ocsp_encrypted_key = seal(wrapping, key, _label(row))
    session.add(EmbeddedIssued(authority_id=row.id, serial=serial_hex(serial),
                               request_id=f"ocsp-responder:{row.name}:{serial_hex(serial)}",
                               public_key_sha256=public_key_sha256(public),
                               certificate_der=cert.public_bytes(serialization.Encoding.DER),
                               not_after=cert.not_valid_after_utc, created_at=now))
    session.flush()
    audit.record(session, "system", "ca.ocsp_responder_issued", row, {
        "ca": row.name, "serial": serial_hex(serial), "subject": subject.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.isoformat(), "key": "ec-p256"})
    responder = Responder(issuer_cert, cert, key)
    with _lock:
        _cache[(row.id, _digest(pem))] = responder
    return responder
