"""Carrying out an approved request through the CA connector (DESIGN §3.4, §4).

An ``approved`` request is claimed (its attempt counted), then — inside a
SAVEPOINT — the connector is called (``ra.ca.service``: revoke with the RFC 5280
§5.3.1 reason and §5.3.2 invalidity date, hold, or release), the certificate's
state changes, the embedded CA's CRL is published anew, the token follows (the
certificates of a lost-token report revoked: the token is lost; its last hold
released: the token was found), and the request is ``completed``.

A CA that is down (any 503: unreachable, timing out, its keys cannot be opened)
rolls the SAVEPOINT back: the request stays ``approved, awaiting the CA`` with the
failure on it for the officer, and the worker (``flask --app ra revocation work``)
tries again. Nothing is lost. A CA's refusal rejects the request; a certificate
that can no longer take the change (revoked or expired meanwhile) cancels it.
"""
from __future__ import annotations

import dataclasses
import logging

import sqlalchemy as sa
from cryptography import x509

from ra import audit
from ra.ca import service as ca_service
from ra.ca.connector import CARejected, HoldNotSupported, in_english
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.errors import Conflict, InvalidTransition, NotFound, RAError
from ra.revocation import notifications, publication
from ra.revocation.models import RevocationRequest
from ra.revocation.states import Reason, RevocationStatus, revocation_states
from ra.tokens.models import Token
from ra.tokens.states import TokenStatus, token_states

log = logging.getLogger("ra.revocation")
S = RevocationStatus
_TABLE = RevocationRequest.__table__
_CLAIM = (sa.update(_TABLE).where(_TABLE.c.id == sa.bindparam("rid"), _TABLE.c.status == S.APPROVED.value)
          .values(attempts=_TABLE.c.attempts + 1, last_attempt_at=sa.bindparam("now")).returning(_TABLE.c.id))


class _AfterEarlierAttempt:
    """A remote CA asked again: an earlier attempt may have reached it and lost its
    answer, so "already revoked" means done (the RU asked for it)."""

    def __init__(self, ca):
        self._ca = ca

    def __getattr__(self, name):
        return getattr(self._ca, name)

    def revoke(self, serial, reason=x509.ReasonFlags.unspecified, invalidity_date=None):
        try:
            self._ca.revoke(serial, reason, invalidity_date)
        except Conflict as exc:
            if exc.code != "already_revoked":
                raise
            log.info("CA: %s was already revoked by an earlier attempt", serial)


def execute(session, actor, request_id: int, *, ports, follow_token: bool = True) -> RevocationRequest | None:
    """One attempt at an approved request; the caller commits. ``follow_token``:
    False when the token's own transition is under way (a token event at the
    counter), so this does not move it too."""
    now = ports.clock.now()
    claimed = session.connection().execute(_CLAIM, {"rid": request_id, "now": now}).scalar()
    req = session.execute(sa.select(RevocationRequest).where(RevocationRequest.id == request_id)
                          .execution_options(populate_existing=True)).scalar_one_or_none()
    if claimed is None or req is None:
        return req  # done, or being done, by someone else
    cert = session.get(Certificate, req.certificate_id)
    try:
        with session.begin_nested():
            _at_the_ca(session, actor, req, cert, ports)
            _complete(session, actor, req, ports, follow_token)
    except (CARejected, NotFound) as exc:
        _close(session, actor, req, S.REJECTED, ports, "the CA refused: " + in_english(exc))
        return req
    except (InvalidTransition, Conflict, HoldNotSupported) as exc:
        _close(session, actor, req, S.CANCELLED, ports, _why_not(session, req, exc))
        return req
    except RAError as exc:
        if exc.status != 503:
            raise
        req.last_error = f"{exc.code}: {in_english(exc)}"[:500]
        audit.record(session, actor, "revocation_request.ca_unavailable", req, {
            "number": req.number, "attempt": req.attempts, "error": req.last_error})
        log.warning("revocation %s awaits the CA (attempt %d): %s", req.number, req.attempts, exc.code)
        return req
    notifications.outcome(session, req, ports=ports)
    return req


def _at_the_ca(session, actor, req: RevocationRequest, cert: Certificate, ports) -> None:
    ca_ports = ports
    if req.attempts > 1 and not getattr(ports.ca, "local", False):
        ca_ports = dataclasses.replace(ports, ca=_AfterEarlierAttempt(ports.ca))
    if req.reason == Reason.CERTIFICATE_HOLD:
        ca_service.suspend_certificate(session, actor, cert, ports=ca_ports)
    elif req.reason == Reason.REMOVE_FROM_CRL:
        ca_service.release_certificate(session, actor, cert, ports=ca_ports)
    else:
        ca_service.revoke_certificate(session, actor, cert, x509.ReasonFlags(req.reason.value),
                                      invalidity_date=req.invalidity_date, ports=ca_ports)


def _complete(session, actor, req: RevocationRequest, ports, follow_token: bool) -> None:
    now = ports.clock.now()
    req.completed_at = req.closed_at = now
    req.last_error = None
    published = publication.publish(session, ports, publication.authority_name(req.certificate.ca_name))
    if published is not None:
        req.published_at, req.crl_number = published.this_update, published.number
    revocation_states.transition(session, req, S.COMPLETED, actor=actor, details={
        "number": req.number, "serial": req.serial, "reason": req.reason.value, "attempts": req.attempts,
        "crl_number": req.crl_number})
    if follow_token and req.token_id is not None:
        _follow_token(session, actor, req, ports)


def _follow_token(session, actor, req: RevocationRequest, ports) -> None:
    """DESIGN §3.3: a lost token's certificates revoked → the token is lost; the
    last hold on a suspended token released (at the counter) → it is active."""
    token = session.get(Token, req.token_id)
    target = None
    if req.reason == Reason.KEY_COMPROMISE and req.lost_report_id and token.status in (
            TokenStatus.ACTIVE, TokenStatus.SUSPENDED):
        left = (CertificateStatus.VALID, CertificateStatus.SUSPENDED)
        target = TokenStatus.LOST if _on_token(session, token, left) == 0 else None
    elif req.reason == Reason.REMOVE_FROM_CRL and token.status == TokenStatus.SUSPENDED:
        target = TokenStatus.ACTIVE if _on_token(session, token, (CertificateStatus.SUSPENDED,)) == 0 else None
    if target is None:
        return
    token_states.transition(session, token, target, actor=actor, details={
        "serial": token.serial, "reason": "revocation request " + req.number,
        "certificate_effect": {"action": "revoke" if target == TokenStatus.LOST else "release",
                               "reason": req.reason.value, "state": "done"}})
    token.status_changed_at = ports.clock.now()


def _on_token(session, token, statuses) -> int:
    return session.execute(sa.select(sa.func.count()).select_from(Certificate).where(
        Certificate.token_id == token.id, Certificate.status.in_(statuses))).scalar_one()


def _close(session, actor, req, target: S, ports, outcome: str) -> None:
    req.outcome = outcome[:500]
    req.closed_at = ports.clock.now()
    revocation_states.transition(session, req, target, actor=actor, details={"number": req.number,
                                                                             "why": req.outcome})
    if target == S.REJECTED:
        notifications.outcome(session, req, ports=ports)


def _why_not(session, req, exc: RAError) -> str:
    cert = session.get(Certificate, req.certificate_id)
    return f"the certificate is {cert.status.value}: {in_english(exc)}"
