"""The audit_log table as its first migration creates it, in one place for every service's schema
(health_0004, touch_0007, notify_0009). Frozen like a migration: a later change to the table is a
new migration of each service, never an edit here."""

from __future__ import annotations

from collections.abc import Callable


def create_audit_log_v1(execute: Callable[[str], object], schema: str) -> None:
    # at: the service clock (simulated in tests and demos); recorded_at: the database's wall clock.
    execute(
        f"""CREATE TABLE {schema}.audit_log (
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
    execute(f"CREATE INDEX audit_log_at ON {schema}.audit_log (at DESC, id DESC)")
    execute(f"CREATE INDEX audit_log_account ON {schema}.audit_log (account_id, at DESC)")
    execute(f"CREATE INDEX audit_log_actor ON {schema}.audit_log (actor, at DESC)")


def drop_audit_log(execute: Callable[[str], object], schema: str) -> None:
    execute(f"DROP TABLE IF EXISTS {schema}.audit_log")
