"""Certificate issuance and revocation as the RU does it (DESIGN §3.3 step 6, §3.4).

Two steps, each its own unit of work, so a CSR is a committed row before it is an
action (DESIGN §4):

1. ``request_certificate`` checks the CSR (RFC 2986 signature, key per profile),
   decides the subject from the holder's data (the requester's subject is
   discarded) and records the request — or, for a request id already recorded,
   counts one more attempt.
2. ``submit_certificate_request`` sends it to the CA through the connector port and
   records the answer: the certificate after checking it is the one asked for, a
   pending reference, or a rejection (reported in the audit log, never stored as
   issued).

A CA whose ledger lives in this database (``CAConnector.local``: the embedded CA)
runs both in one unit of work (``request_and_submit``): its "action" is a row in
the same transaction, so a crash rolls back the request and the signing together
and the committed row before the action buys nothing.

Services only flush; ``ra.ca.jobs`` and the entry points commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Callable

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ra import audit
from ra.ca import csr as checks
from ra.ca.connector import CARejected, IssuedCertificate, in_english
from ra.ca.models import Certificate, CertificateRequest
from ra.ca.states import CertificateStatus, RequestStatus, certificate_states, request_states
from ra.errors import Conflict, InvalidTransition, NotFound, UserError
from ra.i18n import _l
from ra.profiles import Profile, SubjectData, build_subject

CREATED = "certificate_request.created"
_REQUESTS = CertificateRequest.__table__
_CERTIFICATES = Certificate.__table__
# Core statements built once (issuance is the hot path); the ORM objects the
# callers get are attached to the session without reading the rows back.
_INSERT_CERTIFICATE = sa.insert(_CERTIFICATES).returning(_CERTIFICATES.c.id)
# A request row as its object holds it (``_finish``): nobody else can have
# changed a row inserted in the same, uncommitted transaction.
_COLUMNS = tuple(c.key for c in _REQUESTS.columns if not c.primary_key)
_FINISH = (sa.update(_REQUESTS).where(_REQUESTS.c.id == sa.bindparam("pk"))
           .values({name: sa.bindparam("v_" + name) for name in _COLUMNS}))
_CLAIM = (sa.update(_REQUESTS).where(_REQUESTS.c.request_id == sa.bindparam("claimed"))
          .values(attempts=_REQUESTS.c.attempts))


def _profile(ports, name: str):
    try:
        return ports.profiles[name]
    except KeyError:
        raise UserError(_l("Unknown certificate profile %(name)s.", name=name), code="unknown_profile") from None


def _actor_id(actor):
    return getattr(actor, "id", None) if not isinstance(actor, str) else None


@lru_cache(maxsize=None)
def _insert_new(dialect: str, table: sa.Table, key: str):
    """``INSERT … ON CONFLICT (key) DO NOTHING RETURNING id``: no id back means the
    key was taken. A plain INSERT would need a savepoint around it, since a
    unique violation aborts the whole PostgreSQL transaction."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c.id)


@lru_cache(maxsize=None)
def _left_null(table: sa.Table) -> tuple[str, ...]:
    """The columns an INSERT leaves NULL when it omits them."""
    return tuple(c.key for c in table.columns
                 if c.nullable and not c.primary_key and c.default is None and c.server_default is None)


def _written(cls, row_id: int, values: dict):
    """The ORM object of a row just inserted with Core from ``values``."""
    return cls(id=row_id, **{**dict.fromkeys(_left_null(cls.__table__)), **values})


def _detached(obj):
    """``obj``, whose row is written, as an ORM object with every column loaded and
    no history, not read back from the database."""
    make_transient_to_detached(obj)
    return obj


def _attach(session, obj):
    """Makes a detached object persistent in the session, clean. An object still
    mapped to its id is left over from a rolled-back attempt (the id was
    reused): it goes."""
    stale = session.identity_map.get(session.identity_key(type(obj), obj.id))
    if stale is not None:
        session.expunge(stale)
    session.add(obj)
    return obj


def _finish(session, req: CertificateRequest) -> CertificateRequest:
    """Writes what became of a request handled outside the session
    (``request_and_submit``) in one UPDATE instead of a unit-of-work flush, and
    makes it persistent as written."""
    session.connection().execute(_FINISH, {"pk": req.id, **{"v_" + name: getattr(req, name) for name in _COLUMNS}})
    return _attach(session, _detached(req))


