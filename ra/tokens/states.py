"""Token states, DESIGN §3.3 (after Dogtag TPS and MyID token lifecycles).

The transition table is the only thing that changes a token's state; each change
is audited by ``StateMachine.transition``. Which certificate effect a transition
calls for (hold, release, revoke with an RFC 5280 §5.3.1 reason) is named here
too, and carried out by the revocation module through ``ra.tokens.effects``.
"""
from __future__ import annotations

import enum

from ra.i18n import _l
from ra.states import StateMachine


class TokenStatus(str, enum.Enum):
    IN_STOCK = "in_stock"      # received, not handed over (or wiped for reuse)
    ACTIVE = "active"          # handed over to a holder
    SUSPENDED = "suspended"    # temporarily lost; certificates on hold
    LOST = "lost"              # certificates revoked (keyCompromise)
    DAMAGED = "damaged"        # certificates revoked
    RETURNED = "returned"      # given back; certificates revoked
    DESTROYED = "destroyed"    # physically destroyed; final

    @property
    def label(self):
        return STATUS_LABELS[self]


STATUS_LABELS = {
    TokenStatus.IN_STOCK: _l("In stock"),
    TokenStatus.ACTIVE: _l("Handed over"),
    TokenStatus.SUSPENDED: _l("Suspended"),
    TokenStatus.LOST: _l("Lost"),
    TokenStatus.DAMAGED: _l("Damaged"),
    TokenStatus.RETURNED: _l("Returned"),
    TokenStatus.DESTROYED: _l("Destroyed"),
}

S = TokenStatus
token_states = StateMachine(
    "token",
    {
        S.IN_STOCK: {S.ACTIVE, S.DAMAGED},  # → damaged: it failed during a handover
        S.ACTIVE: {S.SUSPENDED, S.LOST, S.DAMAGED, S.RETURNED},
        S.SUSPENDED: {S.ACTIVE, S.LOST, S.DAMAGED},
        S.RETURNED: {S.IN_STOCK, S.DESTROYED},
        S.DAMAGED: {S.IN_STOCK, S.DESTROYED},
        S.LOST: set(),
        S.DESTROYED: set(),
    },
)

# The verbs an officer sees for each target state (a button per allowed target).
ACTION_LABELS = {
    S.ACTIVE: _l("Found: release the certificates"),
    S.SUSPENDED: _l("Suspend (temporarily lost)"),
    S.LOST: _l("Report lost"),
    S.DAMAGED: _l("Report damaged"),
    S.RETURNED: _l("Take back"),
    S.IN_STOCK: _l("Wipe and return to stock"),
    S.DESTROYED: _l("Record destruction"),
}

# Transitions the stock pages may perform. IN_STOCK → ACTIVE belongs to the
# handover (DESIGN §3.3 step 8), never to a button on the stock page.
MANUAL_TARGETS = frozenset({S.SUSPENDED, S.LOST, S.DAMAGED, S.RETURNED, S.IN_STOCK, S.DESTROYED})


def manual_targets(token) -> list[TokenStatus]:
    allowed = token_states.allowed(token)
    targets = [t for t in TokenStatus if t in allowed and t in MANUAL_TARGETS]
    if token.status == S.SUSPENDED and S.ACTIVE in allowed:
        targets.insert(0, S.ACTIVE)  # "found" is a manual event too
    return targets

# How a token's audit events read on its history page.
EVENT_LABELS = {
    "token.received": _l("Received into stock"),
    "token.so_pin_drawn": _l("New SO PIN drawn and escrowed"),
    "token.initialised": _l("Initialised; SO PIN replaced"),
    "token.user_pin_set": _l("User PIN set"),
    "token.unblocked": _l("PIN unblocked"),
}


def event_label(action: str):
    if action in EVENT_LABELS:
        return EVENT_LABELS[action]
    prefix, _, state = action.partition(".")
    try:
        return TokenStatus(state).label if prefix == "token" else action
    except ValueError:
        return action
