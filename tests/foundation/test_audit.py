import threading
from collections import Counter

import sqlalchemy as sa

from ra import audit
from ra.audit.models import AuditChainHead, AuditRecord
from ra.audit.service import verify
from ra.extensions import db


def _write_three(session):
    for i in range(3):
        audit.record(session, "tester", "test.event", ("thing", i), {"n": i})
    session.commit()


def _drop_append_only_guard(session):
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("DROP TRIGGER audit_record_no_change ON audit_record"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_record_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_record_no_delete"))


def test_chain_verifies_and_links_each_record_to_the_previous(ctx):
    _write_three(db.session)
    rows = db.session.execute(sa.select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert verify(db.session).ok


def test_the_database_refuses_to_edit_the_log(ctx):
    _write_three(db.session)
    nested = db.session.begin_nested()
    try:
        db.session.execute(sa.update(AuditRecord).values(action="x"))
        raised = False
    except sa.exc.DBAPIError:
        raised = True
    nested.rollback()
    assert raised


def test_verify_names_the_first_edited_record(app):
    runner = app.test_cli_runner()
    with app.app_context():
        _write_three(db.session)
        last = db.session.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar()
        _drop_append_only_guard(db.session)
        db.session.execute(sa.update(AuditRecord).where(AuditRecord.seq == last - 1)
                           .values(details='{"n": 99}'))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"record {last - 1}" in result.output


def test_verify_catches_a_deleted_record(app):
    runner = app.test_cli_runner()
    with app.app_context():
        _write_three(db.session)
        last = db.session.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar()
        _drop_append_only_guard(db.session)
        db.session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == last - 1))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "missing" in result.output


def test_verify_catches_deleted_tail_records(app):
    runner = app.test_cli_runner()
    with app.app_context():
        _write_three(db.session)
        last = db.session.execute(sa.select(sa.func.max(AuditRecord.seq))).scalar()
        _drop_append_only_guard(db.session)
        db.session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == last))
        db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1


def test_an_intact_log_verifies_from_the_cli(app):
    with app.app_context():
        _write_three(db.session)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_record_says_where_it_landed_in_the_chain(ctx):
    landed = audit.record(db.session, "tester", "test.event", ("thing", 1), {"n": 1})
    row = db.session.execute(sa.select(AuditRecord).where(AuditRecord.seq == landed.seq)).scalar_one()
    assert (row.hash, row.action, row.object_id) == (landed.hash, "test.event", "1")
    assert db.session.get(AuditChainHead, 1).last_hash == landed.hash
    assert verify(db.session).ok


def test_a_bulk_append_chains_like_single_records(ctx):
    """An auditor's ``audit verify`` cannot tell a bulk import's records from ones
    written one by one: same sequence, same links, the head on the last."""
    from ra.db import utcnow

    at = utcnow()
    first = audit.record(db.session, "tester", "single.event", ("thing", 8), {"n": 8}).seq
    audit.record_many(db.session, "tester", [("bulk.event", "thing", i, {"n": i}) for i in range(3)], at=at)
    audit.record(db.session, "tester", "single.event", ("thing", 9), {"n": 9})
    audit.record_many(db.session, "tester", [("bulk.event", "thing", i, {"n": i}) for i in range(3, 5)], at=at)
    db.session.commit()
    rows = db.session.execute(sa.select(AuditRecord).where(AuditRecord.seq >= first)
                              .order_by(AuditRecord.seq)).scalars().all()
    assert [r.seq for r in rows] == list(range(first, first + 7))
    assert [r.object_id for r in rows] == ["8", "0", "1", "2", "9", "3", "4"]
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert db.session.get(AuditChainHead, 1).last_hash == rows[-1].hash
    assert verify(db.session).ok


def test_concurrent_appenders_on_an_empty_log_keep_one_chain_without_gaps(db_kind, tmp_path):
    """Two app instances (as two gunicorn workers) on their own real database —
    not the rolled-back test transaction — start appending at the same moment to
    a log that has no head row yet: the head is created once, every record gets
    its own sequence number, none is lost, and the chain verifies."""
    from flask_migrate import upgrade

    from ra import create_app
    from tests.conftest import TEST_SECRET
    from tests.support.databases import drop_database, make_database

    url = make_database(db_kind, tmp_path)
    try:
        config = {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
                  "SECRET_KEY": TEST_SECRET, "MAIL_URL": "file:"}
        apps = [create_app(config), create_app(config)]
        with apps[0].app_context():
            upgrade(revision="heads")
            assert db.session.get(AuditChainHead, 1) is None
        barrier = threading.Barrier(2)
        errors = []

        def worker(app, name):
            with app.app_context():
                barrier.wait()
                try:
                    for i in range(20):
                        audit.record(db.session, name, "test.concurrent", ("thing", i), {"n": i})
                        db.session.commit()
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=worker, args=(a, f"worker-{i}")) for i, a in enumerate(apps)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        with apps[0].app_context():
            rows = db.session.execute(sa.select(AuditRecord.seq, AuditRecord.actor).order_by(AuditRecord.seq)).all()
            assert [r.seq for r in rows] == list(range(1, 41))
            assert Counter(r.actor for r in rows) == {"worker-0": 20, "worker-1": 20}
            assert db.session.get(AuditChainHead, 1).seq == 40
            assert verify(db.session).ok
            db.session.remove()
            db.engine.dispose()
        with apps[1].app_context():
            db.engine.dispose()
    finally:
        drop_database(url)
