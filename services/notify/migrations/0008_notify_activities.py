"""notify: activities a CSM logs on an account (call, meeting, email, note), next to the tasks.

Revision ID: notify_0008
Revises: notify_0007
"""

from alembic import op

revision = "notify_0008"
down_revision = "notify_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE IF NOT EXISTS notify.activities (
            id text PRIMARY KEY, account_id text NOT NULL, kind text NOT NULL, contact text,
            occurred_at timestamptz NOT NULL, outcome text NOT NULL, reached boolean NOT NULL,
            relationship smallint CHECK (relationship BETWEEN 1 AND 5), csm text NOT NULL,
            created_at timestamptz NOT NULL)"""
    )
    op.execute("CREATE INDEX IF NOT EXISTS activities_account ON notify.activities (account_id, occurred_at)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS notify.activities")