@dataclass
class Checked:
    """A request as recorded, with what was learnt checking it: the parsed CSR, the
    subject the RU decided and the profile, so a submission in the same unit of
    work need not parse them again; ``facts`` is what its audit record says."""
    request: CertificateRequest
    new: bool
    csr: x509.CertificateSigningRequest
    subject: x509.Name
    profile: Profile
    facts: dict


def request_certificate(session, actor, *, csr: bytes | str, profile: str, subject: SubjectData, request_id: str,
                        order_id: int | None = None, holder_id: int | None = None, ports) -> CertificateRequest:
    """Records a checked CSR for issuance; idempotent by ``request_id``."""
    return check_and_record(session, actor, csr=csr, profile=profile, subject=subject, request_id=request_id,
                            order_id=order_id, holder_id=holder_id, ports=ports).request


def check_and_record(session, actor, *, csr: bytes | str, profile: str, subject: SubjectData, request_id: str,
                     order_id: int | None = None, holder_id: int | None = None, ports,
                     one_unit: bool = False) -> Checked:
    """``request_certificate``, returning what it learnt. ``one_unit``: the caller
    (``request_and_submit``) writes a new request's audit record with its first
    state change, and the request stays out of the session until ``_finish``."""
    request_id = (request_id or "").strip()
    if not request_id or len(request_id) > 100:
        raise UserError(_l("A request id of 1 to 100 characters is required."), code="request_id")
    prof = _profile(ports, profile)
    parsed = checks.load_csr(csr)
    key_type = checks.check_csr(parsed, prof)
    built = build_subject(prof, subject)
    text = built.rfc4514_string()  # the same for its ``encodable`` form: types are not printed
    now = ports.clock.now()
    values = dict(
        request_id=request_id, connector=ports.ca.name, profile=prof.name, order_id=order_id, holder_id=holder_id,
        csr_pem=parsed.public_bytes(serialization.Encoding.PEM).decode("ascii"), key_type=key_type,
        public_key_sha256=checks.public_key_sha256(parsed.public_key()), subject=text,
        status=RequestStatus.PENDING, attempts=1, last_attempt_at=now, created_by_id=_actor_id(actor),
        created_at=now)
    facts = {"request_id": request_id, "profile": prof.name, "key_type": key_type, "subject": text,
             "order_id": order_id, "holder_id": holder_id, "connector": values["connector"]}
    # The caller's pending rows first (the order this request names, say): the
    # Core statements below do not autoflush.
    session.flush()
    # Insert first and read only on conflict: the write takes the lock before any
    # read (PostgreSQL: the unique index; SQLite: the database), so a concurrent
    # twin waits here and then finds this row.
    conn = session.connection()
    new_id = conn.execute(_insert_new(conn.dialect.name, _REQUESTS, "request_id"), values).scalar()
    if new_id is None:
        req = _another_attempt(session, request_id, values, now)
        return Checked(req, False, parsed, checks.subject_from_text(req.subject), prof, facts)
    req = _written(CertificateRequest, new_id, values)
    if not one_unit:
        _attach(session, _detached(req))
        audit.record(session, actor, CREATED, req, facts)
    # The subject as a retry reads it back from the record, so that every attempt
    # asks for the same certificate.
    return Checked(req, True, parsed, checks.as_recorded(built), prof, facts)


def _another_attempt(session, request_id: str, new: dict, now: datetime) -> CertificateRequest:
    req = by_request_id(session, request_id)
    if req.public_key_sha256 != new["public_key_sha256"] or req.profile != new["profile"]:
        raise Conflict(_l("This request id was already used for another key or profile."), code="request_id_reused")
    return _count(session, req, now)


def count_attempt(session, request_id: str, *, ports) -> CertificateRequest:
    """Counts one more attempt at a recorded request; the caller commits before
    submitting, so the next attempt knows this one may have reached the CA."""
    _claim(session, request_id)
    return _count(session, by_request_id(session, request_id), ports.clock.now())


def _claim(session, request_id: str) -> None:
    """Locks the request before reading it: PostgreSQL locks the row, SQLite takes
    the write lock; a concurrent twin waits and then sees the outcome."""
    session.connection().execute(_CLAIM, {"claimed": request_id})


def _count(session, req: CertificateRequest, now: datetime) -> CertificateRequest:
    if req.status == RequestStatus.PENDING:
        req.attempts += 1
        req.previous_attempt_at, req.last_attempt_at = req.last_attempt_at, now
        session.flush()
    return req


