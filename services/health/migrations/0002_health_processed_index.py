"""health: an index on processed_messages.seen_at, which the hourly pruning of old ids reads.

Revision ID: health_0002
Revises: health_0001
"""

from alembic import op

from touchline.shared.db import processed_index_ddl

revision = "health_0002"
down_revision = "health_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(processed_index_ddl("health"))


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS health.processed_messages_seen_at")
