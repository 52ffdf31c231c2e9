"""Settings of the ingest service (env prefix ``TOUCHLINE_INGEST_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from touchline.shared.settings import DEV_SECRET_PREFIX, ServiceSettings


class IngestSettings(ServiceSettings):
    """The Segment-compatible HTTP API: write keys, limits, time policy, delivery bounds."""

    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_INGEST_", extra="ignore")

    port: int = Field(8001, description="port of the ingest HTTP server (Segment API, /healthz, /metrics)")
    write_keys: SecretStr = Field(
        SecretStr("product:dev-write-key"),
        description='write keys per source, "source:key,source2:key2" (several keys per source allowed, for rotation)',
    )
    max_event_bytes: int = Field(32 * 1024, description="largest accepted event (JSON bytes), as Segment")
    max_request_bytes: int = Field(500 * 1024, description="largest accepted request body (after gunzip), as Segment")
    max_batch_events: int = Field(2500, description="most events in one /v1/batch call, as Segment")
    future_tolerance_seconds: float = Field(
        300.0, description="corrected timestamps further than this after receivedAt are clamped to receivedAt"
    )
    max_event_age_days: int = Field(
        3650, description="corrected timestamps older than this (before receivedAt) are rejected with 400"
    )
    publish_timeout_seconds: float = Field(
        5.0, description="longest wait for Kafka to acknowledge a request's events before answering 503"
    )
    retry_after_seconds: int = Field(5, description="Retry-After sent with 503 when Kafka is unavailable")
    rate_limit_events_per_second: float = Field(
        5000.0, description="sustained events per second accepted per write key (429 beyond)"
    )
    rate_limit_burst: float = Field(25000.0, description="events a write key may send at once before being limited")
    account_cache_seconds: float = Field(
        30.0,
        description="how long a user -> account link is cached in process (a user regrouped via another replica "
        "is keyed to the old account for at most this long; 0 disables)",
    )
    release_sweep_seconds: float = Field(
        30.0, description="how often parked events of users that already have an account are re-published"
    )
    import_max_bytes: int = Field(
        20 * 1024 * 1024, description="largest CSV file accepted by POST /v1/import/accounts (or /contacts)"
    )


def refuse_dev_write_keys(settings: IngestSettings, *, env: str) -> None:
    """Write keys of the form ``dev-...`` are for dev and tests only."""
    if env in ("dev", "test"):
        return
    for entry in settings.write_keys.get_secret_value().split(","):
        _, _, key = entry.partition(":")
        if key.strip().startswith(DEV_SECRET_PREFIX):
            raise ValueError(
                f"write_keys: a dev write key is not allowed when env={env}; set TOUCHLINE_INGEST_WRITE_KEYS"
            )
