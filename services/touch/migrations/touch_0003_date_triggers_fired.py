"""touch: the date values one-shot date triggers already fired for.

Revision ID: touch_0003
Revises: touch_0002
"""

from alembic import op

revision = "touch_0003"
down_revision = "touch_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A one-shot date trigger (renewal_date - 120d, last CSM contact + 120d) fires once per date
    # value. Kept apart from touch.timers, whose rows a profile update re-arms or clears.
    op.execute(
        """CREATE TABLE touch.date_triggers_fired (
            account_id text NOT NULL, playbook text NOT NULL, occurrence timestamptz NOT NULL,
            fired_at timestamptz NOT NULL,
            PRIMARY KEY (account_id, playbook, occurrence))"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS touch.date_triggers_fired")
