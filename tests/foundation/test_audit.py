import sqlalchemy as sa

from ra import audit
from ra.audit.models import AuditRecord
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
