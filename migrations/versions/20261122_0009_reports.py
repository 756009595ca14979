"""reports: the indexes the report queries need (issue #7)

Revision ID: 0009_reports
Revises: 0008_revocation (the brief names 0005_certificate_links; see down_revision)
Create Date: 2026-11-22 18:00:00

Every report reads the domains' own tables. One rollup, ``token_state_count``
(tokens per state), is kept by triggers on ``token`` in the writer's transaction:
statement-level with transition tables on PostgreSQL (one write per statement,
COPY included, and none unless a state changed), row-level on SQLite. Table and
indexes are declared in ra/reports/models.py too, so schema and metadata agree.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_reports'
# The brief asked for 0005_certificate_links, to be re-chained on commit. Off 0005 it
# would be a second head (tests/conftest.py upgrades to the single head), and one index
# is on revocation_approval (0008): chained after the newest revision in the tree.
down_revision = '0008_revocation'
branch_labels = None
depends_on = None

REVOKED = sa.text("status = 'revoked'")
VALID = sa.text("status = 'valid'")
LIVE = sa.text("status IN ('valid', 'suspended')")
COMPLETED = sa.text("step = 'completed'")

# (name, table, columns, options); the same as ra/reports/indexes.py.
INDEXES = (
    ('ix_certificate_created_at', 'certificate', ['created_at'], {'postgresql_include': ['holder_id', 'profile']}),
    ('ix_certificate_revoked_at', 'certificate', ['revoked_at'],
     {'postgresql_include': ['revocation_reason', 'holder_id', 'profile'], 'postgresql_where': REVOKED,
      'sqlite_where': REVOKED}),
    ('ix_certificate_valid_not_after', 'certificate', ['not_after'],
     {'postgresql_include': ['holder_id', 'profile'], 'postgresql_where': VALID, 'sqlite_where': VALID}),
    ('ix_certificate_renewal', 'certificate', ['holder_id', 'profile', 'not_after'],
     {'postgresql_where': LIVE, 'sqlite_where': LIVE}),
    ('ix_holder_organisation', 'holder', ['id'], {'unique': True, 'postgresql_include': ['organisation_id']}),
    ('ix_handover_certificate_id', 'handover', ['certificate_id'], {}),
    ('ix_handover_completed_at', 'handover', ['completed_at'],
     {'postgresql_include': ['officer_id', 'order_id'], 'postgresql_where': COMPLETED, 'sqlite_where': COMPLETED}),
    ('ix_audit_record_action_at', 'audit_record', ['action', 'at'],
     {'postgresql_include': ['actor_id', 'object_id']}),
    ('ix_certificate_order_decided_at', 'certificate_order', ['decided_at'],
     {'postgresql_include': ['submitted_at', 'status', 'decided_by_id', 'organisation_id', 'profile']}),
    ('ix_certificate_order_issued_at', 'certificate_order', ['issued_at'],
     {'postgresql_include': ['decided_at', 'submitted_at', 'status', 'organisation_id', 'profile']}),
    ('ix_appointment_slot_outcome', 'appointment', ['slot_id'],
     {'postgresql_include': ['status', 'cancelled_at', 'order_id', 'created_at', 'id']}),
    ('ix_revocation_request_timing', 'revocation_request', ['received_at'],
     {'postgresql_include': ['published_at', 'reason', 'status', 'organisation_id']}),
    ('ix_revocation_approval_at', 'revocation_approval', ['at'], {}),
    ('ix_token_created_at', 'token', ['created_at'], {}),
)


PG_FUNCTION = """
CREATE FUNCTION token_state_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO token_state_count (status, tokens)
      SELECT status, count(*) FROM new_rows GROUP BY status
      ON CONFLICT (status) DO UPDATE SET tokens = token_state_count.tokens + EXCLUDED.tokens;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE token_state_count t SET tokens = t.tokens - d.n
      FROM (SELECT status, count(*) AS n FROM old_rows GROUP BY status) d WHERE t.status = d.status;
  ELSE
    INSERT INTO token_state_count (status, tokens)
      SELECT status, sum(n) FROM (
        SELECT n.status, 1 AS n FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.status <> n.status
        UNION ALL
        SELECT o.status, -1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE o.status <> n.status) moved
      GROUP BY status HAVING sum(n) <> 0
      ON CONFLICT (status) DO UPDATE SET tokens = token_state_count.tokens + EXCLUDED.tokens;
  END IF;
  RETURN NULL;
END $$;
"""
PG_TRIGGERS = (
    "CREATE TRIGGER token_state_count_insert AFTER INSERT ON token REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION token_state_count_apply()",
    "CREATE TRIGGER token_state_count_update AFTER UPDATE ON token REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION token_state_count_apply()",
    "CREATE TRIGGER token_state_count_delete AFTER DELETE ON token REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION token_state_count_apply()",
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER token_state_count_insert AFTER INSERT ON token BEGIN "
    "INSERT INTO token_state_count (status, tokens) VALUES (NEW.status, 1) "
    "ON CONFLICT (status) DO UPDATE SET tokens = tokens + 1; END",
    "CREATE TRIGGER token_state_count_update AFTER UPDATE OF status ON token WHEN OLD.status <> NEW.status BEGIN "
    "UPDATE token_state_count SET tokens = tokens - 1 WHERE status = OLD.status; "
    "INSERT INTO token_state_count (status, tokens) VALUES (NEW.status, 1) "
    "ON CONFLICT (status) DO UPDATE SET tokens = tokens + 1; END",
    "CREATE TRIGGER token_state_count_delete AFTER DELETE ON token BEGIN "
    "UPDATE token_state_count SET tokens = tokens - 1 WHERE status = OLD.status; END",
)
TRIGGERS = ('token_state_count_insert', 'token_state_count_update', 'token_state_count_delete')


def upgrade():
    for name, table, columns, options in INDEXES:
        op.create_index(name, table, columns, **options)
    op.create_table('token_state_count',
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('tokens', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('status', name=op.f('pk_token_state_count'))
    )
    postgresql = op.get_bind().dialect.name == 'postgresql'
    if postgresql:
        op.execute("LOCK TABLE token IN SHARE ROW EXCLUSIVE MODE")  # no token change between seed and triggers
    # Seeded from the tokens already there, in the same transaction as the triggers.
    op.execute("INSERT INTO token_state_count (status, tokens) SELECT status, count(*) FROM token GROUP BY status")
    if postgresql:
        op.execute(PG_FUNCTION)
        for statement in PG_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON token" if op.get_bind().dialect.name == 'postgresql'
                                                         else ""))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS token_state_count_apply()")
    op.drop_table('token_state_count')
    for name, table, _columns, _options in reversed(INDEXES):
        op.drop_index(name, table_name=table)
