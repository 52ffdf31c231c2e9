"""touch: webinars (one-to-many touch) and the segment each is for.

Revision ID: touch_0009
Revises: touch_0008
"""

from alembic import op

revision = "touch_0009"
down_revision = "touch_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE touch.webinars (
            id text PRIMARY KEY, title text NOT NULL, starts_at timestamptz NOT NULL,
            capacity integer NOT NULL CHECK (capacity > 0), tiers text[] NOT NULL, phases text[] NOT NULL,
            created_at timestamptz NOT NULL)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS touch.webinars")
