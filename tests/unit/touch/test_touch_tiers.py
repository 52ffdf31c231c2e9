"""Tier rules: value and phase decide the tier, and the reason says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from touchline.touch.adapters.config import load_tiers
from touchline.touch.domain.tiers import Profile, TierRules, assign_tier, parse_when, phase_of
from touchline.touch.settings import CONFIG_DIR

NOW = datetime(2030, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> TierRules:
    return load_tiers(Path(CONFIG_DIR) / "tiers.yaml")


def profile(**traits: object) -> Profile:
    return Profile(account_id="a", traits=traits, first_seen_at=NOW - timedelta(days=400))


def test_large_accounts_are_high_touch_whatever_their_phase(rules: TierRules) -> None:
    got = assign_tier(profile(arr=120_000, lifecycle_stage="retention"), rules=rules, now=NOW)
    assert (got.tier, got.rule) == ("high", "strategic")
    assert "ARR 120,000 >= 50,000" in got.reason


def test_mid_value_accounts_in_onboarding_are_high_touch_then_low_touch_once_adopted(rules: TierRules) -> None:
    onboarding = assign_tier(profile(arr=20_000, lifecycle_stage="onboarding"), rules=rules, now=NOW)
    adopted = assign_tier(profile(arr=20_000, lifecycle_stage="adoption"), rules=rules, now=NOW)
    assert (onboarding.tier, onboarding.rule) == ("high", "onboarding_mid_value")
    assert "phase onboarding" in onboarding.reason
    assert (adopted.tier, adopted.rule) == ("low", "mid_value")


def test_mrr_counts_as_twelve_months_of_value(rules: TierRules) -> None:
    got = assign_tier(profile(mrr=1_000, lifecycle_stage="adoption"), rules=rules, now=NOW)
    assert (got.tier, got.value) == ("low", 12_000)
    assert "MRR 12,000" in got.reason


def test_small_or_unknown_value_is_tech_touch(rules: TierRules) -> None:
    assert assign_tier(profile(arr=900), rules=rules, now=NOW).tier == "tech"
    unknown = assign_tier(profile(), rules=rules, now=NOW)
    assert unknown.tier == "tech" and "no ARR/MRR/LTV known" in unknown.reason


def test_phase_comes_from_renewal_window_churn_stage_or_signing_date(rules: TierRules) -> None:
    assert phase_of(profile(renewal_date="2030-08-01", lifecycle_stage="adoption"), rules=rules, now=NOW) == "renewal"
    assert phase_of(profile(renewal_date="2031-08-01", lifecycle_stage="adoption"), rules=rules, now=NOW) == "adoption"
    assert phase_of(profile(lifecycle_stage="churned"), rules=rules, now=NOW) == "churned"
    assert phase_of(profile(signed_at="2030-05-20T10:00:00Z"), rules=rules, now=NOW) == "onboarding"
    assert phase_of(profile(), rules=rules, now=NOW) == "adoption"


def test_rules_must_end_with_a_catch_all() -> None:
    with pytest.raises(ValidationError, match="last rule"):
        TierRules.model_validate({"rules": [{"name": "x", "tier": "high", "min_value": 1}]})


def test_a_bad_tiers_file_names_file_line_and_field(tmp_path: Path) -> None:
    from touchline.touch.adapters.config import ConfigError

    path = tmp_path / "tiers.yaml"
    path.write_text("rules:\n  - name: a\n    tier: platinum\n  - name: b\n    tier: tech\n")
    with pytest.raises(ConfigError) as info:
        load_tiers(path)
    assert f"{path}:3: rules.0.tier" in str(info.value)


def test_dates_in_traits_are_read_leniently() -> None:
    assert parse_when("2030-01-02") == datetime(2030, 1, 2, tzinfo=UTC)
    assert parse_when("2030-01-02T03:04:05Z") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_when("next tuesday") is None and parse_when(12) is None
