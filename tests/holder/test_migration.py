"""The hand-written holder-accounts migration creates exactly what the models
declare, on SQLite and PostgreSQL alike (the user's register number included)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ra.extensions import db

MINE = {"holder_activation", "holder_step_up", "booking_shortage_day"}


def _about(diff) -> str:
    return repr(diff)


def test_holder_tables_and_the_register_number_match_the_models(ctx):
    mc = MigrationContext.configure(db.engine, opts={"compare_type": True})
    diffs = [d for d in compare_metadata(mc, db.metadata)
             if any(name in _about(d) for name in (*MINE, "register_number"))
             and "ix_token_serial_lower" not in _about(d)]
    assert diffs == []
