"""submissions can be withdrawn or moved to another target ([Nộp nhầm]): the row stays as
history, marked with when and, for a move, the submission it became

Revision ID: 0014
Revises: 0012
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submission", sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                          nullable=True))
    op.add_column("submission", sa.Column("moved_to", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("submission", "moved_to")
    op.drop_column("submission", "withdrawn_at")
