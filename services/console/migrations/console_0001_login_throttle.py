"""console: wrong-password counters shared by every console replica (login throttling).

Revision ID: console_0001
Revises:
"""

from alembic import op

revision = "console_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE console.login_failures (
            scope text NOT NULL,                  -- pair (email + address), address, account (email)
            key text NOT NULL,
            failures integer NOT NULL,
            last_at timestamptz NOT NULL,         -- the latest wrong password under this key
            PRIMARY KEY (scope, key))"""
    )
    op.execute("CREATE INDEX login_failures_last_at ON console.login_failures (last_at)")


def downgrade() -> None:
    op.execute("DROP TABLE console.login_failures")
