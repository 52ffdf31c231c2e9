"""Settings of the touch service (env prefix ``TOUCHLINE_TOUCH_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from touchline.shared.messages import USAGE_DECLINE_SHARE
from touchline.shared.settings import ServiceSettings

CONFIG_DIR = Path(__file__).with_name("config")


class TouchSettings(ServiceSettings):
    """Tiers, playbooks, caps and the signal thresholds the playbooks' triggers read."""

    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_TOUCH_", extra="ignore")

    port: int = Field(8003, description="port of the touch HTTP server (API, /healthz, /metrics)")
    # None (not a path) as default so the documented default does not depend on the checkout's location.
    tiers_file: Path | None = Field(
        None,
        description="tier rules (YAML), validated at start-up; empty = the shipped services/touch/config/tiers.yaml",
    )
    playbooks_dir: Path | None = Field(
        None,
        description="directory of playbook files (*.yaml), validated at start-up; empty = the shipped services/touch/config/playbooks",
    )
    message_cap: int = Field(
        5,
        ge=0,
        description="most customer messages (email + in-app) per account per cap window, across playbooks; 0 = no cap",
    )
    message_cap_days: float = Field(7.0, gt=0, description="the cap window in days")
    usage_decline_threshold: float = Field(
        USAGE_DECLINE_SHARE,
        gt=0,
        description="usage 30d vs previous 30d falling by at least this share is a usage decline; keep it at "
        "minus TOUCHLINE_HEALTH_DECLINE_THRESHOLD (health republishes a score when the trend crosses its own)",
    )
    usage_recovered_threshold: float = Field(
        -0.1, description="a usage trend at or above this (after a decline) counts as usage improved"
    )
    inactive_days: float = Field(14.0, gt=0, description="days without login that count as a usage decline")
    recovery_ratio: float = Field(
        0.8,
        gt=0,
        le=2,
        description="usage recovered = daily use since the decline was detected (at most the last "
        "recovery_days) reaches this share of the daily use in the recovery_baseline_days before the drop",
    )
    recovery_days: int = Field(7, ge=1, le=60, description="the recent days recovery looks at")
    recovery_baseline_days: int = Field(
        30, ge=1, le=60, description="the days of use before the drop that are the account's own level"
    )
    recovery_skip_days: int = Field(
        30,
        ge=0,
        le=30,
        description="days right before the decline's detection the baseline skips: the decline was measured "
        "over them (health's 30-day usage trend)",
    )
    daily_use_login_days: int = Field(
        7, ge=1, description="distinct login days within daily_use_window_days that make daily use (onboarding thanks)"
    )
    daily_use_window_days: int = Field(14, ge=1, le=60, description="the window daily use is counted in")
    holdout_default: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="share of eligible accounts held out of a playbook whose file sets no holdout "
        "(measured against in the effectiveness report); 0 = none",
    )
    effectiveness_days: int = Field(
        90, ge=1, le=730, description="days after a run's start the effectiveness report looks for its outcomes"
    )
    effectiveness_min_accounts: int = Field(
        20,
        ge=2,
        description="fewest runs in each group (enrolled, held out) before the effectiveness report compares "
        "them; below it says: too few accounts to tell",
    )
    timer_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="longest sleep of the timer loop when the clock does not move and no consumer batch or "
        "API call leaves a timer due (those wake it at once)",
    )
    crm_webhooks: bool = Field(
        False,
        description="tell notify of every band and tier change (webhook events account.band_changed, "
        "account.tier_changed, posted to notify's webhook_urls)",
    )

    @model_validator(mode="after")
    def _daily_use_fits(self) -> TouchSettings:
        if self.daily_use_login_days > self.daily_use_window_days:
            raise ValueError(
                "daily_use_login_days: cannot exceed daily_use_window_days "
                f"({self.daily_use_login_days} > {self.daily_use_window_days})"
            )
        return self

    @field_validator("tiers_file", "playbooks_dir", mode="before")
    @classmethod
    def _empty_is_shipped(cls, value: object) -> object:
        return None if value == "" else value

    def tiers_path(self) -> Path:
        return self.tiers_file or CONFIG_DIR / "tiers.yaml"

    def playbooks_path(self) -> Path:
        return self.playbooks_dir or CONFIG_DIR / "playbooks"
