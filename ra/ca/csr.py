"""Checks on what goes to the CA and what comes back.

Before a CSR is sent (RFC 2986): it must parse (PEM or DER), its self-signature
must verify (proof of possession, RFC 2986 §3), and its key must be one the
profile allows. After the CA answers: the certificate must carry the CSR's public
key, the subject the RU decided, the profile's key usage and extended key usage
(RFC 5280 §4.2.1.3, §4.2.1.12), and be signed by the issuing CA it names.
"""
from __future__ import annotations

import hashlib
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type

from ra.errors import UserError
from ra.i18n import _l
from ra.profiles import Profile, alt_names, certificate_name

MAX_CSR_BYTES = 64 * 1024
MIN_RSA_BITS = 2048


class CSRRejected(UserError):
    status = 422
    code = "csr_rejected"
    default_message = _l("The certificate request (CSR) cannot be accepted.")


def load_csr(data: bytes | str) -> x509.CertificateSigningRequest:
    """PEM or DER, nothing else."""
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if not data or len(data) > MAX_CSR_BYTES:
        raise CSRRejected(_l("The CSR is empty or too large."), code="csr_unreadable")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(data.strip())
        return x509.load_der_x509_csr(data)
    except ValueError:
        raise CSRRejected(_l("This is not a certificate request (CSR) in PEM or DER form."),
                          code="csr_unreadable") from None


def key_type_of(public_key) -> str | None:
    """The profile's name for a key (``ra.profiles.KEY_TYPES``), or None."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return {2048: "rsa2048", 3072: "rsa3072"}.get(public_key.key_size)
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return "ec-p256"
    return None


def check_csr(csr: x509.CertificateSigningRequest, profile: Profile) -> str:
    """Returns the key type; raises ``CSRRejected`` naming what is wrong."""
    try:
        public_key = csr.public_key()
    except (ValueError, TypeError):
        raise CSRRejected(_l("The CSR's public key cannot be read."), code="csr_unreadable") from None
    if not csr.is_signature_valid:
        raise CSRRejected(_l("The CSR's signature is not valid: it was not signed by the key it carries."),
                          code="csr_bad_signature")
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        raise CSRRejected(_l("The key is RSA-%(bits)d; at least RSA-2048 is required.",
                             bits=public_key.key_size), code="csr_weak_key")
    key_type = key_type_of(public_key)
    if key_type is None or not profile.check_key_type(key_type):
        raise CSRRejected(_l("The key type %(key)s is not allowed for the profile %(profile)s (allowed: "
                             "%(allowed)s).", key=key_type or describe_key(public_key), profile=profile.name,
                             allowed=", ".join(profile.allowed_key_types)), code="csr_key_type_forbidden")
    return key_type


def describe_key(public_key) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    return type(public_key).__name__.replace("PublicKey", "").lstrip("_")


_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")


def encodable(name: x509.Name) -> x509.Name:
    """X.520 types serialNumber and countryName as PrintableString, which cannot
    carry Cyrillic (a register number starts with two Cyrillic letters): such a
    value is written as UTF8String, as most national CAs do, instead of failing."""
    attrs = []
    for a in name:
        if a._type == _ASN1Type.PrintableString and not _PRINTABLE.match(a.value):
            a = x509.NameAttribute(a.oid, a.value, _ASN1Type.UTF8String)
        attrs.append(a)
    return x509.Name(attrs)


def subject_from_text(text: str) -> x509.Name:
    return encodable(x509.Name.from_rfc4514_string(text))


def as_recorded(name: x509.Name) -> x509.Name:
    """``name`` as ``subject_from_text`` reads it back from its RFC 4514 text
    (every attribute with its type's default string type, then ``encodable``),
    without printing and parsing it."""
    return encodable(x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(a.oid, a.value) for a in rdn])
                                for rdn in name.rdns]))


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_sha256(public_key) -> str:
    return hashlib.sha256(spki_der(public_key)).hexdigest()


def serial_hex(serial: int) -> str:
    """Upper-case hex with an even number of digits, as ``openssl x509 -serial`` prints it."""
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def key_identifier(cert: x509.Certificate) -> str:
    """The certificate's subjectKeyIdentifier (RFC 5280 §4.2.1.2), hex; computed
    from the key (method 1) when the extension is absent."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex()
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest.hex()


def problems_with_issued(cert: x509.Certificate, csr: x509.CertificateSigningRequest, subject: x509.Name,
                         profile: Profile, issuer: x509.Certificate) -> list[str]:
    """What is wrong with a certificate the CA returned, in plain words for the
    audit log; empty when it is the certificate that was asked for."""
    problems = []
    if spki_der(cert.public_key()) != spki_der(csr.public_key()):
        problems.append("the certificate is for another public key than the CSR's")
    expected = certificate_name(profile, subject)
    if cert.subject != expected:
        problems.append(f"subject {cert.subject.rfc4514_string()!r} is not the requested "
                        f"{expected.rfc4514_string()!r}")
    try:
        san = list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        san = []
    if set(san) != set(alt_names(subject)):
        problems.append("subjectAltName differs from the holder's recorded e-mail")
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if ku != profile.key_usage.extension():
            problems.append("key usage differs from the profile")
    except x509.ExtensionNotFound:
        problems.append("key usage is missing")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if set(eku) != set(profile.extended_key_usage):
            problems.append("extended key usage differs from the profile")
    except x509.ExtensionNotFound:
        if profile.extended_key_usage:
            problems.append("extended key usage is missing")
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        problems.append(f"not signed by the issuing CA {issuer.subject.rfc4514_string()!r} ({type(exc).__name__})")
    return problems
