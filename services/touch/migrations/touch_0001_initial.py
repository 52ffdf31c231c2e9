"""touch: account profiles and tiers, enrolments with step history, timers, message log.

Revision ID: touch_0001
Revises:
"""

from alembic import op

from touchline.shared.db import offsets_ddl

revision = "touch_0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = [
    """CREATE TABLE touch.accounts (
        account_id text PRIMARY KEY,
        traits jsonb NOT NULL DEFAULT '{}',
        first_seen_at timestamptz NOT NULL,
        churned boolean NOT NULL DEFAULT false,
        last_csm_contact_at timestamptz,
        tier text, tier_rule text, tier_phase text, tier_value double precision, tier_reason text,
        tier_at timestamptz,
        updated_at timestamptz NOT NULL)""",
    # Every change of tier, with the reason, so "why is this account high touch" has an answer.
    """CREATE TABLE touch.tier_history (
        id bigserial PRIMARY KEY,
        account_id text NOT NULL, tier text NOT NULL, rule text NOT NULL, phase text NOT NULL,
        value double precision, reason text NOT NULL, at timestamptz NOT NULL)""",
    "CREATE INDEX tier_history_account ON touch.tier_history (account_id, at)",
    """CREATE TABLE touch.enrolments (
        id text PRIMARY KEY,
        account_id text NOT NULL, playbook text NOT NULL, variant text NOT NULL, tier text NOT NULL,
        status text NOT NULL, step text, step_started_at timestamptz, wake_at timestamptz,
        visits jsonb NOT NULL DEFAULT '{}', seen jsonb NOT NULL DEFAULT '{}', anchors jsonb NOT NULL DEFAULT '{}',
        exiting text, manual boolean NOT NULL DEFAULT false,
        enrolled_at timestamptz NOT NULL, ended_at timestamptz, end_reason text,
        updated_at timestamptz NOT NULL)""",
    # The cap "one run of a playbook per account at a time", enforced by the database too.
    """CREATE UNIQUE INDEX enrolments_one_open ON touch.enrolments (account_id, playbook)
        WHERE status IN ('active', 'paused')""",
    "CREATE INDEX enrolments_account ON touch.enrolments (account_id, playbook, enrolled_at)",
    """CREATE TABLE touch.step_history (
        id bigserial PRIMARY KEY,
        enrolment_id text NOT NULL, step text NOT NULL, visit int NOT NULL, event text NOT NULL,
        detail text NOT NULL DEFAULT '', command_id text, at timestamptz NOT NULL)""",
    "CREATE INDEX step_history_enrolment ON touch.step_history (enrolment_id, id)",
    # Durable timers: one row per (account, key); key is 'enrolment:<id>' or 'trigger:<playbook>'.
    """CREATE TABLE touch.timers (
        account_id text NOT NULL, key text NOT NULL, due_at timestamptz NOT NULL,
        enrolment_id text, playbook text, fired_at timestamptz,
        PRIMARY KEY (account_id, key))""",
    "CREATE INDEX timers_due ON touch.timers (due_at) WHERE fired_at IS NULL",
    # Customer messages sent, for the per-account weekly cap across playbooks.
    """CREATE TABLE touch.customer_messages (
        command_id text PRIMARY KEY, account_id text NOT NULL, at timestamptz NOT NULL)""",
    "CREATE INDEX customer_messages_account ON touch.customer_messages (account_id, at)",
]


def upgrade() -> None:
    for statement in offsets_ddl("touch") + TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in ("customer_messages", "timers", "step_history", "enrolments", "tier_history", "accounts"):
        op.execute(f"DROP TABLE IF EXISTS touch.{table}")
