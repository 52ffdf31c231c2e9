"""notify: indexes for listing survey answers (GET /v1/answers).

Revision ID: notify_0002
Revises: notify_0001
"""

from alembic import op

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None

S = "notify"

# Partial indexes: answered rows are a small share of messages and deliveries, and answer events a
# small share of link events (opens and clicks), so these stay small.
INDEXES = {
    "inapp_answered": f"{S}.inapp_messages (answered_at) WHERE answer IS NOT NULL",
    "deliveries_answered": f"{S}.deliveries (answered_at) WHERE answer IS NOT NULL",
    "link_events_answers": f"{S}.link_events (delivery_id, id) WHERE kind = 'answer'",
}


def upgrade() -> None:
    for name, target in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {S}.{name}")
