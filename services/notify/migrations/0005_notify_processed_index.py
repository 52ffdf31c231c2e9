"""notify: an index on processed_messages.seen_at, which the hourly pruning of old ids reads.

Revision ID: notify_0005
Revises: notify_0004
"""

from alembic import op

from touchline.shared.db import processed_index_ddl

revision = "notify_0005"
down_revision = "notify_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(processed_index_ddl("notify"))


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS notify.processed_messages_seen_at")
