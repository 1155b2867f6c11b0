"""reminders lose three columns nothing used: attempts, claimed_by, claimed_at (the sweep
claims reminders with row locks, and the outbox keeps its own claims)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain DROP COLUMN (SQLite has it since 3.35): no copy of a table others refer to.
    for column in ("claimed_at", "claimed_by", "attempts"):
        op.drop_column("reminder", column)


def downgrade() -> None:
    op.add_column("reminder", sa.Column("attempts", sa.Integer(), nullable=False,
                                        server_default="0"))
    op.add_column("reminder", sa.Column("claimed_by",
                                        sqlmodel.sql.sqltypes.AutoString(length=64),
                                        nullable=True))
    op.add_column("reminder", sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                        nullable=True))
