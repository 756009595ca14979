"""Issuance as an entry point runs it (CLI, views, the handover, the worker): each
step of ``ra.ca.service`` in its own committed transaction, retried when the
database reports a conflict with a concurrent writer.

A remote CA gets two committed steps: the request is a row before it is an
action (DESIGN §4), so an outage or a crash after the CA was asked leaves a
pending request to resume. A CA whose ledger lives in this database
(``CAConnector.local``) gets one: the request, the CA's ledger row and the
certificate commit together or not at all.

SQLite lets one writer at a time and refuses a write on a stale read snapshot
("database is locked"); PostgreSQL may report a unique violation after a
concurrent insert. Both are answered by running the step again: the steps are
idempotent by request id, so the second run finds what the first one committed.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from ra.ca import reconcile, service
from ra.ca.models import Certificate, CertificateRequest
from ra.ca.states import RequestStatus
from ra.db import commit
from ra.errors import RAError
from ra.profiles import SubjectData

log = logging.getLogger("ra.ca")
RETRIES = 8


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


def in_transaction(session, step, *, retries: int = RETRIES):
    """Runs ``step()`` and commits; on a conflict rolls back and runs it again."""
    for attempt in range(retries):
        try:
            result = step()
            commit(session)
            return result
        except (IntegrityError, OperationalError) as exc:
            session.rollback()
            if not _retryable(exc) or attempt == retries - 1:
                raise
            log.info("retrying after a concurrent write: %s", type(exc.orig).__name__)
            time.sleep(0.02 * (attempt + 1))
        except BaseException:
            session.rollback()
            raise


@dataclass
class Outcome:
    """What became of a request, read before the commit (which expires the ORM
    objects), so looking at it costs no query."""
    request: CertificateRequest
    status: RequestStatus
    certificate: Certificate | None = None
    attempts: int = 1

    @classmethod
    def of(cls, req: CertificateRequest) -> Outcome:
        issued = req.status == RequestStatus.ISSUED
        return cls(req, req.status, req.certificate if issued else None, req.attempts)

    @property
    def pending(self) -> bool:
        return self.status == RequestStatus.PENDING


def _answered(outcome: Outcome) -> Outcome:
    if outcome.status == RequestStatus.REJECTED:
        raise service.rejection_error(outcome.request)
    return outcome


def issue_certificate(session, actor, *, csr, profile: str, subject: SubjectData, request_id: str,
                      order_id: int | None = None, holder_id: int | None = None, ports) -> Outcome:
    """Records the request (committed), then submits it (committed) — in one
    transaction for a local CA. Raises ``CARejected`` after committing a
    rejection, ``BackendUnavailable`` when the CA cannot be reached or used (the
    request stays pending, to be retried)."""
    request = dict(csr=csr, profile=profile, subject=subject, request_id=request_id, order_id=order_id,
                   holder_id=holder_id)
    if ports.ca.local:
        return _issue_locally(session, actor, request, ports)
    in_transaction(session, lambda: service.request_certificate(session, actor, ports=ports, **request))
    return submit(session, actor, request_id, ports=ports)


def _issue_locally(session, actor, request: dict, ports) -> Outcome:
    reached_ca = []

    def step():
        reached_ca.clear()
        return Outcome.of(service.request_and_submit(session, actor, ports=ports,
                                                     recorded=lambda: reached_ca.append(True), **request))
    try:
        outcome = in_transaction(session, step)
    except Exception as exc:
        if not reached_ca:  # the request itself was refused (a bad CSR): nothing to keep
            raise
        # The CA step failed (its keys cannot be opened, say) and took the request
        # with it: record the request on its own, as for a remote CA, so it stays
        # pending on record, and let the CA answer for itself again.
        log.warning("local CA step failed (%s): keeping the request pending", type(exc).__name__)
    else:
        return _answered(outcome)
    in_transaction(session, lambda: service.request_certificate(session, actor, ports=ports, **request))
    return submit(session, actor, request["request_id"], ports=ports)


def submit(session, actor, request_id: str, *, ports) -> Outcome:
    outcome = _answered(in_transaction(session, lambda: Outcome.of(service.submit_certificate_request(
        session, actor, request_id, ports=ports))))
    if not ports.ca.local and outcome.status == RequestStatus.ISSUED and outcome.attempts > 1:
        revoke_duplicates(session, actor, request_id, ports=ports)
    return outcome


def revoke_duplicates(session, actor, request_id: str, *, ports) -> list[reconcile.Revoked]:
    """Looks for a twin of a request attempted more than once, in its own
    transaction. The certificate the caller got stands whatever happens here: a
    CA that cannot be asked now is asked again by ``ca reconcile``."""
    try:
        return in_transaction(session, lambda: reconcile.revoke_duplicates(
            session, actor, service.by_request_id(session, request_id), ports=ports))
    except RAError as exc:
        log.warning("request %s: could not look for a twin at the CA now (%s); ca reconcile will",
                    request_id, exc.code)
        return []


def reconcile_recent(session, actor, *, days: int, ports) -> list[reconcile.Revoked]:
    """``flask --app ra ca reconcile``: every request issued in the last ``days``
    after more than one attempt, each in its own transaction."""
    since = reconcile.window_start(ports.clock.now(), days)
    revoked = []
    for request_id in reconcile.candidates(session, since=since):
        revoked += in_transaction(session, lambda rid=request_id: reconcile.revoke_duplicates(
            session, actor, service.by_request_id(session, rid), ports=ports))
    return revoked


def retry(session, actor, request_id: str, *, ports) -> Outcome:
    """Another attempt at a pending request (after a timeout, an outage or a
    restart): the attempt is counted and committed before the CA is asked."""
    in_transaction(session, lambda: service.count_attempt(session, request_id, ports=ports))
    return submit(session, actor, request_id, ports=ports)
