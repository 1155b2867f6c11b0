"""cascade: a task handed down by an office links to its parent task and to the office's target

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN without foreign keys, as in 0009: SQLite cannot add one to a table that
    # others refer to without copying it.
    op.add_column("assignment", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("assignment", sa.Column("parent_target_id", sa.Integer(), nullable=True))
    op.create_index("ix_assignment_parent_id", "assignment", ["parent_id"])
    op.create_index("ix_assignment_parent_target_id", "assignment", ["parent_target_id"])


def downgrade() -> None:
    op.drop_index("ix_assignment_parent_target_id", table_name="assignment")
    op.drop_index("ix_assignment_parent_id", table_name="assignment")
    op.drop_column("assignment", "parent_target_id")
    op.drop_column("assignment", "parent_id")
