"""Enrolment by hand with an Idempotency-Key: the pure rules and the service layer on a fake repository."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from touch_fakes import FakeRepo  # type: ignore[import-not-found]

from touchline.touch.domain.manual import (
    BadKey,
    KeyRecord,
    KeyReused,
    ManualRequest,
    check_replay,
    manual_cause,
    parse_key,
)
from touchline.touch.domain.tiers import Profile
from touchline.touch.flows import Flows
from touchline.touch.main import load_config
from touchline.touch.manual import Manual, NotEnrolled, UnknownAccount, enrol_by_hand
from touchline.touch.settings import TouchSettings

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


@pytest.fixture
def flows() -> Flows:
    return Flows(load_config(TouchSettings()))


def known_account(account: str = "a1") -> FakeRepo:
    repo = FakeRepo()
    repo.profiles[account] = Profile(
        account_id=account, traits={"arr": 900, "lifecycle_stage": "adoption"}, first_seen_at=T0 - timedelta(days=9)
    )
    return repo


async def by_hand(
    flows: Flows,
    repo: FakeRepo,
    *,
    key: str | None,
    account: str = "a1",
    playbook: str = "risk",
    by: str = "kei",
    nonce: str = "n1",
) -> Manual:
    request = ManualRequest(account, playbook, by)
    return await enrol_by_hand(
        flows, repo, flows.config.playbooks[playbook], request=request, key=key, now=T0, nonce=nonce
    )


def test_a_key_is_a_token_or_a_quoted_string() -> None:
    assert parse_key("8e03978e-40d5-43e8-bc93-6894a57f9324") == "8e03978e-40d5-43e8-bc93-6894a57f9324"
    assert parse_key(' "retry me" ') == "retry me"
    assert parse_key('"say \\"hi\\""') == 'say "hi"'


@pytest.mark.parametrize("raw", ["", "   ", '""', "x" * 256, "clé", "tab\there"])
def test_an_empty_overlong_or_non_ascii_key_is_refused_naming_the_header(raw: str) -> None:
    with pytest.raises(BadKey, match=r"^Idempotency-Key: must be 1 to 255 printable ASCII"):
        parse_key(raw)


def test_a_keyed_cause_depends_on_the_key_only_and_an_unkeyed_one_on_a_fresh_nonce() -> None:
    assert manual_cause(by="kei", key="k1", nonce="n1") == manual_cause(by="mia", key="k1", nonce="n2")
    assert manual_cause(by="kei", key=None, nonce="n1") != manual_cause(by="kei", key=None, nonce="n2")


def test_a_key_reused_with_another_request_is_refused_saying_what_differs() -> None:
    first = ManualRequest("a1", "risk", "kei")
    stored = KeyRecord("k1", first, "enr_1", T0)
    check_replay(stored, first)
    with pytest.raises(
        KeyReused, match=r"^Idempotency-Key: 'k1' was already used .*playbook 'renewal' \(first 'risk'\)"
    ):
        check_replay(stored, ManualRequest("a1", "renewal", "kei"))


async def test_the_same_key_twice_returns_the_first_enrolment_and_sends_nothing_again(flows: Flows) -> None:
    repo = known_account()
    first = await by_hand(flows, repo, key="k1")
    again = await by_hand(flows, repo, key="k1", nonce="n2")
    assert not first.replayed and [c.step for c in first.commands] == ["notice"]
    assert again.replayed and again.commands == [] and again.enrolment.id == first.enrolment.id
    assert len(repo.enrolments) == 1 and repo.keys["k1"].enrolment_id == first.enrolment.id


async def test_the_same_key_with_another_playbook_or_account_is_refused(flows: Flows) -> None:
    repo = known_account()
    repo.profiles["a2"] = replace(repo.profiles["a1"], account_id="a2")
    await by_hand(flows, repo, key="k1")
    with pytest.raises(KeyReused, match="playbook 'reengagement'"):
        await by_hand(flows, repo, key="k1", playbook="reengagement")
    with pytest.raises(KeyReused, match="account_id 'a2'"):
        await by_hand(flows, repo, key="k1", account="a2")
    assert len(repo.enrolments) == 1


async def test_a_retry_after_a_lost_commit_recreates_the_same_enrolment_and_command_ids(flows: Flows) -> None:
    """The first attempt published its commands, then its commit failed: none of its writes exist."""
    lost = await by_hand(flows, known_account(), key="k1", nonce="n1")
    retried = await by_hand(flows, known_account(), key="k1", nonce="n2")
    assert retried.enrolment.id == lost.enrolment.id
    assert [c.command_id for c in retried.commands] == [c.command_id for c in lost.commands] != []


async def test_without_a_key_a_retry_after_a_lost_commit_gets_new_ids(flows: Flows) -> None:
    """The documented limit of clients that send no key: nothing ties the retry to the first attempt."""
    lost = await by_hand(flows, known_account(), key=None, nonce="n1")
    retried = await by_hand(flows, known_account(), key=None, nonce="n2")
    assert retried.enrolment.id != lost.enrolment.id


async def test_a_refused_enrolment_does_not_use_up_its_key(flows: Flows) -> None:
    repo = known_account()
    await by_hand(flows, repo, key="k1")
    with pytest.raises(NotEnrolled, match="already running"):
        await by_hand(flows, repo, key="k2")
    assert "k2" not in repo.keys
    for run in list(repo.enrolments.values()):
        repo.enrolments[run.id] = replace(run, status="completed")
    assert not (await by_hand(flows, repo, key="k2")).replayed


async def test_an_unknown_account_is_refused_and_its_key_not_stored(flows: Flows) -> None:
    repo = FakeRepo()
    with pytest.raises(UnknownAccount, match="'a1': unknown to touch"):
        await by_hand(flows, repo, key="k1")
    assert repo.keys == {}


async def test_a_key_taken_meanwhile_by_a_concurrent_request_for_another_account_is_refused(flows: Flows) -> None:
    class RacedRepo(FakeRepo):
        async def get_key(self, key: str) -> KeyRecord | None:
            return None  # read before the other request committed

    repo = RacedRepo()
    repo.profiles = known_account().profiles
    repo.keys["k1"] = KeyRecord("k1", ManualRequest("a2", "risk", "kei"), "enr_other", T0)
    with pytest.raises(KeyReused, match="account_id 'a1' \\(first 'a2'\\)"):
        await by_hand(flows, repo, key="k1")
