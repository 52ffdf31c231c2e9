"""touch: the portfolio view's book of business — ARR, owner and churn as facts.

Revision ID: touch_0008
Revises: touch_0007
"""

from alembic import op

revision = "touch_0008"
down_revision = "touch_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An owner fact names its CSM here (its value stays NULL).
    op.execute("ALTER TABLE touch.facts ADD COLUMN label text")
    op.execute("CREATE INDEX facts_kind ON touch.facts (kind, at) WHERE command_id IS NULL")
    # Accounts known before this revision start their book as they are now, from when touch first
    # saw them (their earlier changes were never recorded): see docs/touch.md, "Portfolio".
    op.execute(
        """INSERT INTO touch.facts (account_id, kind, at, value)
        SELECT account_id, 'arr', first_seen_at,
            CASE WHEN jsonb_typeof(traits->'arr') = 'number' THEN (traits->>'arr')::float8
                 ELSE (traits->>'mrr')::float8 * 12 END
        FROM touch.accounts
        WHERE jsonb_typeof(traits->'arr') = 'number' OR jsonb_typeof(traits->'mrr') = 'number'"""
    )
    op.execute(
        """INSERT INTO touch.facts (account_id, kind, at, label)
        SELECT account_id, 'owner', first_seen_at, btrim(traits->>'csm_owner') FROM touch.accounts
        WHERE jsonb_typeof(traits->'csm_owner') = 'string' AND btrim(traits->>'csm_owner') <> ''"""
    )
    op.execute(
        """INSERT INTO touch.facts (account_id, kind, at, value)
        SELECT account_id, 'churned', updated_at, 1 FROM touch.accounts WHERE churned"""
    )


def downgrade() -> None:
    op.execute("DELETE FROM touch.facts WHERE kind IN ('arr', 'owner', 'churned')")
    op.execute("DROP INDEX IF EXISTS touch.facts_kind")
    op.execute("ALTER TABLE touch.facts DROP COLUMN IF EXISTS label")
