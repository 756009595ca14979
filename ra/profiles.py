"""Certificate profiles, defined once and used by orders, the CSR check, the CA and
the handover. Profiles live in configuration: ``PROFILES`` in the app config may
override or add to the defaults below.

The content follows ETSI EN 319 412-2 for natural persons (docs/certificate-profiles.md):

- subject: C=MN; O, OU and title in Cyrillic (UTF8String); surname, givenName and
  CN in the Latin transliteration (DESIGN §3.2); serialNumber the semantics
  identifier ``PNOMN-`` + the register number in ASCII (ETSI EN 319 412-1 §5.1.3,
  a PrintableString as X.520 requires);
- subjectAltName rfc822Name with the work e-mail (RFC 5280 §4.1.2.6: e-mail belongs
  there); emailAddress in the DN only when ``email_in_dn`` asks for it;
- certificatePolicies with the State CA's policy OIDs and CPS URI;
- key usage per purpose: signing nonRepudiation alone, authentication
  digitalSignature, encryption keyEncipherment (ETSI EN 319 412-2 §4.3.2);
- qcStatements (QcType esign, QcPDS), off unless the profile asks.

The RU records the subject it decided as one RFC 4514 name that also carries the
work e-mail (emailAddress, last): ``certificate_name`` and ``alt_names`` split
it into the certificate's DN and its subjectAltName, so every CA connector and
every retry build the same certificate from the same record.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ra.enrollment.register_number import semantics_identifier

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


# Placeholder for the State CA's certificate policy until its CP assigns one: an
# OID under IANA's enterprise number for documentation (RFC 5612), so it claims
# nobody's number. Set the real OIDs per profile with ``PROFILES`` in the
# configuration (docs/certificate-profiles.md).
STATE_CA_POLICY = "1.3.6.1.4.1.32473.496.1.1"
# ETSI EN 319 411-1 §5.3 NCP+: the normalized policy with the key in a secure
# device, which is what the RU's e-tokens are.
ETSI_NCP_PLUS = "0.4.0.2042.1.2"
QC_STATEMENTS = ObjectIdentifier("1.3.6.1.5.5.7.1.3")


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
    policies: tuple[str, ...] = (STATE_CA_POLICY, ETSI_NCP_PLUS)
    cps_uri: str | None = None  # None: the embedded CA's own (``<RA_BASE_URL>/ca/cps``)
    email_in_dn: bool = False
    qc_statements: bool = False  # ETSI EN 319 412-5: QcType esign and, with qc_pds_url, QcPDS
    qc_pds_url: str = ""

    def __post_init__(self):
        if self.qc_pds_url and not self.qc_pds_url.startswith("https://"):
            raise ValueError(f"profile {self.name}: qc_pds_url must be https (ETSI EN 319 412-5 §4.3.4)")

    def check_key_type(self, key_type: str) -> bool:
        return key_type in self.allowed_key_types

    def certificate_policies(self, default_cps_uri: str | None = None) -> x509.CertificatePolicies | None:
        """RFC 5280 §4.2.1.4; the CPS URI rides on the State CA's own policy (the first)."""
        cps = self.cps_uri or default_cps_uri
        infos = [x509.PolicyInformation(ObjectIdentifier(oid), [cps] if cps and i == 0 else None)
                 for i, oid in enumerate(self.policies)]
        return x509.CertificatePolicies(infos) if infos else None

    def qc_statements_extension(self) -> x509.UnrecognizedExtension | None:
        """ETSI EN 319 412-5 §4.2.3 QcType (id-etsi-qct-esign) and §4.3.4 QcPDS (in English)."""
        if not self.qc_statements:
            return None
        statements = [_der(0x30, _oid("0.4.0.1862.1.6") + _der(0x30, _oid("0.4.0.1862.1.6.1")))]
        if self.qc_pds_url:
            location = _der(0x30, _der(0x16, self.qc_pds_url.encode("ascii")) + _der(0x13, b"en"))
            statements.append(_der(0x30, _oid("0.4.0.1862.1.5") + _der(0x30, location)))
        return x509.UnrecognizedExtension(QC_STATEMENTS, _der(0x30, b"".join(statements)))


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + body


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


