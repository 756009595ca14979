"""Who may do what with tokens (DESIGN §2; STYLE rule 6: one function per action,
used by views, CLI, API and services alike)."""
from __future__ import annotations

from ra.auth.roles import Role
from ra.tokens.states import TokenStatus

_READERS = (Role.RA_OFFICER, Role.RA_MANAGER, Role.ADMIN, Role.AUDITOR)
_COUNTER = (Role.RA_OFFICER, Role.RA_MANAGER)
_STOCK_KEEPERS = (Role.ADMIN, Role.RA_MANAGER)


def _role(actor):
    if actor is None or not getattr(actor, "is_authenticated", True):
        return None
    return getattr(actor, "role", None)


def can_read_stock(actor) -> bool:
    return _role(actor) in _READERS


def can_receive_batch(actor) -> bool:
    """DESIGN §2: the administrator keeps the token stock; the manager may too."""
    return _role(actor) in _STOCK_KEEPERS


def can_use_reader(actor) -> bool:
    return _role(actor) in (*_COUNTER, Role.ADMIN)


def can_change_token_state(actor, token, target: TokenStatus) -> bool:
    """Counter events (suspend, found, lost, damaged, returned, wipe for reuse) by RU
    staff at the counter or the administrator; destruction is recorded by the
    administrator or the manager. Auditors change nothing."""
    role = _role(actor)
    if target == TokenStatus.DESTROYED:
        return role in _STOCK_KEEPERS
    return role in (*_COUNTER, Role.ADMIN)


def can_initialise_token(actor, token=None) -> bool:
    return _role(actor) in _COUNTER


def can_unblock_at_counter(actor, token=None) -> bool:
    return _role(actor) in _COUNTER
