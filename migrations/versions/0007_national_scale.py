"""national scale: index for the newest-first list of submitted reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:00:00

"""
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # the admin list of submitted reports is ordered by submitted_at (newest first): without an index
    # PostgreSQL sorted every version (388,000 on the national data set) for each page, 1.3 s → 70 ms
    op.create_index('ix_submission_submitted_at', 'submission', ['submitted_at'], unique=False)


def downgrade():
    op.drop_index('ix_submission_submitted_at', table_name='submission')
