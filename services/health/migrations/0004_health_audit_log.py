"""health: audit_log, every change made through the API (see touchline.shared.audit).

Revision ID: health_0004
Revises: health_0003
"""

from alembic import op

revision = "health_0004"
down_revision = "health_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # at: the service clock (simulated in tests and demos); recorded_at: the database's wall clock.
    op.execute(
        """CREATE TABLE health.audit_log (
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
    op.execute("CREATE INDEX audit_log_at ON health.audit_log (at DESC, id DESC)")
    op.execute("CREATE INDEX audit_log_account ON health.audit_log (account_id, at DESC)")
    op.execute("CREATE INDEX audit_log_actor ON health.audit_log (actor, at DESC)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS health.audit_log")
