from datetime import UTC, datetime

import pytest

from touchline.sim.personas import (
    CHAMPION_LEAVES_DAY,
    PERSONAS,
    RECOVERS_DAY,
    USUAL_FEATURES,
    activity,
    day_events,
    introductions,
    make_accounts,
)

START = datetime(2027, 1, 4, tzinfo=UTC)


def logins(account, *, seed, days):
    return sum(1 for d in days for e in day_events(account, seed=seed, day=d, start=START) if e.event == "Signed In")


def test_same_seed_gives_the_same_accounts_and_events():
    first = make_accounts(seed=3, count=16, start=START)
    second = make_accounts(seed=3, count=16, start=START)
    assert first == second
    assert day_events(first[0], seed=3, day=5, start=START) == day_events(second[0], seed=3, day=5, start=START)


def test_another_seed_gives_other_accounts():
    assert make_accounts(seed=3, count=8, start=START) != make_accounts(seed=4, count=8, start=START)


def test_a_small_run_covers_every_persona_once():
    accounts = make_accounts(seed=1, count=len(PERSONAS), start=START)
    assert [a.persona for a in accounts] == list(PERSONAS)


def test_adding_accounts_does_not_change_the_existing_ones():
    assert make_accounts(seed=1, count=20, start=START)[:10] == make_accounts(seed=1, count=10, start=START)


def test_accounts_carry_the_canonical_group_traits():
    account = make_accounts(seed=1, count=1, start=START)[0]
    traits = account.traits()
    assert set(traits) >= {"name", "plan", "arr", "seats", "renewal_date", "csm_owner", "locale", "lifecycle_stage"}
    assert traits["locale"] in ("ja", "en")
    assert datetime.fromisoformat(traits["renewal_date"] + "T00:00+00:00") > START


def test_forced_tier_sets_arr_in_that_tier():
    accounts = make_accounts(seed=2, count=30, start=START, tiers=("tech",))
    assert all(a.tier == "tech" and a.arr < 10_000 and a.plan == "starter" for a in accounts)


def test_undecided_renewal_falls_inside_the_reminder_window_on_day_zero():
    account = make_accounts(seed=1, count=1, start=START, personas=("renewal_undecided",))[0]
    assert 90 <= (account.renewal_date - START.date()).days <= 120


def test_unknown_sizes_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="count"):
        make_accounts(seed=1, count=0, start=START)
    with pytest.raises(ValueError, match="personas"):
        make_accounts(seed=1, count=1, start=START, personas=())


def test_slow_decline_uses_the_product_less_and_less():
    account = make_accounts(seed=5, count=1, start=START, personas=("slow_decline",))[0]
    before = logins(account, seed=5, days=range(-30, 0))
    late = logins(account, seed=5, days=range(30, 60))
    assert late < before / 3


def test_recovering_account_declines_then_is_back_at_full_use_with_new_features():
    account = make_accounts(seed=5, count=1, start=START, personas=("recovering",))[0]
    early = logins(account, seed=5, days=range(-50, -40))
    low = logins(account, seed=5, days=range(RECOVERS_DAY - 10, RECOVERS_DAY))
    back = logins(account, seed=5, days=range(RECOVERS_DAY, RECOVERS_DAY + 10))
    assert low < 0.6 * early and back > 1.5 * low

    def features(days):
        return {
            e.properties["feature"]
            for d in days
            for e in day_events(account, seed=5, day=d, start=START)
            if e.event == "Feature Used"
        }

    assert features(range(-60, RECOVERS_DAY)) <= set(USUAL_FEATURES)
    assert features(range(RECOVERS_DAY, RECOVERS_DAY + 10)) - set(USUAL_FEATURES)


def test_champion_stops_entirely_after_leaving():
    account = make_accounts(seed=5, count=1, start=START, personas=("champion_leaves",))[0]
    champion = account.users[0].user_id
    after = [
        e
        for d in range(CHAMPION_LEAVES_DAY, CHAMPION_LEAVES_DAY + 30)
        for e in day_events(account, seed=5, day=d, start=START)
    ]
    before = [e for d in range(0, CHAMPION_LEAVES_DAY) for e in day_events(account, seed=5, day=d, start=START)]
    assert any(e.user_id == champion for e in before)
    assert not any(e.user_id == champion for e in after)


def test_stalled_onboarding_signs_then_goes_quiet():
    account = make_accounts(seed=5, count=1, start=START, personas=("stalled_onboarding",))[0]
    day0 = day_events(account, seed=5, day=0, start=START)
    assert day0[0].event == "Contract Signed"
    assert account.lifecycle_stage == "onboarding"
    assert logins(account, seed=5, days=range(2, 60)) == 0
    assert logins(account, seed=5, days=range(-30, 0)) == 0


def test_thriving_users_log_in_most_days():
    account = make_accounts(seed=5, count=1, start=START, personas=("thriving",))[0]
    assert logins(account, seed=5, days=range(30)) > 0.7 * 30 * len(account.users)


def test_activity_is_a_probability_for_every_persona_and_day():
    for persona in PERSONAS:
        for day in range(-30, 200):
            assert 0.0 <= activity(persona, day=day, user_index=0) <= 1.0


def test_introductions_identify_and_group_every_user_with_stable_message_ids():
    account = make_accounts(seed=5, count=1, start=START)[0]
    events = introductions(account, at=START)
    assert [e.type for e in events] == ["identify", "group"] * len(account.users)
    assert events[0].traits["email"] == account.users[0].email
    assert events[1].traits == account.traits()
    assert events == introductions(account, at=START)
