"""The embedded CA's private keys at rest: PKCS#8 DER sealed with AES-256-GCM
(NIST SP 800-38D) under a key derived from configuration.

The wrapping key is ``RA_CA_KEY`` (32 bytes, base64) when set, otherwise HKDF-SHA256
(RFC 5869) over the application's SECRET_KEY with this module's own ``info``
label, so the same secret never serves two purposes. The key name is bound as
associated data: a sealed key cannot be swapped onto another CA's row.
"""
from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ra.errors import RAError
from ra.i18n import _l

VERSION = b"v1"
HKDF_INFO = b"ra.ca.embedded: CA private key wrapping v1"

# Root and issuing CA keys. RSA-4096 for the root that signs rarely, RSA-3072
# (NIST SP 800-57 strength 128, good beyond 2030) for the issuing CA.
DEFAULT_ALGORITHMS = ("rsa4096", "rsa3072")


class CAKeyUnavailable(RAError):
    status = 503
    code = "ca_key_unavailable"
    default_message = _l("The embedded CA's keys cannot be opened: the CA key setting changed. "
                         "Restore RA_CA_KEY or RA_SECRET_KEY.")


def wrapping_key(config: dict) -> bytes:
    explicit = config.get("CA_KEY") or os.environ.get("RA_CA_KEY")
    if explicit:
        key = base64.b64decode(explicit)
        if len(key) != 32:
            raise ValueError("RA_CA_KEY must be 32 bytes, base64-encoded")
        return key
    secret = str(config["SECRET_KEY"]).encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(secret)


def seal(wrapping: bytes, private_key, label: str) -> bytes:
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    nonce = os.urandom(12)
    return VERSION + nonce + AESGCM(wrapping).encrypt(nonce, der, label.encode("utf-8"))


def unseal(wrapping: bytes, sealed: bytes, label: str):
    if sealed[:2] != VERSION:
        raise CAKeyUnavailable()
    try:
        der = AESGCM(wrapping).decrypt(sealed[2:14], sealed[14:], label.encode("utf-8"))
    except InvalidTag:
        raise CAKeyUnavailable() from None
    return serialization.load_der_private_key(der, password=None)


def generate(algorithm: str):
    if algorithm.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[3:]))
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(f"unknown CA key algorithm {algorithm!r}")


def signature_hash(private_key):
    """SHA-384 for P-384 keys, SHA-256 otherwise (RFC 5758 §3.2, RFC 4055)."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()
