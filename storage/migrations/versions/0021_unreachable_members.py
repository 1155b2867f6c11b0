"""unreachable members: a partial index of the members the platform refuses, which every
claim of the outbox leaves out (without it, a scan of all members per claim)

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UNREACHABLE = "unreachable_since IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_member_unreachable", "member", ["id"],
                    sqlite_where=sa.text(UNREACHABLE), postgresql_where=sa.text(UNREACHABLE))


def downgrade() -> None:
    op.drop_index("ix_member_unreachable", table_name="member")
