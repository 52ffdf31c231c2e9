"""notify: email commands waiting for their recipients; which instance still configures a webhook endpoint.

Revision ID: notify_0003
Revises: notify_0002
"""

from alembic import op

revision = "notify_0003"
down_revision = "notify_0002"
branch_labels = None
depends_on = None

S = "notify"

DDL = [
    # parked_at / expires_at are service-clock times (simulated when simulated): the wait is business time.
    f"""CREATE TABLE IF NOT EXISTS {S}.parked_commands (
        command_id text PRIMARY KEY, account_id text NOT NULL, channel text NOT NULL, command jsonb NOT NULL,
        parked_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS parked_account ON {S}.parked_commands (account_id)",
    f"CREATE INDEX IF NOT EXISTS parked_expiry ON {S}.parked_commands (expires_at)",
    # Wall clock, stamped by every running instance whose configuration names the endpoint.
    f"ALTER TABLE {S}.webhook_endpoints ADD COLUMN IF NOT EXISTS configured_at timestamptz",
    f"CREATE INDEX IF NOT EXISTS webhook_pending_endpoint ON {S}.webhook_deliveries (endpoint_id) WHERE state = 'pending'",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.webhook_pending_endpoint")
    op.execute(f"ALTER TABLE {S}.webhook_endpoints DROP COLUMN IF EXISTS configured_at")
    op.execute(f"DROP TABLE IF EXISTS {S}.parked_commands")
