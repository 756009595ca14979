"""The one way a state changes (STYLE rule 4): check the transition table, set the
new state, write the audit record."""
from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value

from ra import audit
from ra.errors import InvalidTransition
from ra.i18n import _l


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
        """Compare-and-set: the stored state changes only if it is still the one this
        caller read. Two requests racing on one object (two officers approving the
        same order on two nodes) both pass the table check on what they read; the
        conditional UPDATE lets exactly one of them change the row, and only that
        one writes the audit record and, by committing, sends the mail."""
        current = getattr(obj, self.attr)
        if target not in self.table.get(current, ()):
            raise InvalidTransition(code="invalid_transition")
        if not self._compare_and_set(session, obj, current, target):
            raise self.lost_race(session, obj)
        audit.record(session, actor, f"{self.name}.{target.value}", obj,
                     {"from": current.value if current is not None else None, "to": target.value, **(details or {})})
        return obj

    def _compare_and_set(self, session, obj, current, target) -> bool:
        state = inspect(obj)
        if not state.persistent:  # not in the database yet: its INSERT carries the state
            setattr(obj, self.attr, target)
            return True
        column = state.mapper.get_property(self.attr).columns[0]
        table = column.table
        keys = dict(zip((c.key for c in state.mapper.primary_key), state.identity))
        where = [table.c[name] == value for name, value in keys.items()]
        where.append(column.is_(None) if current is None else column == current)
        # Core, not the ORM: the object's other pending changes are flushed as
        # usual; this statement touches the state column alone.
        changed = session.connection().execute(sa.update(table).where(*where).values({column.key: target})).rowcount
        if changed != 1:
            return False
        set_committed_value(obj, self.attr, target)
        return True

    def lost_race(self, session, obj) -> InvalidTransition:
        """Someone else changed the state first: say what it is now."""
        session.expire(obj, [self.attr])
        now = getattr(obj, self.attr)
        label = getattr(now, "label", None) or (now.value if now is not None else "-")
        return StateChanged(state=now.value if now is not None else None, label=label)


class StateChanged(InvalidTransition):
    """A concurrent request changed the state between this request's read and its write."""
    default_message = _l("Someone else changed this meanwhile; it is now: %(label)s. Reload the page.")

    def __init__(self, *, state: str | None, label):
        super().__init__(code="invalid_transition", label=label)
        self.state = state
