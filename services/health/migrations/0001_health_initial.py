"""health: per-account aggregates and current score, score history, lifecycle outcomes, override log.

Revision ID: health_0001
Revises:
"""

from alembic import op

from touchline.shared.db import offsets_ddl

revision = "health_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in offsets_ddl("health"):
        op.execute(statement)
    # One row per account: the rolling aggregates (state), the CSM overrides and the current
    # score with its measures, so one batch costs one read and one bulk write per account.
    # json, not jsonb: never queried inside, and json input is only validated, not converted.
    # A high toast_tuple_target keeps the row inline (no TOAST compression on every update).
    op.execute(
        """CREATE TABLE health.accounts (
            account_id text PRIMARY KEY,
            state json NOT NULL,
            overrides json NOT NULL DEFAULT '[]',
            published json,                      -- what the last HealthScored said
            scorecard text,
            score double precision,
            computed_score double precision,      -- before a score override
            band text,
            overridden boolean NOT NULL DEFAULT false,
            measures json NOT NULL DEFAULT '[]',
            plan text,
            tier text,
            trend_7d double precision,
            trend_30d double precision,
            usage_trend double precision,
            days_since_login double precision,
            as_of timestamptz,
            next_aging_at timestamptz,            -- when time alone can change the score
            updated_at timestamptz NOT NULL)
        WITH (toast_tuple_target = 8160, fillfactor = 80)"""
    )
    op.execute("CREATE INDEX accounts_next_aging ON health.accounts (next_aging_at) WHERE next_aging_at IS NOT NULL")
    op.execute(
        """CREATE TABLE health.score_history (
            id bigserial PRIMARY KEY,
            account_id text NOT NULL,
            computed_at timestamptz NOT NULL,
            score double precision NOT NULL,
            computed_score double precision,
            band text NOT NULL,
            scorecard text NOT NULL,
            overridden boolean NOT NULL,
            measures json NOT NULL,               -- [[measure, value, score, weight, contribution], ...]
            cause text NOT NULL,
            score_id text,                        -- set when this score was published
            recorded_at timestamptz NOT NULL)
        WITH (toast_tuple_target = 8160)"""
    )
    op.execute("CREATE INDEX score_history_account ON health.score_history (account_id, computed_at)")
    op.execute(
        """CREATE TABLE health.lifecycle (
            event_id text PRIMARY KEY,
            account_id text NOT NULL,
            kind text NOT NULL,                   -- cancelled | renewed
            at timestamptz NOT NULL)"""
    )
    op.execute(
        """CREATE TABLE health.override_log (
            id bigserial PRIMARY KEY,
            account_id text NOT NULL,
            action text NOT NULL,                 -- set | clear
            override json NOT NULL,
            at timestamptz NOT NULL)"""
    )


def downgrade() -> None:
    for table in ("override_log", "lifecycle", "score_history", "accounts"):
        op.execute(f"DROP TABLE health.{table}")
