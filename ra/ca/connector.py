"""The CA connector port (DESIGN §4): how the RU talks to a CA it does not control.

The RU never holds the State CA's keys: it sends CSRs and revocation requests and
records what comes back. A connector is chosen by a config string (``RA_CA``):

- ``embedded`` — the embedded State CA (``ra.ca.embedded``), the default;
- ``django-ca+https://host/django_ca/api?ca=SERIAL`` — a django-ca server
  (``ra.ca.django_ca``).

``issue`` is idempotent by ``request_id``: asking again with the same id returns
the same certificate, never a second one, through retries, timeouts and restarts.
Revocation reasons are RFC 5280 §5.3.1 ``x509.ReasonFlags``.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ra.errors import RAError, UserError
from ra.i18n import _l
from ra.profiles import Profile


class CARejected(UserError):
    """The CA refused the request, or answered with something the RU cannot accept."""
    status = 422
    code = "ca_rejected"
    default_message = _l("The CA rejected the request.")


class HoldNotSupported(UserError):
    status = 409
    code = "hold_not_supported"
    default_message = _l("This CA cannot put certificates on hold or release them.")


def in_english(error: RAError) -> str:
    """The error's English text (its msgid with parameters) for records kept for
    years, whatever the reader's language; works outside a request."""
    message = error.message
    msgid = getattr(message, "_args", (None,))[0] if not isinstance(message, str) else message
    if not isinstance(msgid, str):
        return error.code
    params = {**getattr(message, "_kwargs", {}), **error.params}
    try:
        return msgid % params if params else msgid
    except (KeyError, TypeError, ValueError):
        return msgid


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # issuing CA first, root last
    ca_name: str                         # which CA (and generation) signed it
    reference: str | None = None

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class Pending:
    """Accepted, not ready: ask again with ``poll`` (or ``issue``) later."""
    request_id: str
    reference: str | None = None
    retry_after: float = 2.0


@dataclass(frozen=True)
class Authority:
    """A CA certificate the RU publishes: ``name`` is its file name under /ca/."""
    name: str
    certificate: x509.Certificate
    is_root: bool = False


@dataclass
class CheckReport:
    connector: str
    ok: bool
    lines: list[str] = field(default_factory=list)


class CAConnector(abc.ABC):
    name: str = "ca"
    supports_hold: bool = False
    # True when the CA keeps its ledger in the caller's database session, so that
    # what it signs commits or rolls back with the RU's records (the embedded CA).
    # Such a CA is asked in the same unit of work that records the request; a
    # remote CA only after the request is committed (DESIGN §4).
    local: bool = False

    @abc.abstractmethod
    def issue(self, csr: x509.CertificateSigningRequest, profile: Profile, request_id: str, *,
              subject: x509.Name | None = None, reference: str | None = None,
              resumed_after: datetime | None = None) -> IssuedCertificate | Pending:
        """Sign ``csr`` under ``profile`` with ``subject`` (default: the CSR's).
        ``reference`` is the CA's handle from an earlier attempt; ``resumed_after``
        says an earlier attempt began then and may have reached the CA."""

    def poll(self, request_id: str, *, csr: x509.CertificateSigningRequest, profile: Profile,
             subject: x509.Name | None = None, reference: str | None = None) -> IssuedCertificate | Pending:
        return self.issue(csr, profile, request_id, subject=subject, reference=reference)

    def certificates_for_key(self, public_key) -> list[x509.Certificate]:
        """The unrevoked certificates this CA holds for ``public_key``, to find a
        request it signed twice (``ra.ca.reconcile``). A local CA signs in the
        RU's own transaction, once per request: it has none to report."""
        return []

    @abc.abstractmethod
    def revoke(self, serial: str, reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
               invalidity_date: datetime | None = None) -> None:
        """Revoke for good (RFC 5280 §5.3.1); a certificate on hold may be revoked."""

    def suspend(self, serial: str) -> None:
        """Put on hold (certificateHold)."""
        raise HoldNotSupported()

    def release(self, serial: str) -> None:
        """Release a hold (removeFromCRL)."""
        raise HoldNotSupported()

    @abc.abstractmethod
    def authorities(self) -> list[Authority]:
        """The CA certificates, issuing CA first and root last."""

    def chain(self) -> list[x509.Certificate]:
        return [a.certificate for a in self.authorities()]

    @abc.abstractmethod
    def crl(self, name: str | None = None) -> x509.CertificateRevocationList:
        """The current CRL of the named CA (default: the issuing CA)."""

    @abc.abstractmethod
    def check(self) -> CheckReport:
        """Connect and report, for ``flask ca check``."""


def build_connector(config: dict, ports) -> CAConnector:
    """Picks the connector named by ``config["CA"]``. Construction is cheap: keys
    are loaded and servers contacted on first use."""
    spec = str(config.get("CA") or "embedded")
    if spec == "embedded":
        from ra.ca.embedded import EmbeddedCA
        from ra.ca.keys import legacy_wrapping_key, wrapping_key
        from ra.extensions import db

        return EmbeddedCA(lambda: db.session, base_url=config.get("PKI_URL") or config["BASE_URL"],
                          wrapping_key=wrapping_key(config), clock=ports.clock,
                          key_algorithms=config.get("CA_EMBEDDED_KEYS"),
                          legacy_wrapping_key=legacy_wrapping_key(config))
    if spec.startswith("django-ca+"):
        from ra.ca.django_ca import DjangoCAConnector

        return DjangoCAConnector.from_url(spec[len("django-ca+"):], config)
    raise ValueError(f"RA_CA: unknown CA connector {spec!r}")
