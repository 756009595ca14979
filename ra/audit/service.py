"""Writing and verifying the audit log."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ra.audit import checkpoints
from ra.audit.checkpoints import Checkpoint
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


def record_checkpoint(session, key, *, at: datetime) -> Checkpoint:
    """Signs the head (hash and record count) as committed so far and writes the
    checkpoint into the log; the caller commits, then ``checkpoints.ship``s it."""
    head = session.connection().execute(sa.select(_HEAD.c.seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1)).first()
    count, last = (head.seq, head.last_hash) if head is not None else (0, GENESIS)
    checkpoint = checkpoints.sign(key, count=count, head=last, at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    record(session, "system", checkpoints.ACTION, None, asdict(checkpoint), at=at)
    return checkpoint


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    bad_seq: int | None = None
    reason: str = ""
    checkpoints: int = 0  # distinct checkpoints whose signature and hash agree with the log
    last_good: int | None = None  # the record count of the last of them


_COLUMNS = (AuditRecord.seq, sa.type_coerce(_RECORD.c.at, sa.Unicode).label("at"), AuditRecord.actor_id,
            AuditRecord.actor, AuditRecord.action, AuditRecord.object_type, AuditRecord.object_id,
            AuditRecord.details, AuditRecord.prev_hash, AuditRecord.hash)
_REQUIRED = ("at", "actor", "action", "details", "prev_hash", "hash")


def _time_of(raw) -> datetime:
    """The record's ``at`` as the chain hashed it; read raw, so that a damaged
    value is reported instead of raising inside the database driver."""
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        value = datetime.fromisoformat(raw)
    else:
        raise ValueError(f"unexpected type {type(raw).__name__}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _damage(r) -> tuple[str, datetime | None]:
    """What is unreadable in a record (empty when nothing), and its time."""
    for name in _REQUIRED:
        if getattr(r, name) is None:
            return f"its {name} is empty (NULL)", None
    try:
        at = _time_of(r.at)
    except (ValueError, TypeError, OverflowError):
        return f"its time (at) cannot be read: {str(r.at)[:40]!r}", None
    try:
        json.loads(r.details)
    except (ValueError, TypeError):
        return "its details are not valid JSON", at
    return "", at


def _checkpoints_to_check(session, public_key, shipped_path) -> tuple[dict, str]:
    """Checkpoints by record count, from the log and the shipped file; a reason
    instead when one cannot be trusted (a bad signature, another key, no key)."""
    rows = session.execute(sa.select(AuditRecord.seq, AuditRecord.details)
                           .where(AuditRecord.action == checkpoints.ACTION).order_by(AuditRecord.seq)).all()
    found: list[tuple[str, checkpoints.Checkpoint]] = []
    for seq, details in rows:
        try:
            found.append((f"checkpoint record {seq}", checkpoints.Checkpoint.parse(details)))
        except (ValueError, TypeError):
            continue  # the walk names the damaged record itself
    shipped, unreadable = checkpoints.read_shipped(shipped_path)
    if unreadable:
        return {}, "the checkpoint file is damaged: " + "; ".join(unreadable[:3])
    found += [(f"shipped checkpoint of {cp.at}", cp) for cp in shipped]
    if found and public_key is None:
        return {}, f"{len(found)} checkpoints cannot be checked: the audit key is missing"
    by_count: dict[int, list[tuple[str, checkpoints.Checkpoint]]] = {}
    for label, cp in found:
        if not cp.signed_by(public_key):
            return {}, f"the {label} (record count {cp.count}) is not signed by the audit key"
        by_count.setdefault(cp.count, []).append((label, cp))
    return by_count, ""


def verify(session, batch: int = 5000, *, public_key=None, checkpoint_file=None) -> VerifyResult:
    """Walks the chain in order and names the first record that is damaged (an
    empty or unreadable field), missing, unlinked or not matching its hash; checks
    the head against the last record; and checks every signed checkpoint (in the
    log and in ``checkpoint_file``) against the hash of the record it vouches for.
    A rewrite with every later hash recomputed passes the chain but not a
    checkpoint: the first record after the last good checkpoint is named."""
    by_count, trouble = _checkpoints_to_check(session, public_key, checkpoint_file)
    prev = GENESIS
    expected_seq = 1
    checked = good = 0
    last_good: int | None = None

    def broken(seq, reason) -> VerifyResult:
        if last_good is not None:
            reason += f" (the last good checkpoint covers records 1-{last_good})"
        return VerifyResult(False, checked, seq, reason, good, last_good)

    if trouble:
        return VerifyResult(False, 0, 1, trouble)
    while True:
        rows = session.execute(sa.select(*_COLUMNS).where(AuditRecord.seq >= expected_seq)
                               .order_by(AuditRecord.seq).limit(batch)).all()
        if not rows:
            break
        for r in rows:
            if r.seq != expected_seq:
                return broken(expected_seq, f"record {expected_seq} is missing")
            damage, at = _damage(r)
            if damage:
                return broken(r.seq, f"record {r.seq} is damaged: {damage}")
            if r.prev_hash != prev:
                return broken(r.seq, "link to the previous record is broken")
            digest = chain_hash(prev, content_of(r.seq, at, r.actor_id, r.actor, r.action, r.object_type,
                                                 r.object_id, r.details))
            if digest != r.hash:
                return broken(r.seq, "content does not match its hash")
            for label, cp in by_count.get(r.seq, ()):
                if cp.head != r.hash:
                    first = (last_good or 0) + 1
                    return broken(first, f"the {label}, signed for records 1-{cp.count}, does not match the log: "
                                         f"records from {first} to {cp.count} were rewritten")
            if r.seq in by_count:  # the log's copy and the shipped copy are one checkpoint
                good, last_good = good + len({cp.signature for _, cp in by_count[r.seq]}), r.seq
            prev = r.hash
            expected_seq += 1
            checked += 1
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        return broken(expected_seq, "records after this one were deleted")
    beyond = [label for count, found in by_count.items() if count >= expected_seq for label, _ in found]
    if beyond:
        first = (last_good or 0) + 1
        return broken(first, f"the {beyond[0]} vouches for more records than the log has ({expected_seq - 1}): "
                             f"records after {first - 1} were removed or rewritten")
    return VerifyResult(True, checked, checkpoints=good, last_good=last_good)
