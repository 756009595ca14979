"""pin_envelope: sealed PIN envelopes waiting to be printed, shared by every worker

Revision ID: 0010_pin_envelopes
Revises: 0009_reports
Create Date: 2026-11-22 05:30:00

The envelope PDF was held in one process's memory, so with several gunicorn
workers or nodes the officer's print could reach another one and find nothing.
It now waits here, encrypted under a key only the officer's session holds
(``ra.tokens.envelopes``).
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_pin_envelopes'
down_revision = '0009_reports'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pin_envelope',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lookup', sa.String(length=64), nullable=False),
        sa.Column('handover_id', sa.Integer(), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['handover_id'], ['handover.id'], name=op.f('fk_pin_envelope_handover_id_handover')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pin_envelope')),
        sa.UniqueConstraint('lookup', name=op.f('uq_pin_envelope_lookup')),
    )
    with op.batch_alter_table('pin_envelope', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pin_envelope_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_pin_envelope_handover_id'), ['handover_id'], unique=False)


def downgrade():
    with op.batch_alter_table('pin_envelope', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pin_envelope_handover_id'))
        batch_op.drop_index(batch_op.f('ix_pin_envelope_expires_at'))
    op.drop_table('pin_envelope')
