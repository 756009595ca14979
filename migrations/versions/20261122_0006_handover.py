"""handover: the counter handover's persisted steps (issue #5)

Revision ID: 0006_handover
Revises: 0005_certificate_links
Create Date: 2026-11-22 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_handover'
down_revision = '0005_certificate_links'
branch_labels = None
depends_on = None

STEPS = ('identity_checked', 'token_picked', 'token_initialised', 'key_generated', 'csr_signed',
         'certificate_issued', 'certificate_written', 'completed', 'cancelled')
OPEN = sa.text("step NOT IN ('completed', 'cancelled')")


def upgrade():
    op.create_table('handover',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=True),
    sa.Column('step', sa.Enum(*STEPS, name='handoverstep', native_enum=False, create_constraint=True, length=27), nullable=False),
    sa.Column('id_document_type', sa.Enum('id_card', 'passport', name='iddocument', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('id_document_number', sa.String(length=40), nullable=False),
    sa.Column('pin_source', sa.Enum('typed', 'envelope', name='pinsource', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('envelopes_printed', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=True),
    sa.Column('key_type', sa.String(length=16), nullable=True),
    sa.Column('public_key_sha256', sa.String(length=64), nullable=True),
    sa.Column('csr_pem', sa.Text(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('receipt_number', sa.String(length=40), nullable=True),
    sa.Column('receipt_file', sa.String(length=100), nullable=True),
    sa.Column('error_code', sa.String(length=60), nullable=True),
    sa.Column('error_message', sa.String(length=500), nullable=True),
    sa.Column('error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('officer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], name=op.f('fk_handover_certificate_id_certificate')),
    sa.ForeignKeyConstraint(['officer_id'], ['user_account.id'], name=op.f('fk_handover_officer_id_user_account')),
    sa.ForeignKeyConstraint(['order_id'], ['certificate_order.id'], name=op.f('fk_handover_order_id_certificate_order')),
    sa.ForeignKeyConstraint(['token_id'], ['token.id'], name=op.f('fk_handover_token_id_token')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover')),
    sa.UniqueConstraint('request_id', name=op.f('uq_handover_request_id'))
    )
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_step'), ['step'], unique=False)
        # At most one unfinished handover per order and per token.
        batch_op.create_index('uq_handover_open_order', ['order_id'], unique=True, sqlite_where=OPEN,
                              postgresql_where=OPEN)
        batch_op.create_index('uq_handover_open_token', ['token_id'], unique=True, sqlite_where=OPEN,
                              postgresql_where=OPEN)


def downgrade():
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.drop_index('uq_handover_open_token', sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.drop_index('uq_handover_open_order', sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.drop_index(batch_op.f('ix_handover_step'))
        batch_op.drop_index(batch_op.f('ix_handover_token_id'))
        batch_op.drop_index(batch_op.f('ix_handover_order_id'))

    op.drop_table('handover')
