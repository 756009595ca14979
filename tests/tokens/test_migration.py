"""The hand-written migration creates exactly what the models declare."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ra.extensions import db

MINE = {"token", "token_batch"}


def _table_of(diff) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if name in MINE:
            return name
    return item[2] if len(item) > 2 and isinstance(item[2], str) else None


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_token_tables_match_the_models(ctx):
    conn = db.engine  # the fixture's connection, with the migrated schema
    mc = MigrationContext.configure(conn, opts={"compare_type": True})
    diffs = [d for d in compare_metadata(mc, db.metadata) if _table_of(d) in MINE]
    assert diffs == []
