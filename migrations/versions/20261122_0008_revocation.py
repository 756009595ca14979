"""revocation and suspension: requests, approvals, lost-token reports, throttle;
cached CRL entries and the OCSP responder of the embedded CA (issue #6)

Revision ID: 0008_revocation
Revises: 0007_unblock (the brief names 0005_certificate_links; see down_revision)
Create Date: 2026-11-22 16:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_revocation'
# The brief asked for 0005_certificate_links, to be re-chained on commit. Off 0005 it was a
# second head, and tests/conftest.py runs ``upgrade()`` (one head): every test run in the
# shared tree failed. Chained after the newest revision in the tree until then.
down_revision = '0007_unblock'
branch_labels = None
depends_on = None

REASONS = ('keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold',
           'removeFromCRL')
CHANNELS = ('registrar', 'holder', 'officer')
STATUSES = ('awaiting_confirmation', 'awaiting_approval', 'approved', 'completed', 'rejected', 'cancelled')
DECISIONS = ('approve', 'reject')
REPORT_STATUSES = ('code_sent', 'confirmed', 'expired', 'locked', 'not_sent')


def _enum(values, name):
    """As ``ra.db.enum_column`` declares it: the longest value plus 8."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True,
                   length=max(len(v) for v in values) + 8)


def upgrade():
    with op.batch_alter_table('embedded_ca_issued', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crl_entry', sa.LargeBinary(), nullable=True))
    # Covers the CRL's one query (the cached entries of revoked rows only).
    op.create_index(op.f('ix_embedded_ca_issued_crl_entry'), 'embedded_ca_issued', ['authority_id', 'crl_entry'],
                    unique=False, sqlite_where=sa.text('crl_entry IS NOT NULL'),
                    postgresql_where=sa.text('crl_entry IS NOT NULL'))
    with op.batch_alter_table('embedded_ca_authority', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ocsp_certificate_pem', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('ocsp_encrypted_key', sa.LargeBinary(), nullable=True))

    op.create_table('lost_token_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=True),
    sa.Column('status', _enum(REPORT_STATUSES, 'lostreportstatus'), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_report_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('certainly_lost', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['token.id'], name=op.f('fk_lost_token_report_token_id_token')),
    sa.ForeignKeyConstraint(['holder_id'], ['holder.id'], name=op.f('fk_lost_token_report_holder_id_holder')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lost_token_report')),
    sa.UniqueConstraint('reference', name=op.f('uq_lost_token_report_reference')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_lost_token_report_code_digest'))
    )
    with op.batch_alter_table('lost_token_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lost_token_report_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lost_token_report_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lost_token_report_status'), ['status'], unique=False)

    op.create_table('revocation_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=42), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('reason', _enum(REASONS, 'reason'), nullable=False),
    sa.Column('channel', _enum(CHANNELS, 'channel'), nullable=False),
    sa.Column('status', _enum(STATUSES, 'revocationstatus'), nullable=False),
    sa.Column('invalidity_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=254), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('lost_report_id', sa.Integer(), nullable=True),
    sa.Column('position_change_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('crl_number', sa.BigInteger(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('outcome', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'],
                            name=op.f('fk_revocation_request_certificate_id_certificate')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_revocation_request_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['holder_id'], ['holder.id'], name=op.f('fk_revocation_request_holder_id_holder')),
    sa.ForeignKeyConstraint(['token_id'], ['token.id'], name=op.f('fk_revocation_request_token_id_token')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'],
                            name=op.f('fk_revocation_request_requested_by_id_user_account')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['user_account.id'],
                            name=op.f('fk_revocation_request_confirmed_by_id_user_account')),
    sa.ForeignKeyConstraint(['lost_report_id'], ['lost_token_report.id'],
                            name=op.f('fk_revocation_request_lost_report_id_lost_token_report')),
    sa.ForeignKeyConstraint(['position_change_id'], ['position_change.id'],
                            name=op.f('fk_revocation_request_position_change_id_position_change')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revocation_request')),
    sa.UniqueConstraint('number', name=op.f('uq_revocation_request_number'))
    )
    with op.batch_alter_table('revocation_request', schema=None) as batch_op:
        for column in ('certificate_id', 'serial', 'organisation_id', 'holder_id', 'token_id', 'reason', 'status',
                       'lost_report_id', 'position_change_id', 'received_at'):
            batch_op.create_index(batch_op.f(f'ix_revocation_request_{column}'), [column], unique=False)

    op.create_table('revocation_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=False),
    sa.Column('decision', _enum(DECISIONS, 'decision'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['revocation_request.id'],
                            name=op.f('fk_revocation_approval_request_id_revocation_request')),
    sa.ForeignKeyConstraint(['approver_id'], ['user_account.id'],
                            name=op.f('fk_revocation_approval_approver_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revocation_approval')),
    sa.UniqueConstraint('request_id', 'approver_id', name='uq_revocation_approval_request_id')
    )
    with op.batch_alter_table('revocation_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revocation_approval_request_id'), ['request_id'], unique=False)

    op.create_table('revocation_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_revocation_throttle'))
    )


def downgrade():
    op.drop_table('revocation_throttle')
    with op.batch_alter_table('revocation_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revocation_approval_request_id'))
    op.drop_table('revocation_approval')
    with op.batch_alter_table('revocation_request', schema=None) as batch_op:
        for column in ('certificate_id', 'serial', 'organisation_id', 'holder_id', 'token_id', 'reason', 'status',
                       'lost_report_id', 'position_change_id', 'received_at'):
            batch_op.drop_index(batch_op.f(f'ix_revocation_request_{column}'))
    op.drop_table('revocation_request')
    with op.batch_alter_table('lost_token_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lost_token_report_status'))
        batch_op.drop_index(batch_op.f('ix_lost_token_report_holder_id'))
        batch_op.drop_index(batch_op.f('ix_lost_token_report_token_id'))
    op.drop_table('lost_token_report')
    with op.batch_alter_table('embedded_ca_authority', schema=None) as batch_op:
        batch_op.drop_column('ocsp_encrypted_key')
        batch_op.drop_column('ocsp_certificate_pem')
    op.drop_index(op.f('ix_embedded_ca_issued_crl_entry'), table_name='embedded_ca_issued')
    with op.batch_alter_table('embedded_ca_issued', schema=None) as batch_op:
        batch_op.drop_column('crl_entry')
