"""progress index: the fields /tiendo counts, per task, readable from the index alone

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ["assignment_id", "period", "state", "on_time", "extension_granted", "nil_report",
           "deadline", "unit_id"]


def upgrade() -> None:
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.create_index("ix_target_progress", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.drop_index("ix_target_progress")
