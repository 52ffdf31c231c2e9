"""notify: audit_log, every change made through the API (see touchline.shared.audit).

Revision ID: notify_0009
Revises: notify_0008
"""

from alembic import op

revision = "notify_0009"
down_revision = "notify_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # at: the service clock (simulated in tests and demos); recorded_at: the database's wall clock.
    op.execute(
        """CREATE TABLE notify.audit_log (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            token text NOT NULL,
            action text NOT NULL,
            method text NOT NULL,
            route text NOT NULL,
            params jsonb,
            account_id text,
            body jsonb,
            status int NOT NULL,
            response jsonb,
            before jsonb,
            after jsonb
        )"""
    )
    op.execute("CREATE INDEX audit_log_at ON notify.audit_log (at DESC, id DESC)")
    op.execute("CREATE INDEX audit_log_account ON notify.audit_log (account_id, at DESC)")
    op.execute("CREATE INDEX audit_log_actor ON notify.audit_log (actor, at DESC)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS notify.audit_log")