@dataclass(frozen=True)
class SubjectData:
    """What the RU knows about a holder, from which the profile builds the subject.
    The RU decides the subject, never the requester's CSR. ``register_number`` is
    the Cyrillic one the RU keeps; the certificate carries its ASCII form."""
    latin_name: str
    cyrillic_name: str
    register_number: str
    organisation: str
    department: str = ""
    position: str = ""
    email: str = ""
    latin_given_name: str = ""
    latin_surname: str = ""

    def latin_parts(self) -> tuple[str, str]:
        """(givenName, surname); from ``latin_name`` ("Given Surname") when not given apart."""
        if self.latin_given_name or self.latin_surname:
            return self.latin_given_name, self.latin_surname
        given, _, surname = self.latin_name.strip().partition(" ")
        return given, surname.strip()


def build_subject(profile: Profile, s: SubjectData) -> x509.Name:
    """The subject the RU decided, as it records it: the certificate's DN, then the
    work e-mail (which ``certificate_name`` moves to the subjectAltName)."""
    cn = s.latin_name if profile.cn_from == "latin" else s.cyrillic_name
    given, surname = s.latin_parts()
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "MN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, s.organisation[:64])]
    if s.department:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, s.department[:64]))
    if s.position:
        attrs.append(x509.NameAttribute(NameOID.TITLE, s.position[:64]))
    if surname:
        attrs.append(x509.NameAttribute(NameOID.SURNAME, surname[:64]))
    if given:
        attrs.append(x509.NameAttribute(NameOID.GIVEN_NAME, given[:64]))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn[:64]))
    # ETSI EN 319 412-1 §5.1.3: "PNO" + country + "-" + the national identity
    # number, PrintableString (X.520), so the register number's letters in ASCII.
    attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, semantics_identifier(s.register_number)))
    if s.email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, s.email))
    return x509.Name(attrs)


def certificate_name(profile: Profile, requested: x509.Name) -> x509.Name:
    """The DN the certificate carries: ``requested`` without emailAddress unless
    the profile keeps it there."""
    if profile.email_in_dn:
        return requested
    return x509.Name([rdn for rdn in requested.rdns
                      if not any(a.oid == NameOID.EMAIL_ADDRESS for a in rdn)])


def alt_names(requested: x509.Name) -> list[x509.GeneralName]:
    """The subjectAltName entries: an rfc822Name per recorded e-mail."""
    return [x509.RFC822Name(a.value) for a in requested.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]


def extensions_of(profile: Profile, requested: x509.Name,
                  default_cps_uri: str | None = None) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions that depend on the profile and the holder, with their
    criticality: KU, EKU, SAN, certificate policies, QC statements."""
    out: list[tuple[x509.ExtensionType, bool]] = [(profile.key_usage.extension(), True)]
    if profile.extended_key_usage:
        out.append((x509.ExtendedKeyUsage(list(profile.extended_key_usage)), False))
    names = alt_names(requested)
    if names:
        # RFC 5280 §4.2.1.6: critical only when the subject DN is empty.
        out.append((x509.SubjectAlternativeName(names), False))
    policies = profile.certificate_policies(default_cps_uri)
    if policies is not None:
        out.append((policies, False))
    qc = profile.qc_statements_extension()
    if qc is not None:
        out.append((qc, False))
    return out


DEFAULT_PROFILES: dict[str, Profile] = {
    # ETSI EN 319 412-2 §4.3.2: a certificate for electronic signatures has
    # nonRepudiation alone (pyHanko's default signer check asks for it too).
    "signing": Profile(
        name="signing",
        key_usage=KeyUsageSpec(content_commitment=True),
        extended_key_usage=(ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        labels={"mn": "Тоон гарын үсэг", "en": "Digital signature"},
    ),
    "authentication": Profile(
        name="authentication",
        key_usage=KeyUsageSpec(digital_signature=True),
        extended_key_usage=(ExtendedKeyUsageOID.CLIENT_AUTH,),
        labels={"mn": "Нэвтрэлт", "en": "Authentication"},
    ),
    # Key transport needs RSA: an EC key cannot do keyEncipherment.
    "encryption": Profile(
        name="encryption",
        key_usage=KeyUsageSpec(key_encipherment=True),
        extended_key_usage=(ExtendedKeyUsageOID.EMAIL_PROTECTION,),
        allowed_key_types=("rsa2048", "rsa3072"),
        labels={"mn": "Шифрлэлт", "en": "Encryption"},
    ),
}


def profiles_from_config(config: dict) -> dict[str, Profile]:
    merged = dict(DEFAULT_PROFILES)
    merged.update(config.get("PROFILES") or {})
    return merged
