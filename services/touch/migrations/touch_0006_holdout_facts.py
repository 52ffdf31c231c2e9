"""touch: holdouts and the effectiveness report — a run's baseline, and the facts it is judged by.

Revision ID: touch_0006
Revises: touch_0005
"""

from alembic import op

revision = "touch_0006"
down_revision = "touch_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What a run (or a held-out assignment, status 'held_out') started from: usage per day.
    op.execute("ALTER TABLE touch.enrolments ADD COLUMN baseline jsonb NOT NULL DEFAULT '{}'")
    op.execute("CREATE INDEX enrolments_playbook ON touch.enrolments (playbook, enrolled_at)")
    # renewed, cancelled, usage_improved, band (rank), nps (score) per account; a person's
    # reactions to a command (outcome kind + command + run) for the funnel.
    op.execute(
        """CREATE TABLE touch.facts (
            id bigserial PRIMARY KEY, account_id text NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,
            value double precision, command_id text, enrolment_id text)"""
    )
    op.execute("CREATE INDEX facts_account ON touch.facts (account_id, at) WHERE command_id IS NULL")
    op.execute("CREATE INDEX facts_enrolment ON touch.facts (enrolment_id) WHERE command_id IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS touch.facts")
    op.execute("DROP INDEX IF EXISTS touch.enrolments_playbook")
    op.execute("ALTER TABLE touch.enrolments DROP COLUMN IF EXISTS baseline")
