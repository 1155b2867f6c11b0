"""unit tally: each unit's history counters, backfilled from its targets; open targets by deadline

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN_TARGET = "state IN ('pending', 'in_progress')"
DELAY = {"sqlite": "julianday(t.submitted_at) - julianday(t.deadline)",
         "postgresql": "extract(epoch from t.submitted_at - t.deadline) / 86400.0"}


def upgrade() -> None:
    op.create_table(
        "unit_tally",
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("delay_days", sa.Double(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id"),
    )
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.create_index("ix_target_open_deadline", ["deadline", "assignment_id", "unit_id"],
                              unique=False, sqlite_where=sa.text(OPEN_TARGET),
                              postgresql_where=sa.text(OPEN_TARGET))
    # The rules of core.progress.history_of, over the targets of tasks not cancelled.
    delay = DELAY[op.get_bind().dialect.name]
    op.execute(f"""
        INSERT INTO unit_tally (unit_id, on_time, late, delay_days, open)
        SELECT t.unit_id,
               sum(CASE WHEN t.state = 'submitted' AND t.on_time IS TRUE THEN 1 ELSE 0 END),
               sum(CASE WHEN t.state = 'submitted' AND t.on_time IS NOT TRUE THEN 1 ELSE 0 END),
               coalesce(sum(CASE WHEN t.state = 'submitted' AND t.on_time IS FALSE
                                 THEN {delay} ELSE 0.0 END), 0.0),
               sum(CASE WHEN t.{OPEN_TARGET} THEN 1 ELSE 0 END)
        FROM target t JOIN assignment a ON a.id = t.assignment_id
        WHERE a.state != 'cancelled'
        GROUP BY t.unit_id""")


def downgrade() -> None:
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.drop_index("ix_target_open_deadline")
    op.drop_table("unit_tally")
