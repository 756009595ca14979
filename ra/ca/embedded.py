"""The embedded State CA (DESIGN §5): a root and an issuing CA generated on first
use, keys sealed at rest (``ra.ca.keys``), certificates built by ``ra.ca.authority``.

It writes its ledger in the session of the unit of work that calls it, so the
CA's record and the RU's record of an issuance commit or roll back together. Its
idempotency is the ledger's unique ``request_id``: a second request with the same
id — a retry, a restart, or a concurrent twin that lost the race on the unique
index — gets the certificate that was signed the first time.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ra import audit
from ra.ca import authority as build
from ra.ca.connector import Authority, CAConnector, CARejected, CheckReport, IssuedCertificate
from ra.ca.csr import key_identifier, public_key_sha256, serial_hex
from ra.ca.keys import DEFAULT_ALGORITHMS, CAKeyUnavailable, generate, rewrap, seal, unseal
from ra.ca.models import EmbeddedAuthority, EmbeddedIssued
from ra.errors import Conflict, NotFound
from ra.i18n import _l
from ra.profiles import Profile
from ra.revocation import crl_der

ROOT = "root-g1"
ISSUING = "issuing-g1"
HOLD = x509.ReasonFlags.certificate_hold.value

_AUTHORITIES = EmbeddedAuthority.__table__
_LEDGER = EmbeddedIssued.__table__
# Asked on every issuance (another process may have rotated the issuing CA):
# built once, run as Core.
_CURRENT_ISSUING = (sa.select(_AUTHORITIES.c.id, _AUTHORITIES.c.key_id)
                    .where(_AUTHORITIES.c.active.is_(True), _AUTHORITIES.c.is_root.is_(False))
                    .order_by(_AUTHORITIES.c.id.desc()).limit(1))


@lru_cache(maxsize=None)
def _ledger_insert(dialect: str):
    """A ledger row unless its request id (or its serial) is taken: no id back then."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_LEDGER).on_conflict_do_nothing().returning(_LEDGER.c.id)


@dataclass(frozen=True)
class _Loaded:
    """An issuing CA with its key opened, kept in memory for the process."""
    id: int
    name: str
    key_id: str
    template: build.EndEntityTemplate
    chain: tuple[x509.Certificate, ...]


