"""submissions: the route of a report sent another way (e-mail, paper, the e-office system)

Revision ID: 0018
Revises: 0017
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.statuses import parse_status

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submission", sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=16),
                                          nullable=True))
    # Answers recorded before: a «done» with words was sent another way (a plain «đã nộp»
    # keeps no words); its route is read again from the words kept.
    submission = sa.table("submission", sa.column("id", sa.Integer()),
                          sa.column("kind", sa.String()), sa.column("text", sa.Text()),
                          sa.column("route", sa.String()))
    bind = op.get_bind()
    rows = bind.execute(sa.select(submission.c.id, submission.c.text)
                        .where(submission.c.kind == "done", submission.c.text != "")).all()
    now = datetime.now(UTC)
    for row_id, text in rows:
        answer = parse_status(text, now)
        if answer is not None and answer.route is not None:
            bind.execute(submission.update().where(submission.c.id == row_id)
                         .values(route=answer.route))


def downgrade() -> None:
    op.drop_column("submission", "route")
