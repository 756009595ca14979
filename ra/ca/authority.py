"""Certificates and CRLs of the embedded State CA, built with ``cryptography``.

RFC 5280: serials random, positive, at most 20 octets (§4.1.2.2); CA certificates
with basicConstraints (§4.2.1.9) and keyCertSign/cRLSign (§4.2.1.3); every
certificate with subjectKeyIdentifier and authorityKeyIdentifier (§4.2.1.1-2),
CRL distribution points (§4.2.1.13) and authority information access with OCSP
and caIssuers (§4.2.2.1) at the URLs the RU publishes; CRLs with CRL number,
authorityKeyIdentifier and per-entry reason codes and invalidity dates (§5.2-5.3).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from ra.ca.keys import signature_hash
from ra.profiles import Profile, certificate_name, extensions_of

ROOT_YEARS = 20
ISSUING_YEARS = 10
CRL_VALIDITY = timedelta(days=1)


def ca_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "MN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "State Test PKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


@dataclass(frozen=True)
class Urls:
    """Where the RU publishes what a relying party needs (served by ``ra.ca.views``)."""
    base_url: str

    def crl(self, name: str) -> str:
        return f"{self.base_url}/ca/crl/{name}.crl"

    def certificate(self, name: str) -> str:
        return f"{self.base_url}/ca/{name}.crt"

    def ocsp(self) -> str:
        return f"{self.base_url}/ocsp"  # answered from issue #6 on; the URL is stable

    def cps(self) -> str:
        return f"{self.base_url}/ca/cps"


def publication_extensions(urls: Urls, issuer_name: str) -> list[tuple[x509.ExtensionType, bool]]:
    """CRL distribution point and AIA (OCSP, caIssuers) of certificates signed by ``issuer_name``."""
    return [
        (x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(urls.crl(issuer_name))], relative_name=None,
            reasons=None, crl_issuer=None)]), False),
        (x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp())),
            x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                   x509.UniformResourceIdentifier(urls.certificate(issuer_name))),
        ]), False),
    ]


def _publication(builder: x509.CertificateBuilder, urls: Urls, issuer_name: str) -> x509.CertificateBuilder:
    for ext, critical in publication_extensions(urls, issuer_name):
        builder = builder.add_extension(ext, critical=critical)
    return builder


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def build_root(key, subject: x509.Name, now: datetime) -> x509.Certificate:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=365 * ROOT_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, signature_hash(key)))


def build_issuing(key, subject: x509.Name, root_key, root_cert: x509.Certificate, root_name: str, urls: Urls,
                  now: datetime) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(root_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(min(now + timedelta(days=365 * ISSUING_YEARS), root_cert.not_valid_after_utc))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(_ca_key_usage(), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(_aki(root_cert), critical=False))
    return _publication(builder, urls, root_name).sign(root_key, signature_hash(root_key))


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


class EndEntityTemplate:
    """What stays the same for every certificate an issuing CA signs: the issuer
    name, AKI, CRL distribution point and AIA. Built once, reused per certificate."""

    def __init__(self, issuer_cert: x509.Certificate, issuer_key, issuer_name: str, urls: Urls):
        self.issuer_cert = issuer_cert
        self.issuer_key = issuer_key
        self.hash = signature_hash(issuer_key)
        self.aki = _aki(issuer_cert)
        self.not_after_limit = issuer_cert.not_valid_after_utc
        self.publication = publication_extensions(urls, issuer_name)
        self.cps_uri = urls.cps()

    def sign(self, public_key, subject: x509.Name, profile: Profile, serial: int, now: datetime) -> x509.Certificate:
        """``subject`` as the RU recorded it (``ra.profiles.build_subject``): the
        profile decides the DN, the subjectAltName and the other extensions."""
        builder = (x509.CertificateBuilder().subject_name(certificate_name(profile, subject))
                   .issuer_name(self.issuer_cert.subject)
                   .public_key(public_key).serial_number(serial).not_valid_before(now)
                   .not_valid_after(min(now + timedelta(days=profile.validity_days), self.not_after_limit))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        for ext, critical in extensions_of(profile, subject, self.cps_uri):
            builder = builder.add_extension(ext, critical=critical)
        builder = (builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                   .add_extension(self.aki, critical=False))
        for ext, critical in self.publication:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(self.issuer_key, self.hash)


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str | None  # x509.ReasonFlags value
    invalidity_date: datetime | None = None


def build_crl(issuer_cert: x509.Certificate, issuer_key, entries: list[RevokedEntry], number: int,
              now: datetime) -> x509.CertificateRevocationList:
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer_cert.subject).last_update(now)
               .next_update(now + CRL_VALIDITY)
               .add_extension(_aki(issuer_cert), critical=False)
               .add_extension(x509.CRLNumber(number), critical=False))
    for e in entries:
        rc = x509.RevokedCertificateBuilder().serial_number(e.serial).revocation_date(e.revoked_at)
        # RFC 5280 §5.3.1: the reasonCode "unspecified" SHOULD be absent.
        if e.reason and e.reason != x509.ReasonFlags.unspecified.value:
            rc = rc.add_extension(x509.CRLReason(x509.ReasonFlags(e.reason)), critical=False)
        if e.invalidity_date:
            rc = rc.add_extension(x509.InvalidityDate(e.invalidity_date.replace(tzinfo=None)), critical=False)
        builder = builder.add_revoked_certificate(rc.build())
    return builder.sign(issuer_key, signature_hash(issuer_key))