def _pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class EmbeddedCA(CAConnector):
    name = "embedded"
    supports_hold = True
    local = True  # its ledger is written in the caller's session

    def __init__(self, session_provider, *, base_url: str, wrapping_key: bytes, clock,
                 key_algorithms: tuple[str, str] | None = None, legacy_wrapping_key: bytes | None = None):
        self._session = session_provider
        self.urls = build.Urls(base_url.rstrip("/"))
        self._wrapping = wrapping_key
        self._legacy_wrapping = legacy_wrapping_key
        self.clock = clock
        self.algorithms = tuple(key_algorithms or DEFAULT_ALGORITHMS)
        self._loaded: dict[int, _Loaded] = {}
        self._lock = threading.Lock()

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    # -- setting up -------------------------------------------------------------------------------

    def initialise(self, session=None, actor="system") -> tuple[bool, list[EmbeddedAuthority]]:
        """Creates the root and issuing CA unless they exist (``flask ca init``)."""
        s = session or self._session()
        existing = s.scalars(sa.select(EmbeddedAuthority).order_by(EmbeddedAuthority.id)).all()
        if existing:
            return False, list(existing)
        now = self._now()
        root_alg, issuing_alg = self.algorithms
        root_key = generate(root_alg)
        root_cert = build.build_root(root_key, build.ca_name("State Test Root CA"), now)
        issuing_key = generate(issuing_alg)
        issuing_cert = build.build_issuing(issuing_key, build.ca_name("State Test Issuing CA"), root_key, root_cert,
                                           ROOT, self.urls, now)
        root = self._row(ROOT, root_cert, root_key, root_alg, is_root=True)
        issuing = self._row(ISSUING, issuing_cert, issuing_key, issuing_alg, is_root=False)
        try:
            with s.begin_nested():
                s.add(root)
                s.flush()
                issuing.parent_id = root.id
                s.add(issuing)
        except IntegrityError:  # another process created them first
            return False, list(s.scalars(sa.select(EmbeddedAuthority).order_by(EmbeddedAuthority.id)).all())
        audit.record(s, actor, "ca.initialised", root, {
            "root": {"name": ROOT, "subject": root.subject, "key_id": root.key_id, "algorithm": root_alg},
            "issuing": {"name": ISSUING, "subject": issuing.subject, "key_id": issuing.key_id,
                        "algorithm": issuing_alg}})
        return True, [root, issuing]

    def _row(self, name, cert, key, algorithm, *, is_root) -> EmbeddedAuthority:
        return EmbeddedAuthority(
            name=name, is_root=is_root, active=True, subject=cert.subject.rfc4514_string(),
            key_id=key_identifier(cert), key_algorithm=algorithm, certificate_pem=_pem(cert),
            encrypted_key=seal(self._wrapping, key, name), not_after=cert.not_valid_after_utc,
            crl_number=0, crl_stale=True)

    def _current_issuing(self, s) -> _Loaded:
        row = s.connection().execute(_CURRENT_ISSUING).first()
        if row is None:
            self.initialise(s)
            row = s.connection().execute(_CURRENT_ISSUING).first()
        cached = self._loaded.get(row.id)
        if cached is not None and cached.key_id == row.key_id:
            return cached
        return self._load(s.get(EmbeddedAuthority, row.id))

    def _load(self, row: EmbeddedAuthority) -> _Loaded:
        with self._lock:
            try:
                key = unseal(self._wrapping, row.encrypted_key, row.name)
            except CAKeyUnavailable:
                # An instance from before the CA had a wrapping key of its own.
                if self._legacy_wrapping is None or not rewrap(self._session(), self._legacy_wrapping, self._wrapping):
                    raise
                audit.record(self._session(), "system", "ca.keys_rewrapped", row, {"to": "instance ca_key"})
                key = unseal(self._wrapping, row.encrypted_key, row.name)
            cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
            chain = [cert]
            parent_id = row.parent_id
            s = self._session()
            while parent_id is not None:
                parent = s.get(EmbeddedAuthority, parent_id)
                chain.append(x509.load_pem_x509_certificate(parent.certificate_pem.encode()))
                parent_id = parent.parent_id
            loaded = _Loaded(row.id, row.name, row.key_id, build.EndEntityTemplate(cert, key, row.name, self.urls),
                             tuple(chain))
            self._loaded[row.id] = loaded
            return loaded

    # -- issuing ----------------------------------------------------------------------------------

    def issue(self, csr, profile: Profile, request_id: str, *, subject=None, reference=None, resumed_after=None):
        s = self._session()
        public_key = csr.public_key()
        fingerprint = public_key_sha256(public_key)
        if reference is not None or resumed_after is not None:  # an earlier attempt may have signed it
            earlier = self._by_request(s, request_id)
            if earlier is not None:
                return self._answer(s, earlier, fingerprint)
        ca = self._current_issuing(s)
        conn = s.connection()
        for _ in range(3):
            serial = x509.random_serial_number()  # 159 random bits: positive, ≤ 20 octets
            cert = ca.template.sign(public_key, subject or csr.subject, profile, serial, self._now())
            serial_text = serial_hex(serial)
            # The ledger's unique request_id decides, without a savepoint: a
            # concurrent twin waits on it and then finds the first one's row.
            stored = conn.execute(_ledger_insert(conn.dialect.name), {
                "authority_id": ca.id, "serial": serial_text, "request_id": request_id,
                "public_key_sha256": fingerprint, "not_after": cert.not_valid_after_utc,
                "certificate_der": cert.public_bytes(serialization.Encoding.DER)}).scalar()
            if stored is not None:
                return IssuedCertificate(cert, ca.chain, f"embedded:{ca.name}", reference=serial_text)
            earlier = self._by_request(s, request_id)
            if earlier is not None:  # a concurrent twin signed first: its certificate is the answer
                return self._answer(s, earlier, fingerprint)
            # a serial collision: this certificate never leaves; draw again
        raise CARejected(_l("The CA could not allocate a serial number."), code="ca_serial")

    def _by_request(self, s, request_id: str) -> EmbeddedIssued | None:
        return s.execute(sa.select(EmbeddedIssued).where(EmbeddedIssued.request_id == request_id)).scalar_one_or_none()

    def _answer(self, s, row: EmbeddedIssued, fingerprint: str) -> IssuedCertificate:
        if row.public_key_sha256 != fingerprint:
            raise CARejected(_l("This request id was already used for another key."), code="request_id_reused")
        ca = self._loaded.get(row.authority_id) or self._load(s.get(EmbeddedAuthority, row.authority_id))
        return IssuedCertificate(x509.load_der_x509_certificate(row.certificate_der), ca.chain,
                                 f"embedded:{ca.name}", reference=row.serial)

    # -- revocation and hold (RFC 5280 §5.3.1) ----------------------------------------------------

    def _issued(self, s, serial: str) -> EmbeddedIssued:
        row = s.execute(sa.select(EmbeddedIssued).where(EmbeddedIssued.serial == serial_hex(int(serial, 16)))
                        .order_by(EmbeddedIssued.id.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            raise NotFound(_l("The CA has no certificate with this serial number."))
        return row

    def _stale(self, s, authority_id: int) -> None:
        s.execute(sa.update(EmbeddedAuthority).where(EmbeddedAuthority.id == authority_id).values(crl_stale=True))

    def revoke(self, serial, reason=x509.ReasonFlags.unspecified, invalidity_date=None):
        if reason in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl):
            raise ValueError("use suspend() and release() for holds")
        s = self._session()
        row = self._issued(s, serial)
        if row.revoked_at is not None and row.reason != HOLD:
            raise Conflict(_l("This certificate is already revoked; revocation is final."), code="already_revoked")
        row.revoked_at = self._now()
        row.reason = reason.value
        row.invalidity_date = invalidity_date
        row.crl_entry = crl_der.entry_of(row.serial, row.revoked_at, row.reason, invalidity_date)
        self._stale(s, row.authority_id)

    def suspend(self, serial):
        s = self._session()
        row = self._issued(s, serial)
        if row.revoked_at is not None:
            if row.reason == HOLD:
                return
            raise Conflict(_l("This certificate is already revoked; revocation is final."), code="already_revoked")
        row.revoked_at, row.reason = self._now(), HOLD
        row.crl_entry = crl_der.entry_of(row.serial, row.revoked_at, HOLD)
        self._stale(s, row.authority_id)

    def release(self, serial):
        s = self._session()
        row = self._issued(s, serial)
        if row.reason != HOLD:
            raise Conflict(_l("This certificate is not on hold."), code="not_on_hold")
        # A full CRL simply stops listing it; removeFromCRL is for delta CRLs (RFC 5280 §5.3.1).
        row.revoked_at = row.reason = row.invalidity_date = row.crl_entry = None
        self._stale(s, row.authority_id)

    # -- publication ------------------------------------------------------------------------------

    def authorities(self) -> list[Authority]:
        s = self._session()
        self._current_issuing(s)  # creates the CA on first use
        rows = s.scalars(sa.select(EmbeddedAuthority).order_by(EmbeddedAuthority.is_root,
                                                                 EmbeddedAuthority.id.desc())).all()
        return [Authority(r.name, x509.load_pem_x509_certificate(r.certificate_pem.encode()), r.is_root)
                for r in rows]

    def chain(self) -> list[x509.Certificate]:
        return list(self._current_issuing(self._session()).chain)

    def crl(self, name: str | None = None) -> x509.CertificateRevocationList:
        """The CA's current CRL: kept, and rebuilt with the next CRL number when a
        revocation made it stale or half its validity has passed."""
        s = self._session()
        row = (s.get(EmbeddedAuthority, self._current_issuing(s).id) if name is None else
               s.execute(sa.select(EmbeddedAuthority).where(EmbeddedAuthority.name == name)).scalar_one_or_none())
        if row is None:
            raise NotFound()
        now = self._now()
        if (row.crl_der and not row.crl_stale and row.crl_this_update
                and now < row.crl_this_update + build.CRL_VALIDITY / 2):
            return x509.load_der_x509_crl(row.crl_der)
        number = s.execute(sa.update(EmbeddedAuthority).where(EmbeddedAuthority.id == row.id)
                           .values(crl_number=EmbeddedAuthority.crl_number + 1)
                           .returning(EmbeddedAuthority.crl_number)).scalar_one()
        s.refresh(row)
        entries = self._revoked_entries(s, row)
        loaded = self._loaded.get(row.id) or self._load(row)
        # Assembled from the entries cached per revocation (ra.revocation.crl_der).
        row.crl_der = crl_der.signed_crl(loaded.chain[0], loaded.template.issuer_key, entries, crl_number=number,
                                         this_update=now, next_update=now + build.CRL_VALIDITY)
        crl = x509.load_der_x509_crl(row.crl_der)
        row.crl_this_update, row.crl_next_update, row.crl_stale = now, crl.next_update_utc, False
        audit.record(s, "system", "ca.crl_generated", row, {"ca": row.name, "crl_number": number,
                                                              "entries": len(entries)})
        return crl

    def _revoked_entries(self, s, row: EmbeddedAuthority) -> list[bytes]:
        """The revokedCertificates entries, DER: as cached when each was revoked or
        held; encoded now only for rows revoked before the cache existed."""
        if row.is_root:
            children = s.scalars(sa.select(EmbeddedAuthority).where(EmbeddedAuthority.parent_id == row.id,
                                                                    EmbeddedAuthority.revoked_at.is_not(None)))
            return [crl_der.encode_entry(x509.load_pem_x509_certificate(c.certificate_pem.encode()).serial_number,
                                         c.revoked_at, c.revocation_reason) for c in children]
        s.flush()
        conn = s.connection()  # Core rows: 100,000 entries are read on every revocation
        cached = [r[0] for r in conn.execute(sa.select(EmbeddedIssued.crl_entry).where(
            EmbeddedIssued.authority_id == row.id, EmbeddedIssued.crl_entry.is_not(None)))]
        older = conn.execute(sa.select(EmbeddedIssued.serial, EmbeddedIssued.revoked_at, EmbeddedIssued.reason,
                                       EmbeddedIssued.invalidity_date)
                             .where(EmbeddedIssued.authority_id == row.id, EmbeddedIssued.revoked_at.is_not(None),
                                    EmbeddedIssued.crl_entry.is_(None)))
        return [*cached, *(crl_der.entry_of(r.serial, r.revoked_at, r.reason, r.invalidity_date) for r in older)]

    def ocsp_responder(self):
        """The delegated OCSP responder of the current issuing CA (RFC 6960
        §4.2.2.2), issued and renewed by ``ra.revocation.responder``."""
        from ra.revocation.responder import current_responder

        s = self._session()
        ca = self._current_issuing(s)
        return current_responder(s, ca.id, ca.template.issuer_key, ca.chain[0], self._wrapping, self._now())

    def check(self) -> CheckReport:
        s = self._session()
        ca = self._current_issuing(s)
        issuing, root = ca.chain[0], ca.chain[-1]
        count = s.scalar(sa.select(sa.func.count()).select_from(EmbeddedIssued)
                         .where(EmbeddedIssued.authority_id == ca.id))
        return CheckReport(self.name, True, [
            f"issuing CA: {issuing.subject.rfc4514_string()} ({ca.name}), valid until "
            f"{issuing.not_valid_after_utc:%Y-%m-%d}, key opened",
            f"root CA: {root.subject.rfc4514_string()}, valid until {root.not_valid_after_utc:%Y-%m-%d}",
            f"certificates issued by {ca.name}: {count}",
            f"CRL: {self.urls.crl(ca.name)}",
        ])
