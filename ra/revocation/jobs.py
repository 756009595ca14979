"""Revocation as the entry points run it (views, API, CLI, the worker): the
request or decision is committed first (a row before an action, DESIGN §4),
then each request it left ``approved`` is carried out through the CA connector
in its own transaction. A CA that is down leaves it ``approved, awaiting the
CA``, committed with the failure on it; ``work`` (``flask --app ra revocation
work``, for cron) tries again, expires old lost-token codes, and notes when a
remote CA's CRL shows what it did.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from ra.db import commit, retrying
from ra.errors import Busy, RAError
from ra.revocation import execution, lost_reports, publication
from ra.revocation import queries as q
from ra.revocation.errors import Recorded
from ra.revocation.states import RevocationStatus

log = logging.getLogger("ra.revocation")


def _requests(result) -> list:
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return list(result)
    if hasattr(result, "requests"):
        return list(result.requests)
    return [result]


def run(session, actor, step, *, ports):
    """``step()`` (a service call), committed; then every request it left
    approved is carried out, each committed on its own, by ``actor`` (or by
    ``actor(result)`` when it is a function). Returns what ``step`` returned
    (its objects reloaded after the commits)."""
    def decide():
        try:
            result = step()
        except Recorded:
            commit(session)
            raise
        ready = [r.id for r in _requests(result) if r.status == RevocationStatus.APPROVED]
        who = actor(result) if callable(actor) else actor
        commit(session)
        return result, ready, who

    # A deadlock rolls the decision back whole: deciding again is safe, and the
    # second try sees what the winner committed.
    result, ready, who = retrying(session, decide)
    for request_id in ready:
        try:
            carry_out(session, who, request_id, ports=ports)
        except Busy:  # the approval is committed; ``work`` carries it out
            log.warning("revocation request %s approved; carrying it out is left to the worker", request_id)
    return result


def carry_out(session, actor, request_id: int, *, ports):
    def attempt():
        req = execution.execute(session, actor, request_id, ports=ports)
        commit(session)
        return req
    return retrying(session, attempt)


def carry_out_inline(session, actor, requests, *, ports, follow_token: bool = True) -> None:
    """Inside someone else's unit of work (a token event, a position change): a CA
    whose ledger is in this database (the embedded CA) acts in the same
    transaction; a remote CA is asked only after that transaction commits, by
    the worker, so the request is on record before the CA acts."""
    if not getattr(ports.ca, "local", False):
        return
    for req in requests:
        if req.status == RevocationStatus.APPROVED:
            execution.execute(session, "system" if actor is None else actor, req.id, ports=ports,
                              follow_token=follow_token)


@dataclass
class WorkReport:
    expired_codes: int = 0
    completed: int = 0
    awaiting_ca: int = 0
    closed_otherwise: int = 0
    published_seen: int = 0
    crl_error: str | None = None


def work(session, *, ports, actor: str = "worker") -> WorkReport:
    report = WorkReport(expired_codes=lost_reports.expire_stale(session, ports=ports))
    commit(session)
    waiting = q.approved_awaiting_ca(session)
    for n, request_id in enumerate(waiting):
        req = carry_out(session, actor, request_id, ports=ports)
        if req is None:
            continue
        if req.status == RevocationStatus.APPROVED:  # the CA is still down: the rest wait for the next run
            report.awaiting_ca = len(waiting) - n
            break
        if req.status == RevocationStatus.COMPLETED:
            report.completed += 1
        else:
            report.closed_otherwise += 1
    if not getattr(ports.ca, "local", False):
        try:
            report.published_seen = publication.observe(session, ports, q.unpublished(session))
            commit(session)
        except RAError as exc:
            session.rollback()
            report.crl_error = exc.code
            log.warning("the CA's CRL could not be read: %s", exc.code)
    return report
