"""A remote CA that signs one request twice: the RU keeps one certificate and
revokes the other as superseded, audited, whatever the timing.

The first sign request's connection drops, and the request reaches django-ca
only after the RU has looked for it by key, found nothing and posted again:
django-ca then signs both, the first one last. That is what a CA slower than
any grace period does. Events order it all; nothing waits on a clock."""
from __future__ import annotations

import json

import pytest
import requests
import sqlalchemy as sa

from ra.audit.models import AuditRecord
from ra.ca import jobs, service
from ra.ca.csr import serial_hex
from ra.ca.models import Certificate
from ra.ca.reconcile import DUPLICATE_REVOKED
from ra.ca.states import RequestStatus
from ra.errors import BackendUnavailable
from ra.extensions import db
from tests.ca.conftest import LATIN_HOLDER, django_connector, make_csr, new_key


def _issue(ports, csr, request_id):
    return jobs.issue_certificate(db.session, "officer", csr=csr, profile="signing", subject=LATIN_HOLDER,
                                  request_id=request_id, ports=ports)


def _at_the_ca(peer, serial: str) -> dict:
    resp = requests.get(f"https://127.0.0.1:{peer.port}/django_ca/api/ca/{peer.issuing}/certs/{serial}/",
                        auth=(peer.username, peer.password), verify=str(peer.cafile), timeout=30)
    resp.raise_for_status()
    return resp.json()


def _duplicates_recorded(request_id):
    details = [json.loads(r.details) for r in db.session.execute(sa.select(AuditRecord).where(
        AuditRecord.action == DUPLICATE_REVOKED)).scalars()]
    return [d for d in details if d.get("request_id") == request_id]


def _lost_first_post(ports, misbehaving, monkeypatch, unique, plans):
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=3600)))
    misbehaving.plans = plans
    key = new_key("ec-p256")
    request_id = f"twice-{unique()}"
    with pytest.raises(BackendUnavailable):
        _issue(ports, make_csr(key), request_id)
    # A restarted app, inside the grace period: nothing found by key, so it
    # waits rather than post again.
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=3600)))
    assert jobs.retry(db.session, "officer", request_id, ports=ports).pending and misbehaving.posts == 1
    # Once the grace period has run out, it posts again.
    monkeypatch.setattr(ports, "ca", django_connector(misbehaving.ra_ca(timeout=30, grace=0)))
    return key, request_id


def test_a_twin_signed_after_the_second_post_is_revoked_by_reconcile(app, ctx, ports, misbehaving, monkeypatch,
                                                                   unique):
    key, request_id = _lost_first_post(ports, misbehaving, monkeypatch, unique, ["lost-then-late"])
    # The retry looks by key (nothing: the first post has not reached the CA),
    # posts again and gets its certificate.
    kept = jobs.retry(db.session, "officer", request_id, ports=ports).certificate
    assert kept is not None and misbehaving.posts == 2
    assert _duplicates_recorded(request_id) == []

    # Now the first post reaches django-ca, which signs it: a second valid
    # certificate for the same key and request.
    misbehaving.release()
    assert misbehaving.signed[0].wait(120), "django-ca never answered the held sign request"
    twins = ports.ca.certificates_for_key(key.public_key())
    assert len(twins) == 2

    out = app.test_cli_runner().invoke(args=["ca", "reconcile"])
    assert out.exit_code == 0, out.output
    assert "1 duplicate certificate(s) revoked" in out.output
    [twin] = [serial_hex(c.serial_number) for c in twins if serial_hex(c.serial_number) != kept.serial]
    assert [serial_hex(c.serial_number) for c in ports.ca.certificates_for_key(key.public_key())] == [kept.serial]
    at_ca = _at_the_ca(misbehaving.peer, twin)
    assert at_ca["revoked"] is True and at_ca["revoked_reason"] == "superseded"
    assert _at_the_ca(misbehaving.peer, kept.serial)["revoked"] is False
    # The RU's records: one certificate for the request, and the revocation on the audit log.
    req = service.by_request_id(db.session, request_id)
    assert req.status == RequestStatus.ISSUED and req.certificate.serial == kept.serial
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)
                             .where(Certificate.request_pk == req.id)) == 1
    [record] = _duplicates_recorded(request_id)
    assert record["kept"] == kept.serial and record["revoked"] == twin and record["reason"] == "superseded"

    # Cron runs it again: nothing more to do.
    again = app.test_cli_runner().invoke(args=["ca", "reconcile"])
    assert "0 duplicate certificate(s) revoked" in again.output and len(_duplicates_recorded(request_id)) == 1


def test_a_twin_already_there_at_the_retry_is_revoked_then(ctx, ports, misbehaving, monkeypatch, unique):
    """The first post is delayed; the second is signed but its answer is lost;
    the first is then signed. The third attempt finds both by key, keeps the
    oldest and revokes the other before it returns."""
    key, request_id = _lost_first_post(ports, misbehaving, monkeypatch, unique,
                                            ["lost-then-late", "answer-lost"])
    with pytest.raises(BackendUnavailable):
        jobs.retry(db.session, "officer", request_id, ports=ports)
    assert misbehaving.signed[1].wait(120)
    misbehaving.gates[0].set()
    assert misbehaving.signed[0].wait(120)
    assert len(ports.ca.certificates_for_key(key.public_key())) == 2

    kept = jobs.retry(db.session, "officer", request_id, ports=ports).certificate
    assert misbehaving.posts == 2  # found by key: not posted a third time
    assert [serial_hex(c.serial_number) for c in ports.ca.certificates_for_key(key.public_key())] == [kept.serial]
    [record] = _duplicates_recorded(request_id)
    assert record["kept"] == kept.serial
    assert _at_the_ca(misbehaving.peer, record["revoked"])["revoked_reason"] == "superseded"
    misbehaving.release()


def test_a_twin_the_ca_cannot_be_asked_about_now_does_not_undo_the_issuance(ctx, ports, misbehaving, monkeypatch,
                                                                          unique):
    """The certificate the retry got stands even if the CA fails right after:
    the twin is left to ``ca reconcile``."""
    key, request_id = _lost_first_post(ports, misbehaving, monkeypatch, unique, ["lost-then-late"])
    original = ports.ca.certificates_for_key

    def broken(public_key):
        raise BackendUnavailable(code="ca_unreachable")
    monkeypatch.setattr(ports.ca, "certificates_for_key", broken)
    outcome = jobs.retry(db.session, "officer", request_id, ports=ports)
    assert outcome.certificate is not None
    monkeypatch.setattr(ports.ca, "certificates_for_key", original)
    misbehaving.release()
    assert misbehaving.signed[0].wait(120)
    revoked = jobs.reconcile_recent(db.session, "cron", days=7, ports=ports)
    assert [r.request_id for r in revoked] == [request_id]
