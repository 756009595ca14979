"""Writing and verifying the audit log."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from ra.audit.models import AuditChainHead, AuditRecord
from ra.db import utcnow

GENESIS = "0" * 64


def _actor_fields(actor) -> tuple[int | None, str]:
    if actor is None:
        return None, "system"
    if isinstance(actor, str):
        return None, actor
    return getattr(actor, "id", None), getattr(actor, "email", None) or str(actor)


def _object_fields(obj) -> tuple[str | None, str | None]:
    if obj is None:
        return None, None
    if isinstance(obj, tuple):
        return obj[0], str(obj[1])
    return getattr(obj, "__audit_type__", type(obj).__tablename__), str(obj.id)


def content_of(seq: int, at: datetime, actor_id, actor: str, action: str, object_type, object_id, details: str) -> str:
    return json.dumps(
        {
            "seq": seq,
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": actor_id,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def record(session, actor, action: str, obj=None, details: dict | None = None, *, at: datetime | None = None) -> AuditRecord:
    """Append one record in the caller's transaction. Never put a secret or PIN in
    ``details``: the log is kept for years and read by auditors."""
    at = at or utcnow()
    actor_id, actor_label = _actor_fields(actor)
    object_type, object_id = _object_fields(obj)
    if obj is not None and object_id == "None":
        session.flush()
        object_type, object_id = _object_fields(obj)
    details_json = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str)

    # Take the chain's lock first: UPDATE … RETURNING locks the head row on
    # PostgreSQL and the database on SQLite before we read the previous hash.
    row = session.execute(
        sa.update(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .values(seq=AuditChainHead.seq + 1)
        .returning(AuditChainHead.seq, AuditChainHead.last_hash)
    ).first()
    if row is None:
        session.add(AuditChainHead(id=1, seq=1, last_hash=GENESIS))
        session.flush()
        seq, prev = 1, GENESIS
    else:
        seq, prev = row
    digest = chain_hash(prev, content_of(seq, at, actor_id, actor_label, action, object_type, object_id, details_json))
    rec = AuditRecord(
        seq=seq, at=at, actor_id=actor_id, actor=actor_label, action=action,
        object_type=object_type, object_id=object_id, details=details_json,
        prev_hash=prev, hash=digest,
    )
    session.add(rec)
    session.execute(sa.update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=digest))
    return rec


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_seq: int | None = None
    reason: str = ""


def verify(session, batch: int = 5000) -> VerifyResult:
    """Walks the chain in order; names the first record whose hash, link or
    sequence number is wrong, and checks the head against the last record."""
    prev = GENESIS
    expected_seq = 1
    checked = 0
    while True:
        rows = session.execute(
            sa.select(
                AuditRecord.seq, AuditRecord.at, AuditRecord.actor_id, AuditRecord.actor, AuditRecord.action,
                AuditRecord.object_type, AuditRecord.object_id, AuditRecord.details,
                AuditRecord.prev_hash, AuditRecord.hash,
            ).where(AuditRecord.seq >= expected_seq).order_by(AuditRecord.seq).limit(batch)
        ).all()
        if not rows:
            break
        for r in rows:
            if r.seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, f"record {expected_seq} is missing")
            if r.prev_hash != prev:
                return VerifyResult(False, checked, r.seq, "link to the previous record is broken")
            digest = chain_hash(prev, content_of(r.seq, r.at, r.actor_id, r.actor, r.action, r.object_type, r.object_id, r.details))
            if digest != r.hash:
                return VerifyResult(False, checked, r.seq, "content does not match its hash")
            prev = r.hash
            expected_seq += 1
            checked += 1
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        return VerifyResult(False, checked, expected_seq, "records after this one were deleted")
    return VerifyResult(True, checked)
