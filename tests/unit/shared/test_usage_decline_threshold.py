"""Health's and touch's "usage declined" thresholds are one share with opposite signs."""

from touchline.health.domain.account import Policy
from touchline.health.settings import HealthSettings
from touchline.shared.messages import USAGE_DECLINE_SHARE
from touchline.touch.domain.signals import SignalThresholds
from touchline.touch.settings import TouchSettings


def test_health_and_touch_default_to_the_same_usage_decline_share() -> None:
    share = USAGE_DECLINE_SHARE
    assert HealthSettings.model_fields["decline_threshold"].default == -share
    assert Policy().decline_threshold == -share
    assert TouchSettings.model_fields["usage_decline_threshold"].default == share
    assert SignalThresholds().decline == share
