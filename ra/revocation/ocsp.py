"""OCSP responses (RFC 6960) built with ``cryptography.x509.ocsp``.

The responder is a delegated OCSP-signing certificate issued by the CA
(RFC 6960 §4.2.2.2: extendedKeyUsage id-kp-OCSPSigning, and id-pkix-ocsp-nocheck so
clients do not check the responder's own status). ``lookup(serial)`` gives the
status the RU records, the same records the CRL is built from, so OCSP and the
CRL agree for every serial.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

REASONS = {
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "unspecified": x509.ReasonFlags.unspecified,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}


@dataclass(frozen=True)
class SerialStatus:
    """``good``, ``revoked`` (with reason and time; a hold is revoked with
    certificateHold, RFC 6960 §2.2), or ``unknown`` (not issued by this CA)."""
    state: str
    revoked_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Responder:
    issuer: x509.Certificate
    certificate: x509.Certificate
    private_key: object
    validity: timedelta = timedelta(hours=4)


_HASHES: dict[tuple[bytes, str], tuple[bytes, bytes]] = {}


def _issuer_hashes(responder: "Responder", algorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of our CA for ``algorithm`` (RFC 6960 §4.1.1),
    computed by cryptography from a request about the responder's own certificate,
    which the same CA issued; kept per CA and hash algorithm."""
    key = (responder.issuer.fingerprint(hashes.SHA256()), algorithm.name)
    found = _HASHES.get(key)
    if found is None:
        probe = ocsp.OCSPRequestBuilder().add_certificate(responder.certificate, responder.issuer, algorithm).build()
        found = _HASHES[key] = (probe.issuer_name_hash, probe.issuer_key_hash)
    return found


def respond(request_der: bytes, responder: Responder, lookup: Callable[[int], SerialStatus],
            now: datetime) -> bytes:
    """One OCSP response, DER. A malformed request gets MALFORMED_REQUEST; a request
    about another CA's certificate gets ``unknown``."""
    try:
        req = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(
            serialization.Encoding.DER)
    algorithm = req.hash_algorithm
    ours = (req.issuer_name_hash, req.issuer_key_hash) == _issuer_hashes(responder, algorithm)
    status = lookup(req.serial_number) if ours else SerialStatus("unknown")
    cert_status = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
                   "unknown": ocsp.OCSPCertStatus.UNKNOWN}[status.state]
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=req.issuer_name_hash, issuer_key_hash=req.issuer_key_hash,
        serial_number=req.serial_number, algorithm=algorithm, cert_status=cert_status,
        this_update=now, next_update=now + responder.validity,
        revocation_time=status.revoked_at if status.state == "revoked" else None,
        revocation_reason=REASONS.get(status.reason) if status.state == "revoked" and status.reason else None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate).certificates([responder.certificate])
    nonce = _nonce(req)
    if nonce is not None:
        builder = builder.add_extension(nonce, critical=False)
    return builder.sign(responder.private_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _nonce(req):
    try:
        return req.extensions.get_extension_for_class(x509.OCSPNonce).value
    except x509.ExtensionNotFound:
        return None
