"""Certificate profiles, defined once and used by orders, the CSR check, the CA and
the handover (issue #3). Profiles live in configuration: ``PROFILES`` in the app
config may override or add to the defaults below.

Subjects follow the State CA's practice: CN from the holder's Latin (or Cyrillic)
name, serialNumber from the state register number, O the organisation, OU the
department, title the position, e-mail the work address, C=MN.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_TYPES = ("rsa2048", "rsa3072", "ec-p256")


@dataclass(frozen=True)
class KeyUsageSpec:
    digital_signature: bool = False
    content_commitment: bool = False  # nonRepudiation
    key_encipherment: bool = False
    key_agreement: bool = False

    def extension(self) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=self.digital_signature, content_commitment=self.content_commitment,
            key_encipherment=self.key_encipherment, data_encipherment=False, key_agreement=self.key_agreement,
            key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class Profile:
    name: str
    key_usage: KeyUsageSpec
    extended_key_usage: tuple[x509.ObjectIdentifier, ...]
    default_key_type: str = "rsa2048"
    allowed_key_types: tuple[str, ...] = KEY_TYPES
    validity_days: int = 730
    cn_from: str = "latin"  # "latin" or "cyrillic"
    labels: dict = field(default_factory=dict)

    def check_key_type(self, key_type: str) -> bool:
        return key_type in self.allowed_key_types


@dataclass(frozen=True)
class SubjectData:
    """What the RU knows about a holder, from which the profile builds the subject.
    The RU decides the subject, never the requester's CSR."""
    latin_name: str
    cyrillic_name: str
    register_number: str
    organisation: str
    department: str = ""
    position: str = ""
    email: str = ""


def build_subject(profile: Profile, s: SubjectData) -> x509.Name:
    cn = s.latin_name if profile.cn_from == "latin" else s.cyrillic_name
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "MN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, s.organisation[:64])]
    if s.department:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, s.department[:64]))
    if s.position:
        attrs.append(x509.NameAttribute(NameOID.TITLE, s.position[:64]))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn[:64]))
    # X.520 gives serialNumber PrintableString, which cannot hold the register
    # number's Cyrillic letters (УБ12345678); UTF8String keeps them readable.
    attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, s.register_number, _type=_ASN1Type.UTF8String))
    if s.email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, s.email))
    return x509.Name(attrs)


DEFAULT_PROFILES: dict[str, Profile] = {
    "signing": Profile(
        name="signing",
        key_usage=KeyUsageSpec(digital_signature=True, content_commitment=True),
        extended_key_usage=(ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH),
        labels={"mn": "Тоон гарын үсэг", "en": "Digital signature"},
    ),
    "authentication": Profile(
        name="authentication",
        key_usage=KeyUsageSpec(digital_signature=True),
        extended_key_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        labels={"mn": "Нэвтрэлт", "en": "Authentication"},
    ),
}


def profiles_from_config(config: dict) -> dict[str, Profile]:
    merged = dict(DEFAULT_PROFILES)
    merged.update(config.get("PROFILES") or {})
    return merged
