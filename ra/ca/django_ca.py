"""Connector to a django-ca server (PyPI ``django-ca``) through its REST API
(django-ca 3.x, ``/django_ca/api/``): HTTP Basic auth over TLS, explicit timeouts
and retries, errors mapped to ``BackendUnavailable`` or a clear rejection.

Issuing: ``POST /ca/{ca}/sign/`` with the subject as OID/value pairs and the
profile's key usage and extended key usage passed explicitly (django-ca adds only
the CA's own extensions to API requests), then ``/ca/{ca}/orders/{slug}/`` until
the order is issued, then ``/ca/{ca}/certs/{serial}/``.

django-ca has no idempotency key, so the RU keeps it: the order slug is the
reference recorded with the request; a request whose earlier attempt may have
reached the CA without the RU learning the slug (a timeout, a crash) is first
looked for among the CA's certificates by its public key, and posted again only
when it is not there and the earlier attempt is older than ``grace`` seconds.
No grace period is long enough to be sure the CA is not still signing the earlier
attempt, so a request posted twice may come back signed twice: ``ra.ca.reconcile``
finds the second certificate by the key and revokes it as superseded.
Revoking: ``POST /ca/{ca}/certs/{serial}/revoke/`` with ``reason`` and
``compromised`` (RFC 5280 §5.3.1 reason, §5.3.2 invalidity date). CRLs:
``/django_ca/crl/{ca}/``. django-ca cannot release a hold, so holds are not offered.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from ra.ca.connector import Authority, CAConnector, CARejected, CheckReport, IssuedCertificate, Pending
from ra.ca.csr import spki_der
from ra.errors import BackendUnavailable, Conflict, NotFound
from ra.i18n import _l
from ra.profiles import Profile, alt_names, certificate_name

log = logging.getLogger("ra.ca.django_ca")

# X.520 attributes django-ca always encodes as PrintableString (RFC 5280 App. A).
PRINTABLE_ONLY = (NameOID.SERIAL_NUMBER, NameOID.COUNTRY_NAME, NameOID.DN_QUALIFIER)
KEY_USAGE_NAMES = {  # django_ca.constants.KEY_USAGE_NAMES
    "digital_signature": "digitalSignature", "content_commitment": "nonRepudiation",
    "key_encipherment": "keyEncipherment", "key_agreement": "keyAgreement",
}


class DjangoCAConnector(CAConnector):
    name = "django-ca"
    supports_hold = False

    def __init__(self, api_url: str, ca_serial: str, auth: tuple[str, str], *, verify: str | bool = True,
                 timeout: float = 10.0, retries: int = 2, grace: float = 120.0, poll_wait: float = 5.0):
        self.api_url = api_url.rstrip("/")
        self.base_url = self.api_url.rsplit("/api", 1)[0]  # …/django_ca
        self.ca_serial = ca_serial.replace(":", "").upper()
        self.timeout, self.retries, self.grace, self.poll_wait = timeout, retries, grace, poll_wait
        self._http = requests.Session()
        self._http.auth = auth
        self._verify = verify  # per request: a session-level value loses to REQUESTS_CA_BUNDLE
        self._http.headers["Accept"] = "application/json"
        self._posted: dict[str, tuple[str | None, datetime]] = {}  # request id → (slug, when), this process
        self._authorities: tuple[float, list[Authority]] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, config: dict) -> "DjangoCAConnector":
        """``https://[user:password@]host[:port]/django_ca/api?ca=SERIAL[&timeout=10][&retries=2]
        [&grace=120][&cafile=/path/ca.pem]``; credentials may come from RA_CA_USERNAME and
        RA_CA_PASSWORD instead of the URL."""
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.scheme != "https":
            raise ValueError("RA_CA: the django-ca API must be reached over https")
        if not query.get("ca"):
            raise ValueError("RA_CA: name the CA to use with ?ca=SERIAL")
        username = parts.username or config.get("CA_USERNAME") or os.environ.get("RA_CA_USERNAME")
        password = parts.password or config.get("CA_PASSWORD") or os.environ.get("RA_CA_PASSWORD")
        if not username or not password:
            raise ValueError("RA_CA: django-ca needs a user and password (in the URL or RA_CA_USERNAME/RA_CA_PASSWORD)")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        cafile = query.get("cafile") or config.get("CA_TLS_CAFILE") or os.environ.get("RA_CA_TLS_CAFILE")
        return cls(urlunsplit(("https", netloc, parts.path, "", "")), query["ca"], (username, password),
                   verify=cafile or True, timeout=float(query.get("timeout", 10)),
                   retries=int(query.get("retries", 2)), grace=float(query.get("grace", 120)),
                   poll_wait=float(query.get("poll", 5)))

    # -- HTTP ---------------------------------------------------------------------------------------

    def _call(self, method: str, url: str, *, json=None, retry: bool = True) -> requests.Response:
        """One request, retried (GETs and revocations only) on timeouts, refused
        connections and 5xx answers with a short backoff."""
        tries = 1 + (self.retries if retry else 0)
        failure: BackendUnavailable | None = None
        for attempt in range(tries):
            if attempt:
                time.sleep(0.2 * 2 ** (attempt - 1))
            try:
                resp = self._http.request(method, url, json=json, verify=self._verify,
                                          timeout=(min(self.timeout, 5.0), self.timeout))
            except requests.Timeout:
                failure = BackendUnavailable(_l("The CA did not answer in time. Nothing was lost; try again later."),
                                             code="ca_timeout")
            except requests.exceptions.SSLError:
                raise BackendUnavailable(_l("The CA's TLS certificate could not be verified."),
                                         code="ca_tls") from None
            except requests.ConnectionError:
                failure = BackendUnavailable(_l("The CA cannot be reached. Nothing was lost; try again later."),
                                             code="ca_unreachable")
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code >= 500:
                    failure = BackendUnavailable(_l("The CA reported an internal error. Nothing was lost; "
                                                    "try again later."), code="ca_error")
                elif resp.status_code in (401, 403):
                    raise BackendUnavailable(_l("The CA refused the RU's credentials."), code="ca_auth")
                elif resp.status_code == 404:
                    raise NotFound(_l("The CA does not know this object."))
                else:
                    resp.attempt = attempt  # for "already revoked" after a retried revocation
                    return resp
            log.warning("django-ca %s %s failed (%s), attempt %d of %d", method, url, failure.code, attempt + 1, tries)
        raise failure

    def _api(self, method: str, path: str, **kw) -> requests.Response:
        return self._call(method, f"{self.api_url}{path}", **kw)

    @staticmethod
    def _detail(resp: requests.Response) -> str:
        try:
            detail = resp.json().get("detail", "")
        except ValueError:
            detail = resp.text
        return str(detail)[:200]

    # -- issuing ----------------------------------------------------------------------------------

    def issue(self, csr, profile: Profile, request_id: str, *, subject=None, reference=None, resumed_after=None):
        if reference:
            return self._follow(reference, csr)
        slug, posted_at = self._posted.get(request_id, (None, None))
        if slug:
            return self._follow(slug, csr)
        earlier = posted_at or resumed_after
        if earlier is not None:
            found = self._find_by_key(csr)
            if found is not None:
                return found
            if datetime.now(timezone.utc) - earlier < timedelta(seconds=self.grace):
                return Pending(request_id, None, retry_after=self.grace)
        body = self._sign_body(csr, profile, subject or csr.subject)
        self._posted[request_id] = (None, datetime.now(timezone.utc))
        resp = self._api("POST", f"/ca/{self.ca_serial}/sign/", json=body, retry=False)
        if resp.status_code >= 400:
            raise CARejected(_l("The CA rejected the request: %(detail)s", detail=self._detail(resp)))
        slug = resp.json()["slug"]
        self._posted[request_id] = (slug, datetime.now(timezone.utc))
        return self._follow(slug, csr, wait=self.poll_wait)

    def _sign_body(self, csr, profile: Profile, subject: x509.Name) -> dict:
        """The profile's extensions in django-ca's API models. Its API takes key
        usage, EKU, subjectAltName and certificatePolicies, but no qcStatements
        (not in its ``ConfigurableExtensionModel``), and the CPS URI only when
        the profile names one (there is no CA-side default to fall back on)."""
        from cryptography.hazmat.primitives import serialization

        if profile.qc_statements:
            raise CARejected(_l("django-ca cannot add qcStatements; profile %(profile)s cannot be issued by "
                                "this CA.", profile=profile.name), code="ca_profile_unsupported")
        issuing = self.authorities()[0].certificate
        not_after = min(datetime.now(timezone.utc) + timedelta(days=profile.validity_days),
                        issuing.not_valid_after_utc - timedelta(minutes=1))
        ku = profile.key_usage
        usages = [name for attr, name in KEY_USAGE_NAMES.items() if getattr(ku, attr)]
        extensions = [{"type": "key_usage", "critical": True, "value": usages}]
        if profile.extended_key_usage:
            extensions.append({"type": "extended_key_usage", "critical": False,
                               "value": [oid.dotted_string for oid in profile.extended_key_usage]})
        names = alt_names(subject)
        if names:
            extensions.append({"type": "subject_alternative_name", "critical": False,
                               "value": [{"type": "email", "value": n.value} for n in names]})
        policies = profile.certificate_policies()
        if policies is not None:
            extensions.append({"type": "certificate_policies", "critical": False, "value": [
                {"policy_identifier": p.policy_identifier.dotted_string, "policy_qualifiers": p.policy_qualifiers}
                for p in policies]})
        subject = certificate_name(profile, subject)
        for a in subject:
            if a.oid in PRINTABLE_ONLY and a._type != _ASN1Type.PrintableString:
                raise CARejected(_l("django-ca writes %(attr)s as PrintableString, which cannot hold "
                                    "%(value)s; this CA cannot issue this subject.", attr=a.oid._name,
                                    value=a.value), code="ca_subject_unencodable")
        return {
            "csr": csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            "subject": [{"oid": a.oid.dotted_string, "value": a.value} for a in subject],
            "not_after": not_after.isoformat(),
            "extensions": extensions,
        }

    def _follow(self, slug: str, csr, wait: float = 0.0) -> IssuedCertificate | Pending:
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            order = self._api("GET", f"/ca/{self.ca_serial}/orders/{slug}/").json()
            if order.get("status") == "issued" and order.get("serial"):
                return self._certificate(order["serial"], slug)
            if order.get("status") == "failed":
                raise CARejected(_l("The CA could not sign the certificate: %(detail)s",
                                    detail=str(order.get("error") or "no reason given")[:200]), code="ca_failed")
            if time.monotonic() + delay > deadline:
                return Pending(slug, slug)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _certificate(self, serial: str, slug: str | None) -> IssuedCertificate:
        data = self._api("GET", f"/ca/{self.ca_serial}/certs/{serial}/").json()
        cert = x509.load_pem_x509_certificate(data["certificate"]["pem"].encode("ascii"))
        return IssuedCertificate(cert, tuple(self.chain()), f"django-ca:{self.ca_serial}", reference=slug)

    def _with_key(self, public_key, *, revoked: bool) -> list[x509.Certificate]:
        """The CA's certificates for ``public_key``, unrevoked and oldest first.
        django-ca's API filters by CA, expiry and revocation only, so this scans
        the listing."""
        wanted = spki_der(public_key)
        flags = "expired=true&revoked=true" if revoked else "expired=true"
        listing = self._api("GET", f"/ca/{self.ca_serial}/certs/?{flags}").json()
        found = []
        for item in listing:
            cert = x509.load_pem_x509_certificate(item["certificate"]["pem"].encode("ascii"))
            if spki_der(cert.public_key()) == wanted:
                found.append((bool(item.get("revoked")), cert.not_valid_before_utc, cert.serial_number, cert))
        return [cert for *_, cert in sorted(found, key=lambda f: f[:3])]

    def _find_by_key(self, csr) -> IssuedCertificate | None:
        """Recovery: the certificate of an earlier attempt, found by the CSR's key
        before anything is posted again. Should the CA have signed it twice, the
        oldest is kept; ``ra.ca.reconcile`` revokes the other."""
        found = self._with_key(csr.public_key(), revoked=True)
        if not found:
            return None
        log.info("django-ca: found the certificate of an earlier attempt (serial %X)", found[0].serial_number)
        return IssuedCertificate(found[0], tuple(self.chain()), f"django-ca:{self.ca_serial}")

    def certificates_for_key(self, public_key) -> list[x509.Certificate]:
        return self._with_key(public_key, revoked=False)

    # -- revocation --------------------------------------------------------------------------------

    def revoke(self, serial, reason=x509.ReasonFlags.unspecified, invalidity_date=None):
        if reason in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl):
            raise ValueError("django-ca cannot release holds; holds are not offered")
        body = {"reason": reason.value}
        if invalidity_date is not None:
            body["compromised"] = invalidity_date.isoformat()
        resp = self._api("POST", f"/ca/{self.ca_serial}/certs/{format(int(serial, 16), 'X')}/revoke/", json=body)
        if resp.status_code >= 400:
            if "already revoked" in self._detail(resp) and getattr(resp, "attempt", 0) > 0:
                return  # our own earlier try went through before its answer was lost
            if "already revoked" in self._detail(resp):
                raise Conflict(_l("This certificate is already revoked; revocation is final."),
                               code="already_revoked")
            raise CARejected(_l("The CA rejected the request: %(detail)s", detail=self._detail(resp)))

    # -- publication -------------------------------------------------------------------------------

    def authorities(self) -> list[Authority]:
        with self._lock:
            if self._authorities and time.monotonic() - self._authorities[0] < 3600:
                return self._authorities[1]
        cas = self._api("GET", "/ca/?expired=true").json()
        by_id = {c["id"]: c for c in cas}
        current = next((c for c in cas if c["certificate"]["serial"].replace(":", "") == self.ca_serial), None)
        if current is None:
            raise BackendUnavailable(_l("The CA named in RA_CA does not exist on the server."), code="ca_unknown")
        chain = []
        while current is not None:
            cert = x509.load_pem_x509_certificate(current["certificate"]["pem"].encode("ascii"))
            chain.append(Authority(current["certificate"]["serial"].replace(":", ""), cert, current["parent"] is None))
            current = by_id.get(current["parent"]) if current["parent"] is not None else None
        with self._lock:
            self._authorities = (time.monotonic(), chain)
        return chain

    def crl(self, name: str | None = None) -> x509.CertificateRevocationList:
        chain = self.authorities()
        target = next((a for a in chain if a.name == (name or self.ca_serial)), None)
        if target is None:
            raise NotFound()
        path = f"/crl/ca/{target.name}/" if target.is_root else f"/crl/{target.name}/"
        data = self._call("GET", f"{self.base_url}{path}").content
        try:
            return x509.load_der_x509_crl(data)
        except ValueError:
            return x509.load_pem_x509_crl(data)

    def check(self) -> CheckReport:
        chain = self.authorities()
        crl = self.crl()
        issuing = chain[0].certificate
        return CheckReport(self.name, True, [
            f"server: {self.api_url} (TLS verified)",
            f"issuing CA: {issuing.subject.rfc4514_string()} (serial {self.ca_serial}), valid until "
            f"{issuing.not_valid_after_utc:%Y-%m-%d}",
            f"root CA: {chain[-1].certificate.subject.rfc4514_string()}",
            f"CRL: {len(list(crl))} entries, next update {crl.next_update_utc:%Y-%m-%d %H:%M} UTC",
        ])
