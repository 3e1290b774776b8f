"""row versions: optimistic locking of the rows edited in the admin forms

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# the tables of service.common.versioning.RowVersioned models
TABLES = ('user_account', 'indicator_target', 'facility', 'staffing_condition', 'role_category',
          'qualification_type', 'role_requirement', 'staff_member', 'qualification', 'course', 'training_class',
          'training_plan', 'training_target')


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column('row_version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('row_version')