def by_request_id(session, request_id: str) -> CertificateRequest:
    req = session.execute(sa.select(CertificateRequest).where(CertificateRequest.request_id == request_id)
                          .execution_options(populate_existing=True)).scalar_one_or_none()
    if req is None:
        raise NotFound(_l("No certificate request with this id."))
    return req


def submit_certificate_request(session, actor, request_id: str, *, ports) -> CertificateRequest:
    """Sends a recorded request to the CA (or asks about it again) and records the
    answer. The returned request is ``issued`` (with its ``certificate``),
    ``pending``, or ``rejected`` (with ``error``); the caller commits either way so
    a rejection stays on record. ``BackendUnavailable`` leaves it pending."""
    _claim(session, request_id)
    req = by_request_id(session, request_id)
    if req.status != RequestStatus.PENDING:
        return req
    prof = _profile(ports, req.profile)
    csr = x509.load_pem_x509_csr(req.csr_pem.encode("ascii"))
    return _submit(session, actor, req, csr, checks.subject_from_text(req.subject), prof, ports)


def request_and_submit(session, actor, *, csr: bytes | str, profile: str, subject: SubjectData, request_id: str,
                       order_id: int | None = None, holder_id: int | None = None, ports,
                       recorded: Callable[[], None] = lambda: None) -> CertificateRequest:
    """Both steps in ONE unit of work, for a CA whose own ledger is written in this
    database and transaction (``CAConnector.local``): the request row and the
    CA's record of what it signed commit together or not at all, so nothing can
    be signed that the RU has not recorded. ``recorded`` is called once the
    request is checked and recorded (the CA step follows).

    CA/B Forum BR §5.4.1 wants the request and the issuance (or rejection) on
    record. Made in one transaction, one audit record carries both: the state
    change's, with the request's facts under ``request``. A request still
    pending at the end gets its own ``certificate_request.created`` record."""
    checked = check_and_record(session, actor, csr=csr, profile=profile, subject=subject, request_id=request_id,
                               order_id=order_id, holder_id=holder_id, ports=ports, one_unit=True)
    recorded()
    if not checked.new:  # recorded earlier: claim it and carry on as a second submission would
        return submit_certificate_request(session, actor, request_id, ports=ports)
    req = _submit(session, actor, checked.request, checked.csr, checked.subject, checked.profile, ports,
                  request_facts=checked.facts)
    if req.status == RequestStatus.PENDING:
        audit.record(session, actor, CREATED, req, checked.facts)
    return _finish(session, req)


def _submit(session, actor, req: CertificateRequest, csr, subject: x509.Name, prof: Profile, ports, *,
            request_facts: dict | None = None) -> CertificateRequest:
    """``request_facts``: the request's own audit record was not written; the
    record of its state change carries them."""
    more = {"request": request_facts} if request_facts else {}
    resumed_after = req.previous_attempt_at if req.attempts > 1 else None
    try:
        result = ports.ca.issue(csr, prof, req.request_id, subject=subject, reference=req.ca_reference,
                                resumed_after=resumed_after)
    except CARejected as refusal:  # the CA's final word: keep it on record
        return _refused(session, actor, req, refusal, ports, more)
    if not isinstance(result, IssuedCertificate):
        if result.reference and result.reference != req.ca_reference:
            req.ca_reference = result.reference
            session.flush()
        return req
    problems = checks.problems_with_issued(result.certificate, csr, subject, prof, result.chain[0])
    if problems:
        return _reject(session, actor, req, result, problems, ports, more)
    return _record(session, actor, req, result, ports, more)


@lru_cache(maxsize=16)
def _issuer_facts(issuing: x509.Certificate) -> tuple[str, str]:
    """An issuing CA's name (RFC 4514) and key identifier, read once per CA."""
    return issuing.subject.rfc4514_string(), checks.key_identifier(issuing)


