"""Runs a counter handover the way an entry point must (views, CLI, API): each
step of ``handover_service`` in its own committed transaction, in order, so that
"each step is persisted before the next begins" (DESIGN §3.3) — the same shape as
``ra.ca.jobs`` for issuance, whose ``issue_certificate`` is step 6.

A run stops (is *paused*) on any typed error — a CA outage, a pulled token, a
missing PIN — with the reason recorded on the handover and audited; Resume runs it
again from the last committed step. Only one run at a time: a run claims the
handover (``claimed_by``/``claimed_until``, a compare-and-set UPDATE), so a second
Resume from another window or counter is refused instead of generating a second
key pair. A claim left by a process that died on this host (SIGKILL, power) is
recognised at once; one from another host lapses after ``LEASE``.

The user PIN lives only in this run's memory. A later run that needs it (to log in
for steps 4, 5, 7) sets it anew through the SO (C_InitPIN with the escrowed SO
PIN): typed again by the holder, or — for a sealed-envelope handover — a new
random one on a new envelope, which replaces the earlier envelope.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ra.ca import jobs as ca_jobs
from ra.ca.connector import in_english
from ra.ca.models import Certificate
from ra.db import commit
from ra.errors import BackendUnavailable, Conflict, NotFound, RAError
from ra.i18n import _l
from ra.tokens import handover_service as svc
from ra.tokens import pins, receipt
from ra.tokens.handover_models import Handover
from ra.tokens.handover_states import HandoverStep, PinSource, next_step

log = logging.getLogger("ra.tokens.handover")
H = HandoverStep
LEASE = timedelta(minutes=5)


class CAPending(BackendUnavailable):
    code = "ca_pending"
    default_message = _l("The CA accepted the request but has not issued the certificate yet. "
                         "Resume in a moment: nothing is asked twice.")


class HandoverBusy(Conflict):
    code = "handover_busy"
    default_message = _l("This handover is running right now (in another window or at another counter). "
                         "Wait until it stops, then reload the page.")


@dataclass
class RunResult:
    handover_id: int
    step: HandoverStep
    error: RAError | None = None
    # The sealed-envelope PDF when this run set a random PIN, for the entry point to
    # hand over at once: the API and CLI return it, the counter page keeps it
    # sealed for one print (ra.tokens.envelopes). Never stored in clear.
    envelope: bytes | None = None

    @property
    def completed(self) -> bool:
        return self.step == H.COMPLETED

    @property
    def paused(self) -> bool:
        return self.error is not None


# -- the claim ---------------------------------------------------------------------------------------

def _me() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead(claimant: str) -> bool:
    """A claim made by a process of this host that no longer exists."""
    host, _, rest = claimant.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim(session, handover_id: int, ports) -> str:
    now = ports.clock.now()
    row = session.execute(sa.select(Handover.claimed_by, Handover.claimed_until)
                          .where(Handover.id == handover_id)).first()
    if row is None:
        raise NotFound()
    current, until = row
    if current is not None and until is not None and until > now and not _dead(current):
        raise HandoverBusy()
    me = _me()
    same = Handover.claimed_by.is_(None) if current is None else Handover.claimed_by == current
    done = session.execute(sa.update(Handover).where(Handover.id == handover_id, same)
                           .values(claimed_by=me, claimed_until=now + LEASE, runs=Handover.runs + 1)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        raise HandoverBusy()
    commit(session)
    return me


def _release(session, handover_id: int, me: str) -> None:
    try:
        session.execute(sa.update(Handover).where(Handover.id == handover_id, Handover.claimed_by == me)
                        .values(claimed_by=None, claimed_until=None).execution_options(synchronize_session=False))
        commit(session)
    except Exception:  # noqa: BLE001 — the claim lapses on its own; never hide the first error
        session.rollback()
        log.warning("handover %s: could not release the claim", handover_id)


def _load(session, handover_id: int) -> Handover:
    """The handover as this session has it (commits and rollbacks expire it, so a
    committed state is read afresh)."""
    h = session.get(Handover, handover_id)
    if h is None:
        raise NotFound()
    return h


# -- one run -------------------------------------------------------------------------------------------

@contextmanager
def _kept_across_commits(session, ports):
    """What a run keeps from one committed step to the next instead of reading or
    proving it again: its ORM objects (no expiry on commit: while the run holds the
    claim nobody else changes its handover or token, and the order's state is read
    afresh just before the CA is asked) and the holder's login on the token
    (``keeping_logins``, closed when the run stops)."""
    real = session() if hasattr(session, "registry") else session  # the Session behind a scoped_session
    expiring, real.expire_on_commit = real.expire_on_commit, False
    try:
        with ports.tokens.keeping_logins():
            yield
    finally:
        real.expire_on_commit = expiring


class _Run:
    def __init__(self, session, actor, *, user_pin, random_pin, token_serial, locale, ports, after_step, stop_after):
        self.session, self.actor, self.ports = session, actor, ports
        self.released = False
        self.user_pin = user_pin
        self.source = PinSource.TYPED if user_pin is not None else (PinSource.ENVELOPE if random_pin else None)
        self.pin_on_token = False
        self.token_serial = token_serial
        self.locale = locale
        self.after_step, self.stop_after = after_step, stop_after
        self.envelope: bytes | None = None

    def commit(self) -> None:
        commit(self.session)

    def execute(self, handover_id: int) -> None:
        while True:
            h = _load(self.session, handover_id)
            target = next_step(h.step)
            if target is None:
                return
            getattr(self, f"_{target.value}")(handover_id, h)
            last = target in (H.COMPLETED, self.stop_after)
            h = _load(self.session, handover_id)
            # The claim is renewed with each step's commit, and ends with the last one's.
            h.claimed_until = None if last else self.ports.clock.now() + LEASE
            if last:
                h.claimed_by = None
            self.commit()
            self.released = last
            if self.after_step is not None:
                self.after_step(target)
            if target == self.stop_after:
                return

    # -- the user PIN, kept in this run only ------------------------------------------------------
    def _choose_pin(self, h: Handover) -> None:
        if self.user_pin is not None:
            return
        if self.source == PinSource.ENVELOPE or (self.source is None and h.pin_source == PinSource.ENVELOPE):
            self.source, self.user_pin = PinSource.ENVELOPE, pins.random_user_pin()
            return
        raise svc.PinNeeded()

    def _printed(self, h: Handover) -> None:
        self.pin_on_token = True
        if self.source == PinSource.ENVELOPE:
            self.envelope = receipt.pin_envelope_pdf(h, self.user_pin, ports=self.ports, locale=self.locale)

    def pin(self, handover_id: int) -> str:
        """The user PIN for a token login; set anew (and committed) first when this
        run has not set it on the token."""
        if self.user_pin is None or not self.pin_on_token:
            h = _load(self.session, handover_id)
            self._choose_pin(h)
            svc.set_user_pin_again(self.session, self.actor, h, self.user_pin, source=self.source, ports=self.ports)
            self._printed(h)
            self.commit()
        return self.user_pin

    # -- the steps, named after the state each one reaches ---------------------------------------
    def _token_picked(self, hid: int, h: Handover) -> None:
        if not self.token_serial:
            raise svc.TokenNeeded(field="token_serial")
        svc.pick_token(self.session, self.actor, h, self.token_serial, ports=self.ports)

    def _token_initialised(self, hid: int, h: Handover) -> None:
        self._choose_pin(h)  # PinNeeded before the token is touched
        svc.initialise_token(self.session, self.actor, h, self.user_pin, source=self.source, ports=self.ports)
        self._printed(h)

    def _key_generated(self, hid: int, h: Handover) -> None:
        if not self.pin_on_token:
            # This run did not set the PIN: an earlier run may have died inside
            # C_GenerateKeyPair, leaving a pair that is on no record. Wipe first
            # (once the PIN to set afterwards is known).
            self._choose_pin(h)
            svc.wipe_for_retry(self.session, self.actor, h, ports=self.ports)
            self.commit()
        pin = self.pin(hid)
        svc.generate_key(self.session, self.actor, _load(self.session, hid), pin, ports=self.ports)

    def _csr_signed(self, hid: int, h: Handover) -> None:
        pin = self.pin(hid)
        svc.sign_request(self.session, self.actor, _load(self.session, hid), pin, ports=self.ports)

    def _certificate_issued(self, hid: int, h: Handover) -> None:
        svc.check_before_issuing(self.session, self.actor, h, ports=self.ports)
        order = h.order
        request = dict(csr=h.csr_pem, profile=order.profile, subject=svc.subject_data(order),
                       request_id=h.request_id, order_id=order.id, holder_id=order.holder_id)
        outcome = ca_jobs.issue_certificate(self.session, self.actor, ports=self.ports, **request)  # commits
        if outcome.pending:
            raise CAPending()
        certificate = self.session.get(Certificate, outcome.certificate.id)
        svc.record_certificate(self.session, self.actor, _load(self.session, hid), certificate, ports=self.ports)

    def _certificate_written(self, hid: int, h: Handover) -> None:
        pin = self.pin(hid)
        svc.write_certificate(self.session, self.actor, _load(self.session, hid), pin, ports=self.ports)

    def _completed(self, hid: int, h: Handover) -> None:
        svc.complete_handover(self.session, self.actor, h, ports=self.ports)


def _pause(session, actor, handover_id: int, code: str, message: str, ports) -> None:
    try:
        svc.record_pause(session, actor, _load(session, handover_id), code, message, ports=ports)
        commit(session)
    except Exception:  # noqa: BLE001 — the first error is the one to report
        session.rollback()
        log.exception("handover %s: could not record the pause", handover_id)


def run(session, actor, handover_id: int, *, user_pin: str | None = None, random_pin: bool = False,
        token_serial: str | None = None, locale: str = "mn", ports, after_step=None,
        stop_after: HandoverStep | None = None, _claimed: str | None = None) -> RunResult:
    """Runs (or resumes) a handover from its last committed step until it is
    completed, ``stop_after`` is reached, or a typed error pauses it (returned in
    ``RunResult.error``, recorded on the handover). ``after_step(step)`` is called
    after each commit (progress output; the crash tests fail there on purpose).
    Any other exception is recorded as ``unexpected`` and raised."""
    svc.check_user_pin_policy(user_pin)
    r = _Run(session, actor, user_pin=user_pin, random_pin=random_pin, token_serial=token_serial, locale=locale,
             ports=ports, after_step=after_step, stop_after=stop_after)
    me = _claimed or _claim(session, handover_id, ports)
    error = None
    try:
        with _kept_across_commits(session, ports):
            r.execute(handover_id)
    except RAError as exc:
        session.rollback()
        error = exc
        log.info("handover %s paused: %s", handover_id, exc.code)
        _pause(session, actor, handover_id, exc.code, in_english(exc), ports)
    except Exception as exc:
        session.rollback()
        error_id = uuid.uuid4().hex[:12]
        log.exception("handover %s: unexpected error %s", handover_id, error_id)
        _pause(session, actor, handover_id, "unexpected", f"unexpected error {error_id}: {type(exc).__name__}",
               ports)
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        if not r.released:
            _release(session, handover_id, me)
    return RunResult(handover_id, _load(session, handover_id).step, error, r.envelope)


def start(session, actor, order, *, id_document_type, id_document_number: str, token_serial: str | None = None,
          user_pin: str | None = None, random_pin: bool = False, locale: str = "mn", ports, after_step=None,
          stop_after: HandoverStep | None = None) -> RunResult:
    """Step 1 (committed), then ``run`` from step 2 with what step 1 loaded."""
    svc.check_user_pin_policy(user_pin)
    claim = stop_after != H.IDENTITY_CHECKED
    with _kept_across_commits(session, ports):
        # Held here, the handover stays in the session's (weak) identity map for the run.
        h, me = _identity_checked(session, actor, order, id_document_type, id_document_number, ports, claim=claim)
        try:
            if after_step is not None:
                after_step(H.IDENTITY_CHECKED)
        except BaseException:
            if claim:
                _release(session, h.id, me)
            raise
        if not claim:
            return RunResult(h.id, H.IDENTITY_CHECKED)
        return run(session, actor, h.id, user_pin=user_pin, random_pin=random_pin, token_serial=token_serial,
                   locale=locale, ports=ports, after_step=after_step, stop_after=stop_after, _claimed=me)


def _identity_checked(session, actor, order, id_document_type, id_document_number: str, ports, *,
                      claim: bool) -> tuple[Handover, str | None]:
    """Step 1, committed; with ``claim`` the run that follows is claimed in the same commit."""
    me = _me() if claim else None
    claimed = dict(claimed_by=me, claimed_until=ports.clock.now() + LEASE, runs=1) if claim else None
    try:
        h = svc.start_handover(session, actor, order, id_document_type=id_document_type,
                               id_document_number=id_document_number, ports=ports, claim=claimed)
        commit(session)
    except IntegrityError:  # a concurrent start for the same order won
        session.rollback()
        raise Conflict(_l("This order already has a handover in progress: resume or cancel it."),
                       code="handover_open") from None
    return h, me


def _claimed(session, actor, handover_id: int, action, *, ports) -> Handover:
    me = _claim(session, handover_id, ports)
    try:
        h = _load(session, handover_id)
        action(h)
        commit(session)
        return h
    except BaseException:
        session.rollback()
        raise
    finally:
        _release(session, handover_id, me)


def cancel(session, actor, handover_id: int, reason: str, *, ports) -> Handover:
    """Cancel (token wiped, back in stock), under the claim so no run is mid-step."""
    return _claimed(session, actor, handover_id,
                    lambda h: svc.cancel_handover(session, actor, h, reason, ports=ports), ports=ports)


def token_failed(session, actor, handover_id: int, reason: str, *, ports) -> Handover:
    """The token died mid-handover: recorded damaged, the handover abandoned."""
    return _claimed(session, actor, handover_id,
                    lambda h: svc.record_token_failed(session, actor, h, reason, ports=ports), ports=ports)


def abandon(session, actor, handover_id: int, reason: str, *, ports) -> Handover:
    """Revoke a certificate no token holds and stop (needs the revocation hook)."""
    return _claimed(session, actor, handover_id,
                    lambda h: svc.abandon_handover(session, actor, h, reason, ports=ports), ports=ports)
