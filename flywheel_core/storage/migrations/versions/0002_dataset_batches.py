"""dataset batches: one Parquet file per imported batch, so an append never rewrites history

Every existing dataset gets its batch 1: the dataset's own file, hash, rows and span.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('datasetbatch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('source_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('file_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('first_event', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dataset_id', 'number'),
    sa.UniqueConstraint('workspace_id', 'content_hash')
    )
    with op.batch_alter_table('datasetbatch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasetbatch_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasetbatch_workspace_id'), ['workspace_id'], unique=False)

    # Existing datasets: their one file is batch 1 (dataset.file_path stays what it was).
    op.execute(
        "INSERT INTO datasetbatch (workspace_id, dataset_id, number, source_name, content_hash, file_path, rows, "
        "first_event, last_event, created_by, created_at) "
        "SELECT workspace_id, id, 1, source_name, content_hash, file_path, rows, first_event, last_event, "
        "created_by, created_at FROM dataset"
    )


def downgrade() -> None:
    with op.batch_alter_table('datasetbatch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasetbatch_workspace_id'))
        batch_op.drop_index(batch_op.f('ix_datasetbatch_dataset_id'))

    op.drop_table('datasetbatch')
