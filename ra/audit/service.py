"""Writing and verifying the audit log."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ra.audit.models import AuditChainHead, AuditRecord
from ra.db import bulk_insert, utcnow

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


_HEAD = AuditChainHead.__table__
_RECORD = AuditRecord.__table__


def _claim_many(n: int):
    """Claims the next ``n`` sequence numbers: ``UPDATE … RETURNING`` on the head
    row takes its lock (PostgreSQL: the row; SQLite: the database)."""
    return (sa.update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + n)
            .returning(_HEAD.c.seq, _HEAD.c.last_hash))


# Core statements built once: the append runs inside every audited operation.
_CLAIM = _claim_many(1)
_FIELDS = ("seq", "at", "actor_id", "actor", "action", "object_type", "object_id", "details", "prev_hash", "hash")
_APPEND = sa.insert(_RECORD).values({name: sa.bindparam("r_" + name) for name in _FIELDS})
_ADVANCE = sa.update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=sa.bindparam("r_hash"))


@dataclass(frozen=True)
class Appended:
    """Where a record landed in the chain."""
    seq: int
    hash: str


@lru_cache(maxsize=None)
def _write(dialect: str) -> tuple:
    """Insert the record and move the head: one round trip on PostgreSQL (a
    data-modifying CTE always runs to completion), two statements on SQLite."""
    if dialect == "postgresql":
        return (_ADVANCE.add_cte(_APPEND.cte("appended")),)
    return _APPEND, _ADVANCE


@lru_cache(maxsize=None)
def _start_chain(dialect: str):
    """The head row of an empty log; a concurrent first appender's row wins."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_HEAD).values(id=1, seq=0, last_hash=GENESIS).on_conflict_do_nothing(index_elements=["id"])


def record(session, actor, action: str, obj=None, details: dict | None = None, *,
           at: datetime | None = None) -> Appended:
    """Append one record in the caller's transaction. Never put a secret or PIN in
    ``details``: the log is kept for years and read by auditors.

    Core statements on the caller's connection, no ORM flush: claim the next
    ``seq`` (``UPDATE … RETURNING`` on the head row: its row lock on PostgreSQL,
    the write lock on SQLite, so concurrent appenders queue here and the chain
    stays linear without gaps), then insert the record and move the head's hash."""
    at = at or utcnow()
    actor_id, actor_label = _actor_fields(actor)
    object_type, object_id = _object_fields(obj)
    if obj is not None and object_id == "None":
        session.flush()
        object_type, object_id = _object_fields(obj)
    details_json = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str)

    conn = session.connection()
    row = conn.execute(_CLAIM).first()
    if row is None:
        conn.execute(_start_chain(conn.dialect.name))
        row = conn.execute(_CLAIM).first()
    seq, prev = row
    digest = chain_hash(prev, content_of(seq, at, actor_id, actor_label, action, object_type, object_id, details_json))
    values = {"r_seq": seq, "r_at": at, "r_actor_id": actor_id, "r_actor": actor_label, "r_action": action,
              "r_object_type": object_type, "r_object_id": object_id, "r_details": details_json,
              "r_prev_hash": prev, "r_hash": digest}
    for statement in _write(conn.dialect.name):
        conn.execute(statement, values)
    return Appended(seq, digest)


def record_many(session, actor, entries, *, at: datetime) -> None:
    """Appends many records, each ``(action, object_type, object_id, details)``, in
    the chain format of ``record`` (so ``verify`` checks them alike): the head is
    claimed once for all of them, the hashes are chained in memory and the rows go
    in together (COPY on PostgreSQL) — a bulk import of 5,000 orders is one
    append, not 15,000 statements."""
    if not entries:
        return
    actor_id, label = _actor_fields(actor)
    conn = session.connection()
    head = conn.execute(_claim_many(len(entries))).first()
    if head is None:  # an empty log: the single-record path creates the head
        action, object_type, object_id, details = entries[0]
        record(session, actor, action, (object_type, object_id), details, at=at)
        return record_many(session, actor, entries[1:], at=at)
    seq, prev = head[0] - len(entries), head[1]
    rows = []
    for action, object_type, object_id, details in entries:
        seq += 1
        body = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str)
        digest = chain_hash(prev, content_of(seq, at, actor_id, label, action, object_type, str(object_id), body))
        rows.append({"seq": seq, "at": at, "actor_id": actor_id, "actor": label, "action": action,
                     "object_type": object_type, "object_id": str(object_id), "details": body,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    bulk_insert(session, _RECORD, rows)
    conn.execute(_ADVANCE, {"r_hash": prev})


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
