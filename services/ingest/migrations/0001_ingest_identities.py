"""ingest: the user -> account map and events parked until their user is grouped.

Revision ID: ingest_0001
Revises:
"""

from alembic import op

from touchline.shared.db import offsets_ddl

revision = "ingest_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in offsets_ddl("ingest"):
        op.execute(statement)
    op.execute(
        """CREATE TABLE ingest.user_accounts (
            user_key text PRIMARY KEY,            -- "u:<userId>" or "a:<anonymousId>"
            account_id text NOT NULL,
            source text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    op.execute(
        """CREATE TABLE ingest.parked_events (
            message_id text PRIMARY KEY,
            seq bigserial NOT NULL,               -- arrival order, kept when released
            user_keys text[] NOT NULL,
            source text NOT NULL,
            event jsonb NOT NULL,                 -- a ProductEvent whose account_id is not known yet
            parked_at timestamptz NOT NULL)"""
    )
    op.execute("CREATE INDEX parked_events_user_keys ON ingest.parked_events USING gin (user_keys)")


def downgrade() -> None:
    op.execute("DROP TABLE ingest.parked_events")
    op.execute("DROP TABLE ingest.user_accounts")
