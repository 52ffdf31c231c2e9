"""Band and tier changes become webhook commands for notify (account.band_changed / tier_changed),
only when the operator turned them on; decided on an in-memory snapshot like every touch decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from touchline.shared.messages import Command, HealthScored, ProductEvent
from touchline.touch.decisions import Decisions, TouchConfig
from touchline.touch.domain.changes import Account, Snapshot
from touchline.touch.domain.signals import SignalThresholds, from_event, from_health
from touchline.touch.main import load_config
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> TouchConfig:
    return load_config(TouchSettings())  # reading the playbooks is the slow part: once per module


def scored(account: str, band: str, previous: str | None, *, score: float, at: datetime) -> HealthScored:
    return HealthScored(
        score_id=f"{account}-{band}-{at.isoformat()}",
        account_id=account,
        score=score,
        band=band,  # type: ignore[arg-type]
        previous_band=previous,  # type: ignore[arg-type]
        computed_at=at,
    )


def group(account: str, at: datetime, **traits: object) -> ProductEvent:
    return ProductEvent(
        message_id=f"{account}-group-{at.isoformat()}",
        account_id=account,
        kind="group",
        traits=traits,
        timestamp=at,
        received_at=at,
    )


def webhooks(commands: tuple[Command, ...]) -> list[Command]:
    return [c for c in commands if c.channel == "webhook"]


def test_a_band_change_and_a_tier_change_are_told_with_before_and_after(config: TouchConfig) -> None:
    decisions = Decisions(replace(config, crm_webhooks=True))
    account = Account(Snapshot("a1"))
    decisions.apply(account, from_event(group("a1", T0, arr=2000)), now=T0)
    later = T0 + timedelta(days=3)
    decisions.apply(
        account,
        from_health(scored("a1", "caution", "healthy", score=48.0, at=later), thresholds=SignalThresholds()),
        now=later,
    )
    decisions.apply(account, from_event(group("a1", later, arr=80000)), now=later)
    told = [(c.template, c.variables) for c in webhooks(account.changes().commands)]
    assert [t for t, _ in told] == ["account.tier_changed", "account.band_changed", "account.tier_changed"]
    first_tier, band, second_tier = (v for _, v in told)
    assert (first_tier["tier"], first_tier["previous_tier"]) == ("tech", None)
    assert band == {
        "account_id": "a1",
        "band": "caution",
        "previous_band": "healthy",
        "score": 48.0,
        "changed_at": later.isoformat(),
    }
    assert (second_tier["tier"], second_tier["previous_tier"], second_tier["phase"]) == ("high", "tech", "onboarding")


def test_the_same_health_score_redelivered_makes_the_same_command_id(config: TouchConfig) -> None:
    decisions = Decisions(replace(config, crm_webhooks=True))
    ids = []
    for _ in range(2):
        account = Account(Snapshot("a2"))
        decisions.apply(
            account, from_health(scored("a2", "good", None, score=90.0, at=T0), thresholds=SignalThresholds()), now=T0
        )
        ids.append([c.command_id for c in webhooks(account.changes().commands) if c.template == "account.band_changed"])
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_a_rescore_in_the_same_band_and_a_traits_update_in_the_same_tier_tell_nothing(config: TouchConfig) -> None:
    decisions = Decisions(replace(config, crm_webhooks=True))
    account = Account(Snapshot("a3"))
    decisions.apply(account, from_event(group("a3", T0, arr=2000)), now=T0)
    before = len(webhooks(account.changes().commands))
    same = scored("a3", "caution", "caution", score=45.0, at=T0)
    decisions.apply(account, from_health(same, thresholds=SignalThresholds()), now=T0)
    decisions.apply(account, from_event(group("a3", T0, arr=3000)), now=T0)
    assert len(webhooks(account.changes().commands)) == before == 1


def test_nothing_is_told_unless_the_operator_turned_crm_webhooks_on(config: TouchConfig) -> None:
    decisions = Decisions(config)
    account = Account(Snapshot("a4"))
    decisions.apply(account, from_event(group("a4", T0, arr=80000)), now=T0)
    decisions.apply(
        account, from_health(scored("a4", "caution", "good", score=40.0, at=T0), thresholds=SignalThresholds()), now=T0
    )
    assert webhooks(account.changes().commands) == []
