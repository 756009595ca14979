"""Gap-free yearly numbering (contracts: БН-2026/0042)."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from ra.enrollment.models import DocumentCounter


def next_number(session, series: str, year: int) -> int:
    """Atomic upsert-and-increment in the caller's transaction. The row lock it
    takes is held to commit, so two officers never get the same number, and a
    rolled-back transaction gives its number back: no gaps."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(DocumentCounter).values(series=series, year=year, last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[DocumentCounter.series, DocumentCounter.year],
        set_={"last_value": DocumentCounter.last_value + 1},
    ).returning(DocumentCounter.last_value)
    return session.execute(stmt).scalar_one()


def contract_number(year: int, seq: int) -> str:
    return f"БН-{year}/{seq:04d}"
