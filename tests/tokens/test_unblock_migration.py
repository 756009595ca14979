"""The hand-written unblock migration creates exactly what the models declare, on
SQLite and PostgreSQL alike."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ra.extensions import db

MINE = {"token_unblock_request", "token_unblock_throttle"}


def _tables(diff) -> set[str]:
    items = diff if isinstance(diff, list) else [diff]
    names = set()
    for item in items:
        for part in item[1:]:
            table = getattr(part, "table", None)
            if table is not None:
                names.add(table.name)
            elif getattr(part, "name", None) in MINE:
                names.add(part.name)
            elif isinstance(part, str) and part in MINE:
                names.add(part)
    return names


def test_unblock_tables_match_the_models(ctx):
    mc = MigrationContext.configure(db.engine, opts={"compare_type": True})
    diffs = [d for d in compare_metadata(mc, db.metadata) if _tables(d) & MINE]
    assert diffs == []
