"""progress counters: targets counted per task, period and group; the groups' units with the
units below them; each task's current period; a unit's open targets by deadline

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN_TARGET = "state IN ('pending', 'in_progress')"
# The key of progress_tally from a target (storage.tally.progress_key), scope apart.
FIELDS = ("t.assignment_id, t.period, t.state, (t.state = 'submitted' AND t.on_time IS TRUE), "
          "t.extension_granted, t.nil_report, t.deadline")
COLUMNS = "assignment_id, period, state, on_time, extension_granted, nil_report, deadline"


def upgrade() -> None:
    # Not a batch operation: on SQLite that could copy `assignment`, which other tables
    # reference; ADD COLUMN with a constant default is enough.
    op.add_column("assignment", sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=32),
                                          nullable=False, server_default=sa.text("''")))
    op.create_table(
        "group_unit",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("key", "unit_id"),
    )
    with op.batch_alter_table("group_unit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_unit_unit_id"), ["unit_id"], unique=False)
    op.create_table(
        "progress_tally",
        sa.Column("assignment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("extension_granted", sa.Boolean(), nullable=False),
        sa.Column("nil_report", sa.Boolean(), nullable=False),
        sa.Column("deadline", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", "period", "scope", "state", "on_time",
                                "extension_granted", "nil_report", "deadline"),
    )
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.drop_index("ix_target_open_deadline")
        batch_op.create_index("ix_target_open_unit", ["unit_id", "deadline", "assignment_id"],
                              unique=False, sqlite_where=sa.text(OPEN_TARGET),
                              postgresql_where=sa.text(OPEN_TARGET))
    # The current period: the one whose targets were opened last.
    op.execute("""
        UPDATE assignment SET period = coalesce((
            SELECT t.period FROM target t WHERE t.id = (
                SELECT max(n.id) FROM target n WHERE n.assignment_id = assignment.id)), '')""")
    op.execute("""
        INSERT INTO group_unit ("key", unit_id)
        WITH RECURSIVE tree(group_key, unit_id) AS (
            SELECT g."key", g.unit_id FROM unit_group g
            UNION
            SELECT tree.group_key, u.id FROM unit u JOIN tree ON u.parent_id = tree.unit_id)
        SELECT group_key, unit_id FROM tree""")
    op.execute(f"""
        INSERT INTO progress_tally (scope, {COLUMNS}, n)
        SELECT '', {FIELDS}, count(*) FROM target t GROUP BY {FIELDS}""")
    op.execute(f"""
        INSERT INTO progress_tally (scope, {COLUMNS}, n)
        SELECT g."key", {FIELDS}, count(*) FROM target t JOIN group_unit g
        ON g.unit_id = t.unit_id GROUP BY g."key", {FIELDS}""")


def downgrade() -> None:
    with op.batch_alter_table("target", schema=None) as batch_op:
        batch_op.drop_index("ix_target_open_unit")
        batch_op.create_index("ix_target_open_deadline", ["deadline", "assignment_id", "unit_id"],
                              unique=False, sqlite_where=sa.text(OPEN_TARGET),
                              postgresql_where=sa.text(OPEN_TARGET))
    op.drop_table("progress_tally")
    with op.batch_alter_table("group_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_unit_unit_id"))
    op.drop_table("group_unit")
    # Not a batch operation either (SQLite has had DROP COLUMN since 3.35).
    op.execute("ALTER TABLE assignment DROP COLUMN period")
