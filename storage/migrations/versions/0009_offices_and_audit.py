"""offices and audit: the office that assigned a task, and where each audited change came from

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tasks assigned before offices existed belong to no office: the whole registry's. Plain
    # ADD COLUMN, not a copy of the table: other tables refer to `assignment`, so SQLite could
    # not drop the old copy; for the same reason the column has no foreign key (units are
    # never deleted).
    op.add_column("assignment", sa.Column("office_id", sa.Integer(), nullable=True))
    op.create_index("ix_assignment_office_id", "assignment", ["office_id"])
    op.add_column("audit_log", sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16),
                                         nullable=False, server_default=sa.text("''")))
    op.add_column("audit_log", sa.Column("assignment_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_assignment_id", "audit_log", ["assignment_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_index("ix_audit_log_assignment_id", table_name="audit_log")
    op.drop_column("audit_log", "assignment_id")
    op.drop_column("audit_log", "channel")
    op.drop_index("ix_assignment_office_id", table_name="assignment")
    op.drop_column("assignment", "office_id")
