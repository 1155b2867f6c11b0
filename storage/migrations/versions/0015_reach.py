"""members the platform refuses for good (member.unreachable_since, unreachable_reason);
bulk messages that wait for the end of quiet hours and a working day (outbox.not_before)

Revision ID: 0015
Revises: 0018
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: no copy of a table others refer to.
    op.add_column("member", sa.Column("unreachable_since", sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    op.add_column("member", sa.Column("unreachable_reason",
                                      sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default=sa.text("''")))
    op.add_column("outbox", sa.Column("not_before", sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "not_before")
    op.drop_column("member", "unreachable_reason")
    op.drop_column("member", "unreachable_since")
