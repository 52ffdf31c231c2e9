"""Settings of the health service (env prefix ``TOUCHLINE_HEALTH_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from touchline.shared.messages import USAGE_DECLINE_SHARE
from touchline.shared.settings import ServiceSettings


class HealthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_HEALTH_", extra="ignore")

    port: int = Field(8002, description="port of the health HTTP API")
    scorecards_path: Path | None = Field(
        None, description="YAML scorecards file; empty = the shipped services/health/scorecards/default.yaml"
    )
    material_change: float = Field(5.0, description="score points of change that publish a new score event")
    decline_threshold: float = Field(
        -USAGE_DECLINE_SHARE,
        description="usage trend (30 days vs the 30 before) at or below which usage counts as declining; "
        "keep it at minus TOUCHLINE_TOUCH_USAGE_DECLINE_THRESHOLD, or touch can miss a decline",
    )
    aging_horizon_days: int = Field(
        120, description="days without any activity after which an account's score stops ageing (decay sweep skips it)"
    )
    decay_interval_s: float = Field(
        60.0, description="longest wait between decay sweeps (a simulated clock change wakes the sweep at once)"
    )
    decay_batch: int = Field(500, description="accounts re-scored per decay transaction")
    max_batch: int = Field(
        10000,
        ge=1,
        description="most records per consumer batch (one transaction per batch; small when traffic is light)",
    )
    consumers: int = Field(
        2,
        ge=1,
        le=16,
        description=(
            "consumers of the health group in each process: Kafka splits the partitions between them, so one "
            "scores while another waits on Postgres (more than the partitions leaves some idle)"
        ),
    )
    cached_accounts: int = Field(
        10000,
        ge=0,
        description=(
            "accounts each consumer keeps in memory after writing them, so the next batch need not read their state "
            "back (checked against a version token; 0 = always read); bounds the cache's memory: about 3 KiB per "
            "account, 300 MiB per 100,000"
        ),
    )
    learn_min_outcomes: int = Field(
        10,
        ge=2,
        description=(
            "distinct churned and renewed accounts (each) needed before weights are learned from outcomes; "
            "fewer gives a clear message and no proposal"
        ),
    )
