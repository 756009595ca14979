"""holder accounts: the user's register number, activation links, step-up codes, booking shortage days

Revision ID: 0011_holder_accounts
Revises: 0010_pin_envelopes
Create Date: 2026-12-01 23:00:00

A holder logs in as a person (one account per register number, any of their
registered work e-mails); the link that activates the account and the codes
that confirm sensitive actions are kept only as digests.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_holder_accounts'
down_revision = '0010_pin_envelopes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('register_number', sa.String(length=10), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_user_account_register_number'), ['register_number'])
    op.create_table(
        'holder_activation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret_digest', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_holder_activation_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_activation')),
        sa.UniqueConstraint('secret_digest', name=op.f('uq_holder_activation_secret_digest')),
    )
    with op.batch_alter_table('holder_activation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holder_activation_user_id'), ['user_id'], unique=False)
    op.create_table(
        'holder_step_up',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=40), nullable=False),
        sa.Column('target', sa.String(length=64), nullable=False),
        sa.Column('code_digest', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failed_attempts', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_holder_step_up_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_step_up')),
    )
    with op.batch_alter_table('holder_step_up', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holder_step_up_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_holder_step_up_created_at'), ['created_at'], unique=False)
    op.create_table(
        'booking_shortage_day',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('first_order_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['first_order_id'], ['certificate_order.id'],
                                name=op.f('fk_booking_shortage_day_first_order_id_certificate_order')),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_booking_shortage_day')),
    )


def downgrade():
    op.drop_table('booking_shortage_day')
    op.drop_table('holder_step_up')
    op.drop_table('holder_activation')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_user_account_register_number'), type_='unique')
        batch_op.drop_column('register_number')
