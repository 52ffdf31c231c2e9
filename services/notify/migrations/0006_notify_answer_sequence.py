"""notify: a per-message answer sequence, so every answer a person gives is its own outcome.

The outcome id of an answer was a digest of the answer, so an answer changed back (NPS 9 → 2 → 9)
reused the first id and the outbox dropped it: consumers kept 2. ``answer_seq`` counts the answers
given to one in-app message or mail; the outcome id carries it (``answered-000003``).

Revision ID: notify_0006
Revises: notify_0005
"""

from alembic import op

revision = "notify_0006"
down_revision = "notify_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notify.inapp_messages ADD COLUMN IF NOT EXISTS answer_seq integer NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE notify.deliveries ADD COLUMN IF NOT EXISTS answer_seq integer NOT NULL DEFAULT 0")


def downgrade() -> None:
    op.execute("ALTER TABLE notify.inapp_messages DROP COLUMN IF EXISTS answer_seq")
    op.execute("ALTER TABLE notify.deliveries DROP COLUMN IF EXISTS answer_seq")
