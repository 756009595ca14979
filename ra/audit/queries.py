from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa

from ra.audit.models import AuditRecord


def search(session, *, actor: str = "", action: str = "", object_type: str = "", object_id: str = "",
           date_from=None, date_to=None, page: int = 1, per_page: int = 50):
    stmt = sa.select(AuditRecord)
    if actor:
        stmt = stmt.where(AuditRecord.actor.ilike(f"%{actor.strip()}%"))
    if action:
        stmt = stmt.where(AuditRecord.action.like(f"{action.strip()}%"))
    if object_type:
        stmt = stmt.where(AuditRecord.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditRecord.object_id == object_id.strip())
    if date_from:
        stmt = stmt.where(AuditRecord.at >= datetime.combine(date_from, time.min, timezone.utc))
    if date_to:
        stmt = stmt.where(AuditRecord.at < datetime.combine(date_to + timedelta(days=1), time.min, timezone.utc))
    total = session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.execute(stmt.order_by(AuditRecord.seq.desc()).limit(per_page)
                           .offset((page - 1) * per_page)).scalars().all()
    return rows, total


def object_types(session) -> list[str]:
    return [t for (t,) in session.execute(
        sa.select(AuditRecord.object_type).where(AuditRecord.object_type.is_not(None)).distinct()
        .order_by(AuditRecord.object_type))]
