"""A CRL assembled from DER pieces (RFC 5280 §5.1).

`cryptography`'s CertificateRevocationListBuilder re-encodes every entry on every
build: at 100,000 revocations that costs seconds, and the State CA regenerates its
CRL on every revocation. Here each revoked entry is encoded once, when it is
revoked (`encode_entry`), and kept; a CRL build is then one concatenation, the
TBSCertList header, and one signature (`assemble_crl`).

Only what RFC 5280 v2 CRLs of this RU need is encoded: entries with reasonCode and
invalidityDate; CRL extensions authorityKeyIdentifier and cRLNumber.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

# RFC 5280 §5.3.1 CRLReason
REASON_CODES = {
    "unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3, "superseded": 4,
    "cessationOfOperation": 5, "certificateHold": 6, "removeFromCRL": 8, "privilegeWithdrawn": 9,
    "aACompromise": 10,
}

_OID_REASON = bytes.fromhex("0603551d15")          # 2.5.29.21
_OID_INVALIDITY = bytes.fromhex("0603551d18")      # 2.5.29.24
_OID_AKI = bytes.fromhex("0603551d23")             # 2.5.29.35
_OID_CRL_NUMBER = bytes.fromhex("0603551d14")      # 2.5.29.20
# AlgorithmIdentifiers (DER): sha256WithRSAEncryption with NULL params; ecdsa-with-SHA256 without.
_ALG_RSA_SHA256 = bytes.fromhex("300d06092a864886f70d01010b0500")
_ALG_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_ALG_ECDSA_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")  # for P-384 keys (RFC 5758 §3.2)


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _len(len(content)) + content


def _integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("negative INTEGER not used here")
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")  # room for the sign bit
    return _tlv(0x02, body)


def _time(t: datetime) -> bytes:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always Z, no fractions."""
    t = t.astimezone(timezone.utc)
    if t.year < 2050:
        return _tlv(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, t.strftime("%Y%m%d%H%M%SZ").encode())


def _generalized(t: datetime) -> bytes:
    return _tlv(0x18, t.astimezone(timezone.utc).strftime("%Y%m%d%H%M%SZ").encode())


def _extension(oid_der: bytes, value_der: bytes, critical: bool = False) -> bytes:
    crit = b"\x01\x01\xff" if critical else b""
    return _tlv(0x30, oid_der + crit + _tlv(0x04, value_der))


def encode_entry(serial: int, revoked_at: datetime, reason: str | None = None,
                 invalidity_date: datetime | None = None) -> bytes:
    """One revokedCertificates entry (RFC 5280 §5.1.2.6, §5.3.1, §5.3.2). The reason
    `unspecified` is omitted, as §5.3.1 recommends."""
    exts = b""
    if reason and reason != "unspecified":
        exts += _extension(_OID_REASON, _tlv(0x0A, bytes([REASON_CODES[reason]])))
    if invalidity_date is not None:
        exts += _extension(_OID_INVALIDITY, _generalized(invalidity_date))
    body = _integer(serial) + _time(revoked_at)
    if exts:
        body += _tlv(0x30, exts)
    return _tlv(0x30, body)


@dataclass(frozen=True)
class CrlIssuer:
    """What is fixed per issuing CA: its name, key identifier and signing key."""
    name_der: bytes
    key_identifier: bytes
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def from_certificate(cls, cert: x509.Certificate, private_key) -> "CrlIssuer":
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        return cls(cert.subject.public_bytes(), ski, private_key)

    @property
    def _p384(self) -> bool:
        return isinstance(self.private_key, ec.EllipticCurvePrivateKey) and self.private_key.curve.key_size >= 384

    @property
    def algorithm(self) -> bytes:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return _ALG_RSA_SHA256
        return _ALG_ECDSA_SHA384 if self._p384 else _ALG_ECDSA_SHA256

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private_key.sign(data, ec.ECDSA(hashes.SHA384() if self._p384 else hashes.SHA256()))


def assemble_crl(issuer: CrlIssuer, *, entries, crl_number: int, this_update: datetime,
                 next_update: datetime) -> bytes:
    """The signed CertificateList (RFC 5280 §5.1) in DER. ``entries`` are the DER
    pieces from ``encode_entry``, in any iterable (a query's rows, a list)."""
    revoked = b"".join(entries)
    aki = _tlv(0x30, _tlv(0x80, issuer.key_identifier))  # AuthorityKeyIdentifier, keyIdentifier [0]
    crl_exts = _extension(_OID_AKI, aki) + _extension(_OID_CRL_NUMBER, _integer(crl_number))
    tbs_body = (_integer(1) + issuer.algorithm + issuer.name_der + _time(this_update) + _time(next_update)
                + (_tlv(0x30, revoked) if revoked else b"")
                + _tlv(0xA0, _tlv(0x30, crl_exts)))
    tbs = _tlv(0x30, tbs_body)
    signature = issuer.sign(tbs)
    return _tlv(0x30, tbs + issuer.algorithm + _tlv(0x03, b"\x00" + signature))


def entry_of(serial_text: str, revoked_at: datetime, reason: str | None,
             invalidity_date: datetime | None = None) -> bytes:
    """``encode_entry`` for a serial as the CA's ledger keeps it (upper-case hex)."""
    return encode_entry(int(serial_text, 16), revoked_at, reason, invalidity_date)


def signed_crl(issuer_cert: x509.Certificate, private_key, entries, *, crl_number: int, this_update: datetime,
               next_update: datetime) -> bytes:
    """The CRL of the CA with certificate ``issuer_cert`` from cached entries, DER."""
    return assemble_crl(CrlIssuer.from_certificate(issuer_cert, private_key), entries=entries,
                        crl_number=crl_number, this_update=this_update, next_update=next_update)
