"""touch: the account's product use (touch.activity) and the survey answers of a run.

Revision ID: touch_0005
Revises: touch_0004
"""

from alembic import op

revision = "touch_0005"
down_revision = "touch_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Usage per day, login days and features used, kept small (see domain/activity.py):
    # recovery after a decline, daily use, and the choices of the feature survey.
    op.execute("CREATE TABLE touch.activity (account_id text PRIMARY KEY, data jsonb NOT NULL DEFAULT '{}')")
    # The latest answer per survey in a run: the renewal offer depends on the renewal answer.
    op.execute("ALTER TABLE touch.enrolments ADD COLUMN answers jsonb NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    op.execute("ALTER TABLE touch.enrolments DROP COLUMN IF EXISTS answers")
    op.execute("DROP TABLE IF EXISTS touch.activity")