def _record(session, actor, req: CertificateRequest, result: IssuedCertificate, ports,
            more: dict) -> CertificateRequest:
    cert = result.certificate
    serial = checks.serial_hex(cert.serial_number)
    # problems_with_issued() found the certificate signed by chain[0] under its
    # name, and with the subject the RU decided: the issuer's text is known
    # already. The subject is the certificate's DN, which is the recorded one
    # less the e-mail the profile moved into the subjectAltName.
    issuer, issuer_key_id = _issuer_facts(result.chain[0])
    not_after = cert.not_valid_after_utc
    now = ports.clock.now()
    values = dict(
        request_pk=req.id, serial=serial, issuer_key_id=issuer_key_id, ca_name=result.ca_name, issuer=issuer,
        subject=cert.subject.rfc4514_string(), not_before=cert.not_valid_before_utc, not_after=not_after, pem=result.pem,
        profile=req.profile, order_id=req.order_id, holder_id=req.holder_id,
        public_key_sha256=req.public_key_sha256, status=CertificateStatus.VALID, created_at=now)
    row_id = session.connection().execute(_INSERT_CERTIFICATE, values).scalar_one()
    record = _attach(session, _detached(_written(Certificate, row_id, values)))
    set_committed_value(req, "certificate", record)
    set_committed_value(record, "request", req)
    req.ca_reference = result.reference or req.ca_reference
    req.completed_at = now
    request_states.transition(session, req, RequestStatus.ISSUED, actor=actor, details={
        "serial": serial, "issuer": issuer, "issuer_key_id": issuer_key_id,
        "ca": result.ca_name, "not_after": not_after.isoformat(), "attempts": req.attempts, **more})
    return req


def _reject(session, actor, req, result: IssuedCertificate, problems: list[str], ports,
            more: dict) -> CertificateRequest:
    """RFC 5280 gives the CA the last word on what it signs, not on what the RU
    accepts: a certificate that is not the one asked for is reported, not stored."""
    req.error = "; ".join(problems)[:500]
    req.ca_reference = result.reference or req.ca_reference
    req.completed_at = ports.clock.now()
    request_states.transition(session, req, RequestStatus.REJECTED, actor=actor, details={
        "problems": problems, "returned_serial": checks.serial_hex(result.certificate.serial_number),
        "returned_by": result.ca_name, "certificate_pem": result.pem, **more})
    session.flush()
    return req


def _refused(session, actor, req, refusal: CARejected, ports, more: dict) -> CertificateRequest:
    req.error = ("the CA refused it: " + in_english(refusal))[:500]
    req.completed_at = ports.clock.now()
    request_states.transition(session, req, RequestStatus.REJECTED, actor=actor,
                              details={"problems": [in_english(refusal)], "code": refusal.code, **more})
    session.flush()
    return req


def rejection_error(req: CertificateRequest) -> CARejected:
    return CARejected(_l("No certificate was issued: %(reason)s. The request is recorded as rejected; "
                         "a new request is needed.", reason=req.error or "?"), code="ca_rejected")


def certificate_by_serial(session, serial: str) -> Certificate:
    try:
        normal = checks.serial_hex(int(serial.replace(":", ""), 16))
    except ValueError:
        raise NotFound() from None
    cert = session.execute(sa.select(Certificate).where(Certificate.serial == normal)
                           .order_by(Certificate.id.desc()).limit(1)).scalar_one_or_none()
    if cert is None:
        raise NotFound(_l("No certificate with this serial number."))
    return cert


def revoke_certificate(session, actor, cert: Certificate, reason: x509.ReasonFlags, *,
                       invalidity_date: datetime | None = None, ports) -> Certificate:
    """RFC 5280 §5.3.1. The CA is asked first; the record changes only if it agreed."""
    if reason in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl):
        raise UserError(_l("Use suspension for a hold."), code="hold_is_suspension")
    if not certificate_states.can(cert, CertificateStatus.REVOKED):
        raise InvalidTransition()
    ports.ca.revoke(cert.serial, reason, invalidity_date)
    cert.revoked_at, cert.revocation_reason, cert.invalidity_date = ports.clock.now(), reason.value, invalidity_date
    certificate_states.transition(session, cert, CertificateStatus.REVOKED, actor=actor, details={
        "serial": cert.serial, "reason": reason.value,
        "invalidity_date": invalidity_date.isoformat() if invalidity_date else None})
    return cert


def suspend_certificate(session, actor, cert: Certificate, *, ports) -> Certificate:
    if not certificate_states.can(cert, CertificateStatus.SUSPENDED):
        raise InvalidTransition()
    ports.ca.suspend(cert.serial)
    cert.revocation_reason = x509.ReasonFlags.certificate_hold.value
    certificate_states.transition(session, cert, CertificateStatus.SUSPENDED, actor=actor,
                                  details={"serial": cert.serial})
    return cert


def release_certificate(session, actor, cert: Certificate, *, ports) -> Certificate:
    if not certificate_states.can(cert, CertificateStatus.VALID):
        raise InvalidTransition()
    ports.ca.release(cert.serial)
    cert.revocation_reason = None
    certificate_states.transition(session, cert, CertificateStatus.VALID, actor=actor,
                                  details={"serial": cert.serial})
    return cert
