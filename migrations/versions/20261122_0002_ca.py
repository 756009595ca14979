"""CA connection: certificate requests and records, embedded State CA (issue #4)

Revision ID: 0002_ca
Revises: 0001_foundation
Create Date: 2026-11-22

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0002_ca"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def _enum(values, name, length):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade():
    op.create_table('certificate_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('connector', sa.String(length=40), nullable=False),
    sa.Column('profile', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('csr_pem', sa.Text(), nullable=False),
    sa.Column('key_type', sa.String(length=20), nullable=False),
    sa.Column('public_key_sha256', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('status', _enum(('pending', 'issued', 'rejected'), 'requeststatus', 16), nullable=False),
    sa.Column('ca_reference', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('previous_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_request')),
    sa.UniqueConstraint('request_id', name=op.f('uq_certificate_request_request_id'))
    )
    with op.batch_alter_table('certificate_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_request_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_request_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_request_status'), ['status'], unique=False)

    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_pk', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=42), nullable=False),
    sa.Column('issuer_key_id', sa.String(length=64), nullable=False),
    sa.Column('ca_name', sa.String(length=100), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pem', sa.Text(), nullable=False),
    sa.Column('profile', sa.String(length=40), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('holder_id', sa.Integer(), nullable=True),
    sa.Column('public_key_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', _enum(('valid', 'suspended', 'revoked', 'expired'), 'certificatestatus', 17),
              nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('invalidity_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_pk'], ['certificate_request.id'],
                            name=op.f('fk_certificate_request_pk_certificate_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
    sa.UniqueConstraint('issuer_key_id', 'serial', name=op.f('uq_certificate_issuer_key_id')),
    sa.UniqueConstraint('request_pk', name=op.f('uq_certificate_request_pk'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_holder_id'), ['holder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_not_after'), ['not_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_public_key_sha256'), ['public_key_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_serial'), ['serial'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_status'), ['status'], unique=False)

    op.create_table('embedded_ca_authority',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('is_root', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('key_algorithm', sa.String(length=20), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('encrypted_key', sa.LargeBinary(), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.Column('crl_number', sa.BigInteger(), nullable=False),
    sa.Column('crl_der', sa.LargeBinary(), nullable=True),
    sa.Column('crl_this_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('crl_next_update', sa.DateTime(timezone=True), nullable=True),
    sa.Column('crl_stale', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['embedded_ca_authority.id'],
                            name=op.f('fk_embedded_ca_authority_parent_id_embedded_ca_authority')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embedded_ca_authority')),
    sa.UniqueConstraint('key_id', name=op.f('uq_embedded_ca_authority_key_id')),
    sa.UniqueConstraint('name', name=op.f('uq_embedded_ca_authority_name'))
    )

    op.create_table('embedded_ca_issued',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authority_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=42), nullable=False),
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('public_key_sha256', sa.String(length=64), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('invalidity_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['authority_id'], ['embedded_ca_authority.id'],
                            name=op.f('fk_embedded_ca_issued_authority_id_embedded_ca_authority')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embedded_ca_issued')),
    sa.UniqueConstraint('authority_id', 'serial', name=op.f('uq_embedded_ca_issued_authority_id')),
    sa.UniqueConstraint('request_id', name=op.f('uq_embedded_ca_issued_request_id'))
    )
    with op.batch_alter_table('embedded_ca_issued', schema=None) as batch_op:
        batch_op.create_index('ix_embedded_ca_issued_revoked', ['authority_id', 'revoked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_embedded_ca_issued_serial'), ['serial'], unique=False)


def downgrade():
    with op.batch_alter_table('embedded_ca_issued', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_embedded_ca_issued_serial'))
        batch_op.drop_index('ix_embedded_ca_issued_revoked')
    op.drop_table('embedded_ca_issued')
    op.drop_table('embedded_ca_authority')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        for column in ('status', 'serial', 'public_key_sha256', 'order_id', 'not_after', 'holder_id'):
            batch_op.drop_index(batch_op.f(f'ix_certificate_{column}'))
    op.drop_table('certificate')
    with op.batch_alter_table('certificate_request', schema=None) as batch_op:
        for column in ('status', 'order_id', 'holder_id'):
            batch_op.drop_index(batch_op.f(f'ix_certificate_request_{column}'))
    op.drop_table('certificate_request')
