"""tokens: stock batches and tokens

Revision ID: 0004_tokens
Revises: 0003_orders
Create Date: 2026-11-22 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_tokens'
down_revision = "0003_orders"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('token_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('factory_so_pin', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['received_by_id'], ['user_account.id'], name=op.f('fk_token_batch_received_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_batch')),
    sa.UniqueConstraint('reference', name=op.f('uq_token_batch_reference'))
    )
    with op.batch_alter_table('token_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_batch_model'), ['model'], unique=False)

    op.create_table('token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('in_stock', 'active', 'suspended', 'lost', 'damaged', 'returned', 'destroyed', name='tokenstatus', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('so_pin', sa.Text(), nullable=True),
    sa.Column('so_pin_pending', sa.Text(), nullable=True),
    sa.Column('initialised_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['token_batch.id'], name=op.f('fk_token_batch_id_token_batch')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token')),
    sa.UniqueConstraint('serial', name=op.f('uq_token_serial'))
    )
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_token_status'), ['status'], unique=False)
        # Serials are matched case-insensitively (typed, scanned, or read from the module).
        batch_op.create_index('ix_token_serial_lower', [sa.text('lower(serial)')], unique=True)


def downgrade():
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.drop_index('ix_token_serial_lower')
        batch_op.drop_index(batch_op.f('ix_token_status'))
        batch_op.drop_index(batch_op.f('ix_token_batch_id'))

    op.drop_table('token')
    with op.batch_alter_table('token_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_batch_model'))

    op.drop_table('token_batch')
