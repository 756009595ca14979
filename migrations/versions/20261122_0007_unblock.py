"""remote PIN unblock: one-time codes, unblock sessions, request throttle

Revision ID: 0007_unblock
Revises: 0006_handover
Create Date: 2026-11-22 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_unblock'
down_revision = '0006_handover'
branch_labels = None
depends_on = None

STATUSES = ('code_sent', 'code_accepted', 'user_pin_set', 'so_pin_drawn', 'so_pin_setting', 'completed', 'expired',
            'locked', 'cancelled')


def upgrade():
    op.create_table('token_unblock_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('holder', 'registrar', 'ru_staff', name='unblockchannel', native_enum=False,
                                 create_constraint=True, length=17), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum(*STATUSES, name='unblockstatus', native_enum=False, create_constraint=True,
                                length=22), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_digest', sa.String(length=64), nullable=True),
    sa.Column('session_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('so_pin_setting_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['token_id'], ['token.id'], name=op.f('fk_token_unblock_request_token_id_token')),
    sa.ForeignKeyConstraint(['holder_id'], ['holder.id'], name=op.f('fk_token_unblock_request_holder_id_holder')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'],
                            name=op.f('fk_token_unblock_request_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_unblock_request')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_token_unblock_request_code_digest'))
    )
    with op.batch_alter_table('token_unblock_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_unblock_request_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_token_unblock_request_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_token_unblock_request_status'), ['status'], unique=False)

    op.create_table('token_unblock_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_token_unblock_throttle'))
    )


def downgrade():
    op.drop_table('token_unblock_throttle')
    with op.batch_alter_table('token_unblock_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_unblock_request_status'))
        batch_op.drop_index(batch_op.f('ix_token_unblock_request_holder_id'))
        batch_op.drop_index(batch_op.f('ix_token_unblock_request_token_id'))

    op.drop_table('token_unblock_request')
