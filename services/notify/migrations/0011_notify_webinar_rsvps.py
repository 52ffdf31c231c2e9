"""notify: seats taken at webinars, one per address, through the invitation's signed RSVP link.

Revision ID: notify_0011
Revises: notify_0010
"""

from alembic import op

revision = "notify_0011"
down_revision = "notify_0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE IF NOT EXISTS notify.webinar_rsvps (
            webinar_id text NOT NULL, email text NOT NULL, account_id text NOT NULL, user_id text,
            delivery_id text NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (webinar_id, email))"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS notify.webinar_rsvps")
