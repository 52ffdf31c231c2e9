"""touch: Idempotency-Key of enrolments by hand.

Revision ID: touch_0002
Revises: touch_0001
"""

from alembic import op

revision = "touch_0002"
down_revision = "touch_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per key a client sent with a successful enrolment by hand: the request it came with
    # (a reuse with another request is refused) and the enrolment it created (a retry gets it back).
    op.execute(
        """CREATE TABLE touch.idempotency_keys (
            key text PRIMARY KEY,
            account_id text NOT NULL, playbook text NOT NULL, by_whom text NOT NULL,
            enrolment_id text NOT NULL, created_at timestamptz NOT NULL)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS touch.idempotency_keys")
