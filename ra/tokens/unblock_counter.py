"""At the counter: settling an SO PIN rotation that a remote unblock left
unconfirmed (DESIGN §3.3; issue #5 "an interrupted rotation must never lose the SO
PIN"). The RU then holds two SO PINs for the token, ``Token.so_pin`` and
``Token.so_pin_pending``; with the token in the counter's reader one SO login
(PKCS#11 v2.40 §5.6 C_Login, CKU_SO) tells which one it has.

The counter's other SO PIN users — unblock at the counter, wipe for reuse — use
``Token.so_pin``: settle a pending rotation first.
"""
from __future__ import annotations

from ra import audit
from ra.auth import policy as auth_policy
from ra.auth.roles import Role
from ra.tokens import unblock_queries as q
from ra.tokens.errors import SoPinIncorrect
from ra.tokens.escrow import token_context
from ra.tokens.models import Token
from ra.tokens.unblock_service import end_request
from ra.tokens.unblock_states import UnblockStatus as U


def resolve_rotation(session, actor, token: Token, *, ports) -> str | None:
    """The token is in the counter's reader and a remote rotation was left
    unconfirmed: log in as SO to learn which of the two escrowed SO PINs it has,
    keep that one, forget the other. Open codes for the token end. Returns "old",
    "new", or None when there was nothing to resolve."""
    auth_policy.require(can_resolve_rotation(actor, token))
    if token.so_pin_pending is None:
        return None
    now = ports.clock.now()
    for req in q.open_requests(session, token):
        end_request(session, req, U.CANCELLED, now, {"why": "resolved_at_counter"})
    escrow, context = ports.tokens.escrow, token_context(token.serial)
    candidates = [("old", token.so_pin), ("new", token.so_pin_pending)]
    if q.so_pin_may_be_new(session, token):
        candidates.reverse()
    for n, (which, blob) in enumerate(candidates):
        try:
            ports.tokens.check_so_pin(token.serial, escrow.open(blob, context))
        except SoPinIncorrect:
            if n == len(candidates) - 1:
                raise
            continue
        token.so_pin, token.so_pin_pending = blob, None
        audit.record(session, actor, "token.so_pin_rotation_resolved", token,
                     {"serial": token.serial, "kept": which, "wrong_tries": n})
        return which
    return None  # pragma: no cover — the loop returns or raises


def can_resolve_rotation(actor, token=None) -> bool:
    return getattr(actor, "role", None) in (Role.RA_OFFICER, Role.RA_MANAGER)
