"""notify: a webhook endpoint is its kind, URL and secret (one URL may be named with several secrets).

Revision ID: notify_0004
Revises: notify_0003
"""

from alembic import op

revision = "notify_0004"
down_revision = "notify_0003"
branch_labels = None
depends_on = None

S = "notify"

DDL = [
    # Two configurations naming one URL with different secrets overwrote each other's secret here.
    f"ALTER TABLE {S}.webhook_endpoints DROP CONSTRAINT IF EXISTS webhook_endpoints_url_key",
    # A 410 disables every row of its URL; a successor is looked up by URL.
    f"CREATE INDEX IF NOT EXISTS webhook_endpoints_url ON {S}.webhook_endpoints (url)",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    # Fails while two rows share a URL (two secrets): which secret should win is not for a migration to guess.
    op.execute(f"DROP INDEX IF EXISTS {S}.webhook_endpoints_url")
    op.execute(f"ALTER TABLE {S}.webhook_endpoints ADD CONSTRAINT webhook_endpoints_url_key UNIQUE (url)")
