"""What other modules hand to revocation (DESIGN §3.3 token effects, §3.2 position
change), registered in ``ports.extra`` by ``ra.revocation.wiring``.

- ``on_token_event`` (``ra.tokens.effects.HANDLER_KEY``): a token event at the
  counter acts on every certificate the token holds (``Certificate.token_id``):
  suspended → holds; found → holds released (the token is in the reader);
  lost → revoked keyCompromise; damaged, returned → revoked with the token
  module's reason. A revocation follows the dual-control rule: with a second
  approver required it waits on the officer's queue, and a lost token's
  certificates are held meanwhile.
- ``on_position_change`` (``"revocation"``): the old certificate's revocation
  (affiliationChanged) is requested; its number is the reference returned.
- ``on_unheld_certificate`` (``"handover_revoke_unheld"``): an abandoned handover's
  certificate, which no token holds, is revoked.

Both run inside the caller's unit of work; the embedded CA acts in it, a remote
CA after it commits (the worker), see ``jobs.carry_out_inline``.
"""
from __future__ import annotations

from functools import partial

from ra.ca.connector import HoldNotSupported
from ra.ca.models import Certificate
from ra.ca.states import CertificateStatus
from ra.revocation import errors as E
from ra.revocation import jobs, service
from ra.revocation import queries as q
from ra.revocation.states import Channel, Reason, RevocationStatus

HELD_OR_VALID = (CertificateStatus.VALID, CertificateStatus.SUSPENDED)
UNHELD_KEY = "handover_revoke_unheld"  # ra.tokens.handover_service.REVOKE_HOOK


def on_token_event(session, actor, token, effect, *, ports) -> None:
    """The token module checked that ``actor`` may record this event
    (``ra.tokens.policy.can_change_token_state``); its effects follow."""
    if effect.action == "hold":
        valid = q.certificates_on_token(session, token.id, [CertificateStatus.VALID])
        if valid and not ports.ca.supports_hold:
            raise HoldNotSupported()  # the token stays as it is; report it lost to revoke
        made = [service.hold(session, actor, c, ports=ports, channel=Channel.OFFICER,
                             note=f"token {token.serial} suspended") for c in valid]
    elif effect.action == "release":
        held = q.certificates_on_token(session, token.id, [CertificateStatus.SUSPENDED])
        if held:
            service.check_token_present(session, held[0], ports=ports)
        made = [service.release_at_counter(session, actor, c, ports=ports, token_checked=True, authorised=True,
                                           note=f"token {token.serial} found") for c in held]
    else:
        made = []
        reason = Reason(effect.reason)
        for cert in q.certificates_on_token(session, token.id, HELD_OR_VALID):
            pending = q.open_revocation_for(session, cert.id)
            if pending is not None:  # e.g. a lost-token report: the officer's event confirms it
                made += _confirm_pending(session, actor, pending, ports=ports)
                continue
            made += service.request_revocation(session, actor, cert, reason, ports=ports, authorised=True,
                                               note=f"token {token.serial}: {effect.action} ({effect.reason})")
    jobs.carry_out_inline(session, actor, made, ports=ports, follow_token=False)


def _confirm_pending(session, actor, pending, *, ports) -> list:
    if pending.status == RevocationStatus.AWAITING_CONFIRMATION:
        return service.confirm_lost(session, actor, pending, note="token event at the counter", ports=ports,
                                    authorised=True)
    return [pending]


def on_position_change(session, actor, *, serial: str, reason: str, source, ports) -> str:
    """``orders_service.request_affiliation_revocation``'s hook: returns the
    request's number (or the open one's, if a revocation is already under way)."""
    cert = _certificate(session, serial)
    try:
        made = service.request_revocation(session, actor, cert, Reason(reason), ports=ports,
                                          note="position change", position_change_id=source.id)
    except E.OpenRequestExists:
        return q.open_revocation_for(session, cert.id).number
    except E.AlreadyRevoked:
        return f"already revoked: {cert.serial}"
    jobs.carry_out_inline(session, actor, made, ports=ports)
    return made[0].number


def on_unheld_certificate(session, actor, certificate, reason: str, *, ports) -> str:
    """The handover's hook (``handover_revoke_unheld``): a certificate was issued but
    no token holds it (the token broke or was lost before the certificate was
    written). It is revoked — ``reason`` if it names an RFC 5280 reason, otherwise
    cessationOfOperation with the officer's words as the note — and held at once
    while the revocation awaits its second approver. Returns the request's number."""
    try:
        chosen = Reason(reason)
        note = "certificate no token holds (handover abandoned)"
    except ValueError:
        chosen, note = Reason.CESSATION_OF_OPERATION, f"handover abandoned: {reason}"
    made = service.request_revocation(session, actor, certificate, chosen, ports=ports, note=note)
    if made[0].status == RevocationStatus.AWAITING_APPROVAL and len(made) == 1:
        held = service.hold(session, actor, certificate, ports=ports, note=note)
        made += [held] if held is not None else []
    jobs.carry_out_inline(session, actor, made, ports=ports)
    return made[0].number


def _certificate(session, serial: str) -> Certificate:
    import sqlalchemy as sa

    normal = q.parse_serial(serial)
    cert = session.execute(sa.select(Certificate).where(Certificate.serial == normal)
                           .order_by(Certificate.id.desc()).limit(1)).scalar_one_or_none()
    if cert is None:
        raise E.CertificateNotOnRecord(serial=serial)
    return cert


def register(ports) -> None:
    from ra.tokens.effects import HANDLER_KEY

    ports.extra[HANDLER_KEY] = partial(on_token_event, ports=ports)
    ports.extra["revocation"] = partial(on_position_change, ports=ports)
    ports.extra[UNHELD_KEY] = partial(on_unheld_certificate, ports=ports)
