"""touch: an index on processed_messages.seen_at, which the hourly pruning of old ids reads.

Revision ID: touch_0004
Revises: touch_0003
"""

from alembic import op

from touchline.shared.db import processed_index_ddl

revision = "touch_0004"
down_revision = "touch_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(processed_index_ddl("touch"))


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS touch.processed_messages_seen_at")
