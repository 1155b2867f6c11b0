"""rows written by the tens of thousands lose their foreign keys: the outbox's member, target,
task and reminder, and the reminder's target. On PostgreSQL each key is checked by a query
per row (a task to 50,000 units writes 100,000 messages and 250,000 reminders: most of the
time of [Gửi]); the rows they point to are never deleted (members are marked removed,
targets and tasks stay as history, only planned reminders are withdrawn, and those have no
message yet). Two indexes that every such row fed for nothing: the targets' by task alone
(the unique key and ix_target_progress begin with the task), and the outbox's platform
message ids, now of the rows that have one (those sent).

Revision ID: 0019
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0014"
branch_labels = None
depends_on = None

# (table, column, the table it points to); the outbox first: it refers to the reminders.
LINKS = [("outbox", "member_id", "member"), ("outbox", "target_id", "target"),
         ("outbox", "assignment_id", "assignment"), ("outbox", "reminder_id", "reminder"),
         ("reminder", "target_id", "target")]
# Names for SQLite's unnamed keys, so that the copy of the table can leave them out.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _tables() -> list[str]:
    return list(dict.fromkeys(table for table, _, _ in LINKS))


SENT = sa.text("platform_message_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_target_assignment_id", table_name="target")
    op.drop_index("ix_outbox_platform_message_id", table_name="outbox")
    op.create_index("ix_outbox_platform_message_id", "outbox", ["platform_message_id"],
                    sqlite_where=SENT, postgresql_where=SENT)
    if op.get_bind().dialect.name == "sqlite":
        for table in _tables():  # a copy of the table without them
            with op.batch_alter_table(table, recreate="always",
                                      naming_convention=SQLITE_NAMES) as batch_op:
                for name in [f"fk_{t}_{c}_{r}" for t, c, r in LINKS if t == table]:
                    batch_op.drop_constraint(name, type_="foreignkey")
        return
    for table, column, _ in LINKS:
        op.drop_constraint(f"{table}_{column}_fkey", table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in reversed(_tables()):
            with op.batch_alter_table(table, recreate="always") as batch_op:
                for t, column, referred in LINKS:
                    if t == table:
                        batch_op.create_foreign_key(f"fk_{t}_{column}_{referred}", referred,
                                                    [column], ["id"])
    else:
        for table, column, referred in LINKS:
            op.create_foreign_key(f"{table}_{column}_fkey", table, referred, [column], ["id"])
    op.drop_index("ix_outbox_platform_message_id", table_name="outbox")
    op.create_index("ix_outbox_platform_message_id", "outbox", ["platform_message_id"])
    op.create_index("ix_target_assignment_id", "target", ["assignment_id"])
