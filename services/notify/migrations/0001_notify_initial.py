"""notify: contacts directory, deliveries, in-app inbox, CSM tasks, webhooks, outcome outbox.

Revision ID: notify_0001
Revises:
"""

from alembic import op

from touchline.shared.db import offsets_ddl

revision = "notify_0001"
down_revision = None
branch_labels = None
depends_on = None

S = "notify"

DDL = [
    f"""CREATE TABLE {S}.accounts (
        account_id text PRIMARY KEY, name text, csm_owner text, locale text, tier text,
        updated_at timestamptz NOT NULL)""",
    f"""CREATE TABLE {S}.contacts (
        account_id text NOT NULL, user_id text NOT NULL, email text, name text, locale text, role text,
        updated_at timestamptz NOT NULL, PRIMARY KEY (account_id, user_id))""",
    f"""CREATE TABLE {S}.preferences (
        email text PRIMARY KEY, unsubscribed_at timestamptz, account_id text, via text)""",
    # Wall-clock columns (next_attempt_at, first_attempt_at, claimed_at) pace retries and leases;
    # clock columns (created_at, sent_at, opened_at ...) are the facts, in simulated time when simulated.
    f"""CREATE TABLE {S}.deliveries (
        id text PRIMARY KEY, command_id text NOT NULL, dedup_key text NOT NULL, account_id text NOT NULL,
        user_id text, email text NOT NULL, to_name text, locale text NOT NULL, template text NOT NULL,
        internal boolean NOT NULL DEFAULT false, playbook text, step text, enrolment_id text,
        message_id text NOT NULL UNIQUE, subject text NOT NULL, html text NOT NULL, body_text text NOT NULL,
        unsubscribe_url text, state text NOT NULL DEFAULT 'pending', attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(), first_attempt_at timestamptz, claimed_at timestamptz,
        last_error text, created_at timestamptz NOT NULL, sent_at timestamptz, opened_at timestamptz,
        machine_opened_at timestamptz, clicked_at timestamptz, answered_at timestamptz, answer jsonb,
        UNIQUE (command_id, email), UNIQUE (dedup_key, email))""",
    f"CREATE INDEX deliveries_due ON {S}.deliveries (next_attempt_at) WHERE state = 'pending'",
    f"CREATE INDEX deliveries_sending ON {S}.deliveries (claimed_at) WHERE state = 'sending'",
    f"CREATE INDEX deliveries_account ON {S}.deliveries (account_id, created_at)",
    f"""CREATE TABLE {S}.link_events (
        id bigserial PRIMARY KEY, delivery_id text NOT NULL, kind text NOT NULL, link_index int, url text,
        machine boolean NOT NULL DEFAULT false, answer jsonb, occurred_at timestamptz NOT NULL)""",
    f"""CREATE TABLE {S}.inapp_messages (
        id text PRIMARY KEY, command_id text NOT NULL, account_id text NOT NULL, user_id text NOT NULL,
        template text NOT NULL, kind text NOT NULL, survey text, locale text NOT NULL, title text NOT NULL,
        body text NOT NULL, question text, choices jsonb NOT NULL DEFAULT '[]', cta_label text, cta_url text,
        playbook text, step text, enrolment_id text, created_at timestamptz NOT NULL, expires_at timestamptz,
        shown_at timestamptz, seen_at timestamptz, clicked_at timestamptz, dismissed_at timestamptz,
        answered_at timestamptz, answer jsonb, UNIQUE (command_id, user_id))""",
    f"CREATE INDEX inapp_user ON {S}.inapp_messages (user_id, created_at)",
    f"""CREATE TABLE {S}.tasks (
        id text PRIMARY KEY, account_id text NOT NULL, contact text, type text NOT NULL, reason text NOT NULL,
        subject text NOT NULL, body text NOT NULL DEFAULT '', priority text NOT NULL, status text NOT NULL,
        owner text, due_at timestamptz, playbook text, step text, command_id text, enrolment_id text,
        created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, closed_at timestamptz,
        close_reason text, recurrences int NOT NULL DEFAULT 0, last_recurred_at timestamptz,
        snoozed_until timestamptz, held_back int NOT NULL DEFAULT 0)""",
    # The one-open-task rule, enforced by the database even with two replicas.
    f"""CREATE UNIQUE INDEX tasks_one_open ON {S}.tasks (account_id, type, reason)
        WHERE status IN ('open', 'snoozed')""",
    f"CREATE INDEX tasks_owner ON {S}.tasks (owner, status)",
    f"""CREATE TABLE {S}.task_comments (
        id bigserial PRIMARY KEY, task_id text NOT NULL REFERENCES {S}.tasks (id), author text,
        body text NOT NULL, created_at timestamptz NOT NULL)""",
    f"CREATE TABLE {S}.round_robin (pool text PRIMARY KEY, turn bigint NOT NULL)",
    f"""CREATE TABLE {S}.webhook_endpoints (
        id text PRIMARY KEY, url text NOT NULL UNIQUE, kind text NOT NULL, secret text,
        disabled_at timestamptz, disabled_reason text)""",
    f"""CREATE TABLE {S}.webhook_deliveries (
        id text PRIMARY KEY, endpoint_id text NOT NULL REFERENCES {S}.webhook_endpoints (id),
        event_type text NOT NULL, payload jsonb NOT NULL, state text NOT NULL DEFAULT 'pending',
        attempts int NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL DEFAULT now(),
        first_attempt_at timestamptz, claimed_at timestamptz, last_error text, created_at timestamptz NOT NULL)""",
    f"CREATE INDEX webhook_due ON {S}.webhook_deliveries (next_attempt_at) WHERE state = 'pending'",
    f"""CREATE TABLE {S}.outbox (
        id bigserial PRIMARY KEY, outcome_id text NOT NULL UNIQUE, payload jsonb NOT NULL,
        published_at timestamptz)""",
    f"CREATE INDEX outbox_unpublished ON {S}.outbox (id) WHERE published_at IS NULL",
]


def upgrade() -> None:
    for statement in offsets_ddl(S):
        op.execute(statement)
    for statement in DDL:
        op.execute(statement)


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
