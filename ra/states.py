"""The one way a state changes (STYLE rule 4): check the transition table, set the
new state, write the audit record."""
from __future__ import annotations

import enum

from ra import audit
from ra.errors import InvalidTransition


class StateMachine:
    def __init__(self, name: str, table: dict[enum.Enum, frozenset | set], attr: str = "status"):
        self.name = name
        self.table = {k: frozenset(v) for k, v in table.items()}
        self.attr = attr

    def allowed(self, obj) -> frozenset:
        return self.table.get(getattr(obj, self.attr), frozenset())

    def can(self, obj, target: enum.Enum) -> bool:
        return target in self.allowed(obj)

    def transition(self, session, obj, target: enum.Enum, *, actor, details: dict | None = None):
        current = getattr(obj, self.attr)
        if target not in self.table.get(current, ()):
            raise InvalidTransition(code="invalid_transition")
        setattr(obj, self.attr, target)
        audit.record(session, actor, f"{self.name}.{target.value}", obj,
                     {"from": current.value if current is not None else None, "to": target.value, **(details or {})})
        return obj
