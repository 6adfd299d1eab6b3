"""sessions and sign-in failures in the database; accounts can be disabled

``usersession`` holds one row per signed-in browser of a built-in account (the SHA-256 of the cookie's
token, never the token), so idle expiry and "sign out everywhere" are decided by the server.
``signinfailure`` holds failed sign-ins, so every app process counts the same guesses.
``useraccount.disabled`` stops an account signing in without removing its memberships.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usersession',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('usersession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usersession_token_hash'), ['token_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_usersession_username'), ['username'], unique=False)

    op.create_table('signinfailure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signinfailure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signinfailure_account'), ['account'], unique=False)
        batch_op.create_index(batch_op.f('ix_signinfailure_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_signinfailure_at'), ['at'], unique=False)

    with op.batch_alter_table('useraccount', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('useraccount', schema=None) as batch_op:
        batch_op.drop_column('disabled')
    with op.batch_alter_table('signinfailure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signinfailure_at'))
        batch_op.drop_index(batch_op.f('ix_signinfailure_address'))
        batch_op.drop_index(batch_op.f('ix_signinfailure_account'))
    op.drop_table('signinfailure')
    with op.batch_alter_table('usersession', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usersession_username'))
        batch_op.drop_index(batch_op.f('ix_usersession_token_hash'))
    op.drop_table('usersession')
