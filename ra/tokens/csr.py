"""PKCS#10 certification requests signed by a key that never leaves the token
(RFC 2986 §4; algorithms per RFC 4055 / RFC 5758).

The token signs the DER of ``CertificationRequestInfo``; asn1crypto assembles the
request around that signature, and ``cryptography`` checks the result before it
goes anywhere, so a token that signs wrongly is caught at the counter.
"""
from __future__ import annotations

import hashlib
import re

from asn1crypto import csr as acsr
from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature

# key type → (PKCS#11 key type, size or curve OID, hash-and-sign mechanism, X.509 signature algorithm)
KEY_SPECS = {
    "rsa2048": (KeyType.RSA, 2048, Mechanism.SHA256_RSA_PKCS, "sha256_rsa"),
    "rsa3072": (KeyType.RSA, 3072, Mechanism.SHA256_RSA_PKCS, "sha256_rsa"),
    "ec-p256": (KeyType.EC, "1.2.840.10045.3.1.7", Mechanism.ECDSA_SHA256, "sha256_ecdsa"),
}

# DER prefix of DigestInfo for SHA-256 (RFC 8017 §9.2 note 1), for CKM_RSA_PKCS.
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def token_signer(private_key, mechanisms):
    """``sign(data, mechanism)`` for ``build_csr``. Tokens that lack the
    hash-and-sign mechanism (SoftHSM2 2.6 has no CKM_ECDSA_SHA256) get the SHA-256
    digest computed here and only the private-key operation on the token: CKM_ECDSA
    over the digest, or CKM_RSA_PKCS over DigestInfo."""
    def sign(data: bytes, mechanism) -> bytes:
        if mechanism in mechanisms:
            return private_key.sign(data, mechanism=mechanism)
        digest = hashlib.sha256(data).digest()
        if mechanism == Mechanism.ECDSA_SHA256:
            return private_key.sign(digest, mechanism=Mechanism.ECDSA)
        return private_key.sign(SHA256_DIGEST_INFO + digest, mechanism=Mechanism.RSA_PKCS)
    return sign


def public_key_info(public_key) -> bytes:
    """SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) DER of a python-pkcs11 public key object."""
    if public_key.key_type == KeyType.RSA:
        numbers = rsa.RSAPublicNumbers(int.from_bytes(public_key[Attribute.PUBLIC_EXPONENT], "big"),
                                       int.from_bytes(public_key[Attribute.MODULUS], "big"))
        return numbers.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    if public_key.key_type == KeyType.EC:
        return encode_ec_public_key(public_key)
    raise ValueError(f"unsupported key type {public_key.key_type!r}")


def key_type_of(spki_der: bytes) -> str:
    info = akeys.PublicKeyInfo.load(spki_der)
    if info.algorithm == "rsa":
        return f"rsa{info.bit_size}"
    if info.algorithm == "ec" and info.curve[1] == "secp256r1":
        return "ec-p256"
    raise ValueError("unsupported public key")


_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")


def encodable_name(name: x509.Name) -> x509.Name:
    """X.520 gives serialNumber and countryName the PrintableString type, which
    cannot hold Cyrillic (a register number such as УБ99010112); cryptography would
    still write it as PrintableString and produce DER nobody can parse. Such a value
    is written as UTF8String instead (RFC 5280 §4.1.2.4 DirectoryString)."""
    rdns = []
    for rdn in name.rdns:
        attrs = []
        for a in rdn:
            if a._type == _ASN1Type.PrintableString and not _PRINTABLE.match(a.value):
                a = x509.NameAttribute(a.oid, a.value, _type=_ASN1Type.UTF8String)
            attrs.append(a)
        rdns.append(x509.RelativeDistinguishedName(attrs))
    return x509.Name(rdns)


def build_csr(subject: x509.Name, spki_der: bytes, key_type: str, sign) -> bytes:
    """``sign(data, mechanism) -> bytes`` is the token's C_Sign. Returns the CSR DER."""
    _, _, mechanism, algorithm = KEY_SPECS[key_type]
    info = acsr.CertificationRequestInfo({
        "version": "v1",
        "subject": ax509.Name.load(encodable_name(subject).public_bytes()),
        "subject_pk_info": akeys.PublicKeyInfo.load(spki_der),
        "attributes": [],
    })
    signature = sign(info.dump(), mechanism)
    if algorithm.endswith("ecdsa"):
        signature = encode_ecdsa_signature(signature)  # PKCS#11 gives r‖s; X.509 wants ECDSA-Sig-Value
    der = acsr.CertificationRequest({
        "certification_request_info": info,
        "signature_algorithm": {"algorithm": algorithm},
        "signature": signature,
    }).dump()
    request = x509.load_der_x509_csr(der)
    if not request.is_signature_valid:
        raise ValueError("the token's signature on the CSR does not verify")
    return der


def same_public_key(certificate_der: bytes, spki_der: bytes) -> bool:
    cert = x509.load_der_x509_certificate(certificate_der)
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo) == spki_der
