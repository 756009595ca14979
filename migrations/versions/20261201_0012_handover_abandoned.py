"""handover: a handover may end abandoned because its token failed

Revision ID: 0012_handover_abandoned
Revises: 0011_holder_accounts
Create Date: 2026-12-01 22:00:00

A token that dies in the middle of a handover (its PKCS#11 objects gone, the slot
empty) left the handover open for ever: resume and cancel both need the token.
The officer now records the token damaged from the open handover, which ends as
``abandoned`` and no longer blocks a new handover of the order.
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_handover_abandoned'
down_revision = '0011_holder_accounts'
branch_labels = None
depends_on = None

OLD_STEPS = ('identity_checked', 'token_picked', 'token_initialised', 'key_generated', 'csr_signed',
             'certificate_issued', 'certificate_written', 'completed', 'cancelled')
NEW_STEPS = OLD_STEPS + ('abandoned',)
OLD_OPEN = sa.text("step NOT IN ('completed', 'cancelled')")
NEW_OPEN = sa.text("step NOT IN ('completed', 'cancelled', 'abandoned')")


def _steps(steps) -> str:
    return "step IN (%s)" % ", ".join(f"'{s}'" for s in steps)


def _switch(steps, old_open, new_open) -> None:
    with op.batch_alter_table('handover', schema=None) as batch_op:
        batch_op.drop_index('uq_handover_open_token', sqlite_where=old_open, postgresql_where=old_open)
        batch_op.drop_index('uq_handover_open_order', sqlite_where=old_open, postgresql_where=old_open)
        batch_op.drop_constraint(op.f('ck_handover_handoverstep'), type_='check')
        batch_op.create_check_constraint('handoverstep', sa.text(_steps(steps)))
        batch_op.create_index('uq_handover_open_order', ['order_id'], unique=True, sqlite_where=new_open,
                              postgresql_where=new_open)
        batch_op.create_index('uq_handover_open_token', ['token_id'], unique=True, sqlite_where=new_open,
                              postgresql_where=new_open)


def upgrade():
    _switch(NEW_STEPS, OLD_OPEN, NEW_OPEN)


def downgrade():
    _switch(OLD_STEPS, NEW_OPEN, OLD_OPEN)
