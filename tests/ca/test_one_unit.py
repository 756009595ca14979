"""The embedded CA keeps its ledger in the RU's database, so an issuance through it
is one unit of work: the request, the CA's ledger row, the certificate and one
audit record commit together or not at all. A remote CA still gets the request
committed before it is asked (DESIGN §4)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from cryptography import x509
from flask_babel import force_locale

from ra.audit.models import AuditRecord
from ra.audit.service import verify
from ra.ca import jobs, service
from ra.ca.connector import CARejected
from ra.ca.csr import as_recorded, encodable, subject_from_text
from ra.ca.django_ca import DjangoCAConnector
from ra.ca.embedded import EmbeddedCA
from ra.ca.models import Certificate, CertificateRequest, EmbeddedIssued
from ra.ca.states import RequestStatus
from ra.extensions import db
from ra.profiles import DEFAULT_PROFILES, build_subject, certificate_name
from tests.ca.conftest import CYRILLIC_HOLDER, LATIN_HOLDER, make_csr, new_key


class Crash(BaseException):
    """The process dying: not an error anything may catch and carry on from."""


def _issue(ports, csr, request_id):
    return jobs.issue_certificate(db.session, "officer", csr=csr, profile="signing", subject=CYRILLIC_HOLDER,
                                  request_id=request_id, ports=ports)


def _count(model, **where) -> int:
    stmt = sa.select(sa.func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return db.session.scalar(stmt)


def _trail(req_id: int) -> list[AuditRecord]:
    return db.session.scalars(sa.select(AuditRecord).where(
        AuditRecord.object_type == "certificate_request", AuditRecord.object_id == str(req_id))
        .order_by(AuditRecord.seq)).all()


def test_only_the_embedded_ca_is_asked_inside_the_requests_transaction():
    assert EmbeddedCA.local is True
    assert DjangoCAConnector.local is False


def test_a_crash_before_the_commit_leaves_neither_request_nor_signed_certificate(ctx, ports, monkeypatch, unique):
    request_id = f"crash-{unique()}"
    before = (_count(CertificateRequest), _count(EmbeddedIssued), _count(Certificate), _count(AuditRecord))
    real_commit = jobs.commit

    def dies(session):
        assert _count(EmbeddedIssued, request_id=request_id) == 1  # signed and in the ledger, not committed
        raise Crash()
    monkeypatch.setattr(jobs, "commit", dies)
    with pytest.raises(Crash):
        _issue(ports, make_csr(), request_id)
    monkeypatch.setattr(jobs, "commit", real_commit)
    assert (_count(CertificateRequest), _count(EmbeddedIssued), _count(Certificate), _count(AuditRecord)) == before

    # After the restart the same request id gives one certificate, from one signing on record.
    key = new_key()
    cert = _issue(ports, make_csr(key), request_id).certificate
    assert _count(EmbeddedIssued, request_id=request_id) == 1 and _count(Certificate, serial=cert.serial) == 1
    assert x509.load_pem_x509_certificate(cert.pem.encode()).public_key() == key.public_key()
    assert verify(db.session).ok


def test_a_failure_after_signing_keeps_the_request_and_issues_once(ctx, ports, monkeypatch, unique):
    """An error after the CA signed rolls the signing back with everything else;
    the request is then recorded on its own (committed, as for a remote CA) and
    submitted again: one certificate, one ledger row."""
    request_id = f"fail-{unique()}"
    real = service._issuer_facts
    calls = []

    def fails_once(issuing):
        calls.append(issuing)
        if len(calls) == 1:
            raise RuntimeError("the disk is full")
        return real(issuing)
    monkeypatch.setattr(service, "_issuer_facts", fails_once)
    outcome = _issue(ports, make_csr(), request_id)
    assert len(calls) == 2 and outcome.certificate is not None
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.ISSUED and req.attempts == 1
    assert _count(EmbeddedIssued, request_id=request_id) == 1
    assert _count(Certificate, request_pk=req.id) == 1
    assert [r.action for r in _trail(req.id)] == ["certificate_request.created", "certificate_request.issued"]


def test_one_record_carries_the_request_and_the_issuance(ctx, ports, unique):
    """CA/B Forum BR §5.4.1: an auditor finds the request (who, what key, which
    subject) and the issuance (serial, issuer) in the chain."""
    request_id = f"one-{unique()}"
    outcome = _issue(ports, make_csr(new_key("ec-p256")), request_id)
    cert = outcome.certificate
    parsed = x509.load_pem_x509_certificate(cert.pem.encode())
    (record,) = _trail(outcome.request.id)
    details = json.loads(record.details)
    assert (record.action, record.actor) == ("certificate_request.issued", "officer")
    assert details["request"] == {
        "request_id": request_id, "profile": "signing", "key_type": "ec-p256",
        "subject": build_subject(DEFAULT_PROFILES["signing"], CYRILLIC_HOLDER).rfc4514_string(),
        "order_id": None, "holder_id": None, "connector": "embedded"}
    # The RU's record names the e-mail; the certificate carries it in the subjectAltName.
    assert details["request"]["subject"].startswith(f"1.2.840.113549.1.9.1={CYRILLIC_HOLDER.email},")
    assert cert.subject == certificate_name(DEFAULT_PROFILES["signing"],
                                            build_subject(DEFAULT_PROFILES["signing"], CYRILLIC_HOLDER)).rfc4514_string()
    assert (details["from"], details["to"], details["serial"]) == ("pending", "issued", cert.serial)
    assert details["issuer"] == parsed.issuer.rfc4514_string() == cert.issuer
    assert cert.subject == parsed.subject.rfc4514_string()
    assert verify(db.session).ok


def test_a_refusal_by_the_embedded_ca_is_one_record_with_the_request(ctx, ports, unique):
    """The CA's ledger already holds this request id for another key (another RU
    instance asked the CA directly): the CA refuses, and the refusal is on record
    with the request it refused; nothing is stored as issued."""
    request_id = f"taken-{unique()}"
    profile = DEFAULT_PROFILES["signing"]
    subject = encodable(build_subject(profile, CYRILLIC_HOLDER))
    first = x509.load_pem_x509_csr(make_csr())
    ports.ca.issue(first, profile, request_id, subject=subject)
    with pytest.raises(CARejected) as err:
        _issue(ports, make_csr(), request_id)
    with force_locale("en"):
        assert "already used for another key" in err.value.render()
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.REJECTED and req.certificate is None
    (record,) = _trail(req.id)
    details = json.loads(record.details)
    assert record.action == "certificate_request.rejected"
    assert details["request"]["request_id"] == request_id and "another key" in details["problems"][0]
    assert _count(EmbeddedIssued, request_id=request_id) == 1  # the first one only


@pytest.mark.parametrize("holder", [CYRILLIC_HOLDER, LATIN_HOLDER], ids=["cyrillic", "latin"])
@pytest.mark.parametrize("profile", sorted(DEFAULT_PROFILES))
def test_the_subject_asked_for_is_the_one_a_retry_reads_back(holder, profile):
    built = build_subject(DEFAULT_PROFILES[profile], holder)
    assert as_recorded(built).public_bytes() == subject_from_text(built.rfc4514_string()).public_bytes()
    assert encodable(built).rfc4514_string() == built.rfc4514_string()
