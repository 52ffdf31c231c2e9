"""notify: theme subscriptions, the record of routed answers, milestones, and each account's ARR.

A team subscribes to a feedback theme with a webhook (Standard Webhooks, its own secret) or a Slack
incoming webhook; each subscription has its own row in webhook_endpoints (``subscription_id`` set),
sent by the existing webhook loop. ``feedback_routed`` records every answer (per answer number) the
routing loop has looked at, with the themes its comment is about: the weekly digest counts from it.

Revision ID: notify_0010
Revises: notify_0009
"""

from alembic import op

revision = "notify_0010"
down_revision = "notify_0009"
branch_labels = None
depends_on = None

S = "notify"
DDL = [
    f"ALTER TABLE {S}.accounts ADD COLUMN IF NOT EXISTS arr numeric",
    f"ALTER TABLE {S}.webhook_endpoints ADD COLUMN IF NOT EXISTS subscription_id text",
    # created_at / deleted_at are service-clock times: a subscription receives comments answered after it.
    f"""CREATE TABLE IF NOT EXISTS {S}.theme_subscriptions (
        id text PRIMARY KEY, theme text NOT NULL, team text NOT NULL, kind text NOT NULL, url text NOT NULL,
        endpoint_id text NOT NULL REFERENCES {S}.webhook_endpoints (id), created_at timestamptz NOT NULL,
        deleted_at timestamptz)""",
    f"CREATE INDEX IF NOT EXISTS theme_subscriptions_live ON {S}.theme_subscriptions (theme) WHERE deleted_at IS NULL",
    f"""CREATE TABLE IF NOT EXISTS {S}.feedback_routed (
        channel text NOT NULL, source_id text NOT NULL, seq int NOT NULL, account_id text NOT NULL,
        kind text NOT NULL, score int, comment text NOT NULL DEFAULT '', themes text[] NOT NULL DEFAULT '{{}}',
        answered_at timestamptz NOT NULL, routed_at timestamptz NOT NULL, PRIMARY KEY (channel, source_id, seq))""",
    f"CREATE INDEX IF NOT EXISTS feedback_routed_themes ON {S}.feedback_routed USING gin (themes)",
    f"CREATE INDEX IF NOT EXISTS feedback_routed_at ON {S}.feedback_routed (answered_at)",
    # occurred_at is when the release shipped or the training took place (event time or the CSM's date).
    f"""CREATE TABLE IF NOT EXISTS {S}.milestones (
        id text PRIMARY KEY, kind text NOT NULL, title text NOT NULL, account_id text,
        occurred_at timestamptz NOT NULL, source text NOT NULL, created_by text, created_at timestamptz NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS milestones_at ON {S}.milestones (occurred_at)",
    f"CREATE INDEX IF NOT EXISTS milestones_account ON {S}.milestones (account_id, occurred_at)",
]


def upgrade() -> None:
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {S}.milestones")
    op.execute(f"DROP TABLE IF EXISTS {S}.feedback_routed")
    op.execute(f"DROP TABLE IF EXISTS {S}.theme_subscriptions")
    op.execute(f"ALTER TABLE {S}.webhook_endpoints DROP COLUMN IF EXISTS subscription_id")
    op.execute(f"ALTER TABLE {S}.accounts DROP COLUMN IF EXISTS arr")
