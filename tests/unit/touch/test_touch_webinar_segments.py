"""Webinars: which accounts a segment holds, and the one invitation per account."""

from datetime import UTC, datetime

import pytest

from touchline.touch.domain.segments import Segment
from touchline.touch.domain.webinars import Webinar, invitation

AT = datetime(2030, 4, 1, tzinfo=UTC)
WEBINAR = Webinar("w1", "Tips", datetime(2030, 5, 1, tzinfo=UTC), 15, Segment(tiers=("low",)), AT)


@pytest.mark.parametrize(
    ("segment", "tier", "phase", "invited"),
    [
        (Segment(), "high", "renewal", True),
        (Segment(tiers=("low",)), "low", "adoption", True),
        (Segment(tiers=("low",)), "tech", "adoption", False),
        (Segment(tiers=("low", "tech"), phases=("onboarding",)), "tech", "onboarding", True),
        (Segment(tiers=("low", "tech"), phases=("onboarding",)), "tech", "retention", False),
        (Segment(phases=("adoption",)), None, None, False),
    ],
)
def test_a_segment_holds_the_accounts_of_its_tiers_and_phases(segment, tier, phase, invited):
    assert segment.matches(tier=tier, phase=phase) is invited


def test_one_invitation_per_account_to_its_admins_with_the_webinar_for_the_rsvp_link():
    first, again = invitation(WEBINAR, "acc-1", at=AT), invitation(WEBINAR, "acc-1", at=AT.replace(day=2))
    assert first.command_id == again.command_id == first.dedup_key == "webinar:w1:acc-1"
    assert invitation(WEBINAR, "acc-2", at=AT).command_id != first.command_id
    assert (first.channel, first.template, first.recipients.role) == ("email", "webinar.invite", "admins")
    assert first.variables["webinar"] == {
        "id": "w1",
        "title": "Tips",
        "starts_at": "2030-05-01T00:00:00+00:00",
        "capacity": 15,
    }
