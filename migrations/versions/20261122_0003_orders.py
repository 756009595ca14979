"""holders, certificate orders, counters and appointments (issue #3)

Revision ID: 0003_orders
Revises: 0002_ca
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0003_orders"
down_revision = "0002_ca"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=False),
    sa.Column('opens_at', sa.Time(), nullable=False),
    sa.Column('closes_at', sa.Time(), nullable=False),
    sa.Column('break_starts', sa.Time(), nullable=True),
    sa.Column('break_ends', sa.Time(), nullable=True),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('weekdays', sa.String(length=7), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_counter_capacity')),
    sa.CheckConstraint('slot_minutes >= 5 AND slot_minutes <= 240', name=op.f('ck_counter_slot_minutes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter')),
    sa.UniqueConstraint('name', name=op.f('uq_counter_name'))
    )
    op.create_table('appointment_slot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_appointment_slot_seats')),
    sa.ForeignKeyConstraint(['counter_id'], ['counter.id'], name=op.f('fk_appointment_slot_counter_id_counter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_slot')),
    sa.UniqueConstraint('counter_id', 'starts_at', name=op.f('uq_appointment_slot_counter_id'))
    )
    with op.batch_alter_table('appointment_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_slot_starts_at'), ['starts_at'], unique=False)

    op.create_table('holder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('surname', sa.String(length=100), nullable=False),
    sa.Column('given_name', sa.String(length=100), nullable=False),
    sa.Column('clan_name', sa.String(length=100), nullable=False),
    sa.Column('latin_surname', sa.String(length=100), nullable=False),
    sa.Column('latin_given_name', sa.String(length=100), nullable=False),
    sa.Column('register_number', sa.String(length=10), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('department', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('status', sa.Enum('active', 'departed', name='holderstatus', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('listed_in', sa.String(length=40), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_holder_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_holder_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holder'))
    )
    with op.batch_alter_table('holder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holder_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_holder_register_number'), ['register_number'], unique=False)
        batch_op.create_index('uq_holder_active_register_number', ['organisation_id', 'register_number'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('order_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('checked', 'imported', 'discarded', name='importstatus', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('total_rows', sa.Integer(), nullable=False),
    sa.Column('valid_rows', sa.Integer(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_order_import_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_order_import_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_import')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_order_import_stored_name'))
    )
    with op.batch_alter_table('order_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_import_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('certificate_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=40), nullable=False),
    sa.Column('key_type', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.Enum('new', 'renewal', 'position_change', name='orderkind', native_enum=False, create_constraint=True, length=23), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'scheduled', 'issued', 'rejected', 'cancelled', name='orderstatus', native_enum=False, create_constraint=True, length=17), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('subject', sa.String(length=1000), nullable=True),
    sa.Column('replaces_order_id', sa.Integer(), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('certificate_serial', sa.String(length=64), nullable=True),
    sa.Column('certificate_not_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issuer', sa.String(length=300), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_certificate_order_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['holder_id'], ['holder.id'], name=op.f('fk_certificate_order_holder_id_holder')),
    sa.ForeignKeyConstraint(['import_id'], ['order_import.id'], name=op.f('fk_certificate_order_import_id_order_import')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_certificate_order_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['replaces_order_id'], ['certificate_order.id'], name=op.f('fk_certificate_order_replaces_order_id_certificate_order')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_certificate_order_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_order'))
    )
    with op.batch_alter_table('certificate_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_order_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_order_import_id'), ['import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_order_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_order_status'), ['status'], unique=False)
        batch_op.create_index('uq_certificate_order_open', ['holder_id', 'profile'], unique=True, sqlite_where=sa.text("status IN ('draft', 'submitted', 'approved', 'scheduled')"), postgresql_where=sa.text("status IN ('draft', 'submitted', 'approved', 'scheduled')"))

    op.create_table('holder_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('application_form', 'id_card', 'appointment_order', 'subscriber_agreement', name='holderdocumentkind', native_enum=False, create_constraint=True, length=28), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=100), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['checked_by_id'], ['user_account.id'], name=op.f('fk_holder_document_checked_by_id_user_account')),
    sa.ForeignKeyConstraint(['holder_id'], ['holder.id'], name=op.f('fk_holder_document_holder_id_holder')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_holder_document_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_document')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_holder_document_stored_name'))
    )
    with op.batch_alter_table('holder_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holder_document_holder_id'), ['holder_id'], unique=False)

    op.create_table('appointment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('booked', 'cancelled', 'rescheduled', 'attended', name='appointmentstatus', native_enum=False, create_constraint=True, length=19), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('booked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['booked_by_id'], ['user_account.id'], name=op.f('fk_appointment_booked_by_id_user_account')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['user_account.id'], name=op.f('fk_appointment_cancelled_by_id_user_account')),
    sa.ForeignKeyConstraint(['order_id'], ['certificate_order.id'], name=op.f('fk_appointment_order_id_certificate_order')),
    sa.ForeignKeyConstraint(['slot_id'], ['appointment_slot.id'], name=op.f('fk_appointment_slot_id_appointment_slot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment'))
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index('uq_appointment_booked_order', ['order_id'], unique=True, sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))

    op.create_table('position_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('holder_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('old_order_id', sa.Integer(), nullable=True),
    sa.Column('old_certificate_serial', sa.String(length=64), nullable=True),
    sa.Column('old_position', sa.String(length=200), nullable=False),
    sa.Column('new_position', sa.String(length=200), nullable=False),
    sa.Column('old_department', sa.String(length=200), nullable=False),
    sa.Column('new_department', sa.String(length=200), nullable=False),
    sa.Column('revocation', sa.Enum('awaiting_revocation', 'revocation_requested', 'nothing_to_revoke', name='revocationstate', native_enum=False, create_constraint=True, length=28), nullable=False),
    sa.Column('revocation_reference', sa.String(length=100), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['holder_id'], ['holder.id'], name=op.f('fk_position_change_holder_id_holder')),
    sa.ForeignKeyConstraint(['old_order_id'], ['certificate_order.id'], name=op.f('fk_position_change_old_order_id_certificate_order')),
    sa.ForeignKeyConstraint(['order_id'], ['certificate_order.id'], name=op.f('fk_position_change_order_id_certificate_order')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_position_change_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_position_change')),
    sa.UniqueConstraint('order_id', name=op.f('uq_position_change_order_id'))
    )
    with op.batch_alter_table('position_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_position_change_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_position_change_revocation'), ['revocation'], unique=False)



def downgrade():
    with op.batch_alter_table('position_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_position_change_revocation'))
        batch_op.drop_index(batch_op.f('ix_position_change_holder_id'))

    op.drop_table('position_change')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index('uq_appointment_booked_order', sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))
        batch_op.drop_index(batch_op.f('ix_appointment_slot_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_order_id'))

    op.drop_table('appointment')
    with op.batch_alter_table('holder_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holder_document_holder_id'))

    op.drop_table('holder_document')
    with op.batch_alter_table('certificate_order', schema=None) as batch_op:
        batch_op.drop_index('uq_certificate_order_open', sqlite_where=sa.text("status IN ('draft', 'submitted', 'approved', 'scheduled')"), postgresql_where=sa.text("status IN ('draft', 'submitted', 'approved', 'scheduled')"))
        batch_op.drop_index(batch_op.f('ix_certificate_order_status'))
        batch_op.drop_index(batch_op.f('ix_certificate_order_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_order_import_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_order_holder_id'))

    op.drop_table('certificate_order')
    with op.batch_alter_table('order_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_import_organisation_id'))

    op.drop_table('order_import')
    with op.batch_alter_table('holder', schema=None) as batch_op:
        batch_op.drop_index('uq_holder_active_register_number', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index(batch_op.f('ix_holder_register_number'))
        batch_op.drop_index(batch_op.f('ix_holder_organisation_id'))

    op.drop_table('holder')
    with op.batch_alter_table('appointment_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_slot_starts_at'))

    op.drop_table('appointment_slot')
    op.drop_table('counter')
