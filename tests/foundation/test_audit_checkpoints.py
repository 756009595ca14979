"""Signed checkpoints: what an auditor relies on when someone with write access
to the database rewrites the log and recomputes the chain. And ``audit verify``
on damaged records: it names the record, it never crashes."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from ra import audit
from ra.audit import checkpoints
from ra.audit.models import AuditChainHead, AuditRecord
from ra.audit.service import chain_hash, content_of
from ra.extensions import db


def _write(n: int, label: str = "event") -> None:
    for i in range(n):
        audit.record(db.session, "tester", f"test.{label}", ("thing", i), {"n": i})
    db.session.commit()


def _last_seq() -> int:
    return db.session.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar()


def _checkpoint(runner) -> int:
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return db.session.execute(sa.select(AuditChainHead.seq)).scalar() - 1  # the records it covers


def _drop_append_only_guard(session):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("DROP TRIGGER IF EXISTS audit_record_no_change ON audit_record"))
    else:
        session.execute(sa.text("DROP TRIGGER IF EXISTS audit_record_no_update"))
        session.execute(sa.text("DROP TRIGGER IF EXISTS audit_record_no_delete"))


def _chain_alone_holds() -> bool:
    """What the unkeyed chain can tell: every link and every hash agree."""
    prev = "0" * 64
    for r in db.session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)
                                .execution_options(populate_existing=True)).scalars():
        digest = chain_hash(prev, content_of(r.seq, r.at, r.actor_id, r.actor, r.action, r.object_type,
                                             r.object_id, r.details))
        if r.prev_hash != prev or r.hash != digest:
            return False
        prev = r.hash
    return db.session.execute(sa.select(AuditChainHead.last_hash)).scalar() == prev


def _rewrite_and_rechain(seq: int, details: str) -> None:
    """The attack: change one record, recompute every later hash and the head,
    with the append-only trigger out of the way, as a DBA-level intruder can."""
    _drop_append_only_guard(db.session)
    db.session.execute(sa.update(AuditRecord).where(AuditRecord.seq == seq).values(details=details))
    prev = db.session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == seq - 1)).scalar()
    rows = db.session.execute(sa.select(AuditRecord).where(AuditRecord.seq >= seq).order_by(AuditRecord.seq)
                              .execution_options(populate_existing=True)).scalars().all()
    for r in rows:
        digest = chain_hash(prev, content_of(r.seq, r.at, r.actor_id, r.actor, r.action, r.object_type,
                                             r.object_id, r.details))
        db.session.execute(sa.update(AuditRecord).where(AuditRecord.id == r.id)
                           .values(prev_hash=prev, hash=digest))
        prev = digest
    db.session.execute(sa.update(AuditChainHead).where(AuditChainHead.id == 1).values(last_hash=prev))
    db.session.commit()


def test_checkpoint_signs_the_head_with_a_key_kept_in_a_0600_file(app):
    runner = app.test_cli_runner()
    with app.app_context():
        _write(3)
        covered = _checkpoint(runner)
        key_file = Path(app.config["AUDIT_KEY"])
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        key_before = key_file.read_bytes()
        _write(2)
        _checkpoint(runner)
        assert key_file.read_bytes() == key_before  # generated once, then reused

        lines = Path(app.config["AUDIT_CHECKPOINTS"]).read_text().splitlines()
        shipped = [checkpoints.Checkpoint.parse(line) for line in lines]
        assert [cp.count for cp in shipped] == [covered, covered + 3]  # 2 records + the first checkpoint's own
        public = checkpoints.public_key_of(key_file)
        assert all(cp.signed_by(public) for cp in shipped)
        head_at_first = db.session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == covered)).scalar()
        assert shipped[0].head == head_at_first
        in_log = db.session.execute(sa.select(AuditRecord.details).where(
            AuditRecord.action == "audit.checkpoint").order_by(AuditRecord.seq)).scalars().all()
        assert [json.loads(d)["signature"] for d in in_log][-2:] == [cp.signature for cp in shipped]

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "2 signed checkpoints agree" in result.output


def test_a_rewritten_and_rechained_log_is_caught_by_the_checkpoint(app):
    runner = app.test_cli_runner()
    with app.app_context():
        _write(3)
        first = _checkpoint(runner)
        _write(4)
        second = _checkpoint(runner)
        _write(2)
        victim = first + 2  # a record between the two checkpoints
        _rewrite_and_rechain(victim, '{"n": 99, "rewritten": true}')
        # Against the chain alone the attack works: every hash is consistent.
        assert _chain_alone_holds()

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    out = result.output
    assert f"BROKEN at record {first + 1}:" in out             # the first record after the last good checkpoint
    assert f"signed for records 1-{second}" in out             # the checkpoint that caught it
    assert f"the last good checkpoint covers records 1-{first}" in out


def test_a_forged_checkpoint_in_the_log_is_refused(app):
    """The intruder also rewrites the in-log checkpoint to the new head: without
    the audit key the signature cannot follow, and the shipped copy still holds."""
    runner = app.test_cli_runner()
    with app.app_context():
        _write(3)
        covered = _checkpoint(runner)
        record_seq = covered + 1
        _rewrite_and_rechain(covered - 1, '{"n": 42}')
        new_head = db.session.execute(sa.select(AuditRecord.hash).where(AuditRecord.seq == covered)).scalar()
        details = json.loads(db.session.execute(sa.select(AuditRecord.details).where(
            AuditRecord.seq == record_seq)).scalar())
        _rewrite_and_rechain(record_seq, json.dumps({**details, "head": new_head}, sort_keys=True))
        Path(app.config["AUDIT_CHECKPOINTS"]).unlink()  # the local copy is gone too; the log's is forged

    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"checkpoint record {record_seq}" in result.output and "not signed by the audit key" in result.output


def _damage(app, *statements: str, unreadable: bool = True) -> str:
    runner = app.test_cli_runner()
    with app.app_context():
        _write(3)
        seq = _last_seq() - 1
        _drop_append_only_guard(db.session)
        for sql in statements:
            db.session.execute(sa.text(sql), {"seq": seq} if ":seq" in sql else {})
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit), \
        result.output
    assert "Traceback" not in result.output
    named = f"BROKEN at record {seq}: record {seq} is damaged" if unreadable else f"BROKEN at record {seq}:"
    assert named in result.output, result.output
    return result.output


def test_verify_names_a_record_whose_time_cannot_be_read(app, db_kind):
    if db_kind == "postgresql":  # timestamptz cannot hold 21:65; only SQLite's text column can
        out = _damage(app, "ALTER TABLE audit_record ALTER COLUMN at DROP NOT NULL",
                      "UPDATE audit_record SET at = NULL WHERE seq = :seq")
        assert "at is empty (NULL)" in out
        return
    # 21:5x → 21:6x, as in the field
    out = _damage(app, "UPDATE audit_record SET at = substr(at, 1, 14) || '6' || substr(at, 16) WHERE seq = :seq")
    assert "time (at) cannot be read" in out


def test_verify_names_a_record_with_broken_json(app):
    assert "not valid JSON" in _damage(app, "UPDATE audit_record SET details = '{\"n\": ' WHERE seq = :seq")


@pytest.mark.parametrize("column", ["hash", "details"])
def test_verify_names_a_record_with_an_empty_field(app, db_kind, column):
    if db_kind == "postgresql":
        out = _damage(app, f"ALTER TABLE audit_record ALTER COLUMN {column} DROP NOT NULL",
                      f"UPDATE audit_record SET {column} = NULL WHERE seq = :seq")
        assert f"its {column} is empty (NULL)" in out
        return
    # SQLite cannot drop a NOT NULL constraint in place; an empty value is the
    # damage its columns can hold.
    _damage(app, f"UPDATE audit_record SET {column} = '' WHERE seq = :seq", unreadable=column == "details")
