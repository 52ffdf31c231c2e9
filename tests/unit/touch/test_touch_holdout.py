"""Holdouts: the pure assignment, the playbook files' holdout setting, and held-out runs in the decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_touch_playbook_files import GOOD, write  # type: ignore[import-not-found]

from touchline.shared.messages import ProductEvent
from touchline.touch.adapters.config import ConfigError, load_playbook, load_tiers
from touchline.touch.decisions import Decisions, TouchConfig
from touchline.touch.domain.changes import Account, Snapshot
from touchline.touch.domain.holdout import assign, draw, period_of
from touchline.touch.domain.playbook import parse_playbook
from touchline.touch.domain.signals import from_event
from touchline.touch.settings import CONFIG_DIR

T0 = datetime(2030, 2, 10, 9, tzinfo=UTC)


def held(account: str, *, share: float = 0.1, tier: str = "tech", at: datetime = T0, playbook: str = "risk") -> bool:
    return assign(account_id=account, playbook=playbook, tier=tier, share=share, at=at).held_out


@pytest.mark.parametrize("share", [0.05, 0.1, 0.25, 0.5])
def test_the_held_out_share_converges_to_the_setting_over_many_accounts(share: float) -> None:
    n = 20_000
    out = sum(held(f"acc-{i}", share=share) for i in range(n))
    assert abs(out / n - share) < 0.01  # ~5 standard deviations at n = 20,000


def test_the_assignment_is_fixed_by_account_playbook_and_period() -> None:
    ids = [f"acc-{i}" for i in range(2_000)]
    first = [held(a) for a in ids]
    assert first == [held(a) for a in ids]  # same inputs, same answer (any replica, any replay)
    later_same_quarter = datetime(2030, 3, 31, 23, tzinfo=UTC)
    assert first == [held(a, at=later_same_quarter) for a in ids]
    next_quarter = [held(a, at=datetime(2030, 4, 1, tzinfo=UTC)) for a in ids]
    other_playbook = [held(a, playbook="band_drop") for a in ids]
    assert next_quarter != first and other_playbook != first  # each draws anew
    assert period_of(T0) == "2030-Q1" and period_of(datetime(2030, 12, 31, tzinfo=UTC)) == "2030-Q4"
    assert draw("a", "risk", "2030-Q1") == draw("a", "risk", "2030-Q1") and 0 <= draw("a", "risk", "2030-Q1") < 1


def test_high_touch_by_hand_never_and_zero_are_never_held_out() -> None:
    ids = [f"acc-{i}" for i in range(1_000)]
    assert any(held(a, share=0.5) for a in ids)
    assert not any(held(a, share=0.5, tier="high") for a in ids)
    assert not any(
        assign(account_id=a, playbook="risk", tier="tech", share=0.5, at=T0, manual=True).held_out for a in ids
    )
    assert not any(assign(account_id=a, playbook="risk", tier="tech", share="never", at=T0).held_out for a in ids)
    assert not any(held(a, share=0.0) for a in ids)
    one = next(a for a in ids if held(a, share=0.5))
    reason = assign(account_id=one, playbook="risk", tier="tech", share=0.5, at=T0).reason
    assert reason == "held out (50% holdout, period 2030-Q1): receives nothing from risk"


def test_a_playbook_file_sets_its_holdout_overall_per_variant_or_never(tmp_path: Path) -> None:
    overall = load_playbook(write(tmp_path, GOOD.replace("trigger:", "holdout: 0.1\ntrigger:")))
    assert overall.holdout_share("default", default=0.0) == 0.1
    never = load_playbook(write(tmp_path, GOOD.replace("trigger:", "holdout: never\ntrigger:")))
    assert never.holdout_share("default", default=0.2) == "never"
    unset = load_playbook(write(tmp_path, GOOD))
    assert unset.holdout_share("default", default=0.2) == 0.2  # the service's default setting
    per_variant = load_playbook(write(tmp_path, GOOD.replace("trigger:", "holdout: {default: 0.05}\ntrigger:")))
    assert per_variant.holdout_share("default", default=0.3) == 0.05


@pytest.mark.parametrize(
    ("holdout", "expected"),
    [
        ("0.7", ":2: holdout: 0.7 is outside 0 to 0.5 (0 switches the holdout off)"),
        ("-0.1", ":2: holdout: -0.1 is outside 0 to 0.5"),
        ("lots", ":2: holdout: a share from 0 to 0.5 (0.1 = 10 %), or never; got 'lots'"),
        ("true", ":2: holdout: a share from 0 to 0.5 (0.1 = 10 %), or never; got True"),
        ("{tech: 0.1}", "holdout.tech: the playbook has no variant 'tech'"),
        ("{techie: 0.1}", ":2: holdout: unknown variant 'techie'"),
        ("{default: 0.9}", ":2: holdout: variant default: 0.9 is outside 0 to 0.5"),
    ],
)
def test_a_bad_holdout_is_refused_at_load_naming_the_field(tmp_path: Path, holdout: str, expected: str) -> None:
    path = write(tmp_path, GOOD.replace("trigger:", f"holdout: {holdout}\ntrigger:"))
    with pytest.raises(ConfigError) as info:
        load_playbook(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def signed(account: str) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-signed",
        account_id=account,
        kind="track",
        semantic="signed",
        timestamp=T0,
        received_at=T0,
    )


def group(account: str, arr: int) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-group", account_id=account, kind="group", timestamp=T0, received_at=T0,
        traits={"arr": arr, "lifecycle_stage": "adoption"},
    )  # fmt: skip


HELLO = {
    "name": "hello",
    "holdout": 0.5,
    "trigger": {"signal": "signed"},
    "variants": {"default": [{"id": "hi", "send": {"channel": "email", "template": "onboarding.welcome"}}]},
}


def decide(config: TouchConfig, account: str, arr: int = 1_000) -> Account:
    acc = Account(Snapshot(account))
    Decisions(config).apply(acc, from_event(group(account, arr)) + from_event(signed(account)), now=T0)
    return acc


def test_a_held_out_account_is_recorded_as_held_out_and_receives_nothing() -> None:
    config = TouchConfig(rules=load_tiers(CONFIG_DIR / "tiers.yaml"), playbooks={"hello": parse_playbook(HELLO)})
    outcomes = {a: decide(config, a).changes() for a in (f"acc-{i}" for i in range(200))}
    held_out = {a for a, c in outcomes.items() if [e.status for e, _ in c.enrolments] == ["held_out"]}
    enrolled = {a for a, c in outcomes.items() if [e.status for e, _ in c.enrolments] == ["completed"]}
    assert held_out | enrolled == set(outcomes) and 70 < len(held_out) < 130
    for a in held_out:
        c = outcomes[a]
        assert c.commands == () and c.sends == ()
        [(run, _)] = c.enrolments
        assert run.ended_at == T0 and run.end_reason is not None and run.end_reason.startswith("held out (50% holdout")
        [(_, entry)] = c.history
        assert entry.event == "held_out" and "cause" in entry.detail
        # the signed track event, over 14 days; not in a usage decline
        assert run.baseline == {"usage_per_day": round(1 / 14, 3), "in_decline": False}
    for a in enrolled:
        assert [cmd.template for cmd in outcomes[a].commands] == ["onboarding.welcome"]
    # high touch (ARR >= 50,000 by the shipped rules) is never held out
    high = [decide(config, f"big-{i}", arr=90_000).changes() for i in range(60)]
    assert all([e.status for e, _ in c.enrolments] == ["completed"] and c.commands for c in high)
    assert all(e.tier == "high" for c in high for e, _ in c.enrolments)
