"""Handlers against an in-memory fake of the repository port."""

from datetime import UTC, datetime, timedelta

import pytest
from health_fakes import FakeRepo  # type: ignore[import-not-found]

from touchline.health.adapters.scorecard_file import load_scorecards
from touchline.health.domain.account import Policy
from touchline.health.domain.overrides import OverrideError
from touchline.health.handlers import (
    AccountNotFound,
    HealthContext,
    change_override,
    handle_batch,
    scored_message,
    sweep_decay,
)
from touchline.health.ports import Scored
from touchline.shared.clock import SimulatedClock
from touchline.shared.cloudevents import Envelope
from touchline.shared.fates import BatchResult
from touchline.shared.messages import Command, HealthScored, Message, Outcome, ProductEvent

T0 = datetime(2027, 3, 1, 10, tzinfo=UTC)


def env(message: Message, i: int = 0) -> Envelope:
    return Envelope(
        id=message.event_id(),
        source="t",
        type=message.ce_type,
        message=message,
        topic="t",
        partition=0,
        offset=i,
        key=None,
    )


def event(
    account: str, mid: str, *, at: datetime = T0, semantic: str = "login", kind: str = "track", **kw
) -> ProductEvent:  # type: ignore[no-untyped-def]
    return ProductEvent(
        message_id=mid,
        account_id=account,
        kind=kind,
        semantic=semantic,
        user_id="u1",
        timestamp=at,
        received_at=at,
        **kw,
    )


def scores(result: BatchResult) -> list[HealthScored]:
    """The score events a handler returned, as touch reads them (serialised and read back)."""
    return [HealthScored.model_validate_json(m.model_dump_json()) for _, m in result.outgoing]  # type: ignore[union-attr]


@pytest.fixture
def ctx() -> HealthContext:
    return HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=SimulatedClock(T0))


async def test_a_batch_is_scored_once_per_account_and_the_first_score_published(ctx: HealthContext) -> None:
    repo = FakeRepo()
    batch = [env(event("a", "e1")), env(event("b", "e2")), env(event("a", "e3"))]
    out = scores(await handle_batch(batch, repo=repo, ctx=ctx))
    assert sorted(m.account_id for m in out) == ["a", "b"]
    assert len(repo.history) == 2
    first = out[0]
    assert first.days_since_login == 0 and first.previous_score is None


async def test_the_same_batch_delivered_twice_changes_nothing(ctx: HealthContext) -> None:
    repo = FakeRepo()
    batch = [env(event("a", "e1")), env(event("a", "e1"))]
    first = await handle_batch(batch, repo=repo, ctx=ctx)
    assert len(first.outgoing) == 1
    assert [(e.id, why) for e, why in first.skipped] == [("e1", "duplicate")]  # the copy in the same batch
    again = await handle_batch(batch, repo=repo, ctx=ctx)
    assert again.outgoing == [] and [why for _, why in again.skipped] == ["duplicate", "duplicate"]
    assert len(repo.history) == 1 and sum(repo.rows["a"].state.usage.values()) == 1


async def test_a_message_type_health_does_not_read_is_skipped_as_unknown_type(ctx: HealthContext) -> None:
    repo = FakeRepo()
    other = Command(command_id="c1", account_id="a", channel="task", dedup_key="c1", issued_at=T0)
    result = await handle_batch([env(other), env(event("a", "e1"))], repo=repo, ctx=ctx)
    assert [(e.id, why) for e, why in result.skipped] == [("c1", "unknown_type")]
    assert [m.account_id for m in scores(result)] == ["a"] and set(repo.rows) == {"a"}


async def test_score_ids_are_the_same_on_replay(ctx: HealthContext) -> None:
    batch = [env(event("a", "e1")), env(event("a", "e2"))]
    one = await handle_batch(batch, repo=FakeRepo(), ctx=ctx)
    two = await handle_batch(batch, repo=FakeRepo(), ctx=ctx)
    assert one == two


async def test_outcomes_count_as_contact_and_cancellations_are_kept_for_trust(ctx: HealthContext) -> None:
    repo = FakeRepo()
    o = Outcome(
        outcome_id="o1", account_id="a", kind="inapp.answered", answer={"survey": "nps", "score": 10}, occurred_at=T0
    )
    await handle_batch([env(event("a", "e1", semantic="cancelled")), env(o)], repo=repo, ctx=ctx)
    assert repo.rows["a"].state.nps is not None and repo.rows["a"].state.last_contact == T0
    assert [f.kind for f in repo.facts] == ["cancelled"]


async def test_decay_sweep_rescores_due_accounts_as_of_now(ctx: HealthContext) -> None:
    repo = FakeRepo()
    await handle_batch([env(event("a", "e1"))], repo=repo, ctx=ctx)
    now = T0 + timedelta(days=20)
    count, out = await sweep_decay(repo=repo, ctx=ctx, now=now, limit=10)
    assert count == 1
    ((_, msg),) = out
    assert isinstance(msg, HealthScored) and msg.cause == "decay" and msg.days_since_login == 20
    assert msg.previous_score is not None and msg.score < msg.previous_score
    assert (await sweep_decay(repo=repo, ctx=ctx, now=now, limit=10))[0] == 0


async def test_an_override_is_applied_at_once_and_kept_by_later_events(ctx: HealthContext) -> None:
    repo = FakeRepo()
    await handle_batch([env(event("a", "e1"))], repo=repo, ctx=ctx)
    request = {"kind": "band", "band": "caution", "reason": "champion left", "expires_at": T0 + timedelta(days=5)}
    scored, out = await change_override("a", repo=repo, ctx=ctx, set_by="csm@x", request=request)
    assert scored.rescored.result.band == "caution" and out[0][1].cause == "override"  # type: ignore[attr-defined]
    await handle_batch([env(event("a", "e2", at=T0 + timedelta(hours=1)))], repo=repo, ctx=ctx)
    assert repo.history[-1].rescored.result.band == "caution"
    _, out = await change_override("a", repo=repo, ctx=ctx, set_by="csm@x", request=None, clear=("band", None))
    assert not out[0][1].overridden and repo.log == ["set", "clear"]  # type: ignore[attr-defined]


async def test_overrides_on_unknown_accounts_or_with_bad_fields_are_refused(ctx: HealthContext) -> None:
    repo = FakeRepo()
    with pytest.raises(AccountNotFound):
        await change_override("nope", repo=repo, ctx=ctx, set_by="x", request={"kind": "band"})
    await handle_batch([env(event("a", "e1"))], repo=repo, ctx=ctx)
    with pytest.raises(OverrideError):
        await change_override(
            "a",
            repo=repo,
            ctx=ctx,
            set_by="x",
            request={
                "kind": "measure",
                "measure": "x",
                "score": 1,
                "reason": "r",
                "expires_at": T0 + timedelta(days=1),
            },
        )


async def test_naive_event_times_are_taken_as_utc(ctx: HealthContext) -> None:
    repo = FakeRepo()
    naive = T0.replace(tzinfo=None)
    e = ProductEvent(
        message_id="n1", account_id="a", kind="track", semantic="login", user_id="u", timestamp=naive, received_at=naive
    )
    o = Outcome(outcome_id="o1", account_id="a", kind="task.completed", occurred_at=naive)
    await handle_batch([env(e), env(o)], repo=repo, ctx=ctx)
    assert repo.rows["a"].state.last_login == T0 and repo.rows["a"].state.last_contact == T0


async def test_events_read_as_facts_fold_like_the_full_model() -> None:
    """The consumer decodes events as ProductEventFacts; the fold must not tell them apart."""
    from touchline.health.consumer import READERS
    from touchline.shared.cloudevents import decode, encode

    events = [
        event("a", "m1", semantic="login"),
        event("a", "m2", semantic="feature_used", feature="reports", at=T0 + timedelta(hours=1)),
        event("a", "m3", semantic="feature_used", properties={"feature": "exports"}, at=T0 + timedelta(hours=2)),
        event("a", "m4", kind="group", traits={"seats": 4, "plan": "pro"}, at=T0 + timedelta(hours=3)),
        event("a", "m5", semantic="cancelled", at=T0 + timedelta(days=2)),
    ]
    results = []
    for as_facts in (False, True):
        repo, c = FakeRepo(), HealthContext(scorecards=load_scorecards(), policy=Policy(), clock=SimulatedClock(T0))
        batch = [
            decode(topic="t", partition=0, offset=i, key=k, value=v, headers=h, readers=READERS)
            if as_facts
            else env(e, i)
            for i, e in enumerate(events)
            for k, v, h in [encode(e, source="t")]
        ]
        out = await handle_batch(batch, repo=repo, ctx=c)
        results.append((repo.rows["a"].state, scores(out), repo.facts))
    assert type(batch[0].message).__name__ == "ProductEventFacts"
    assert results[0] == results[1]
    assert results[1][0].features.keys() == {"reports", "exports"}


async def test_score_events_are_returned_as_the_model_touch_reads(ctx: HealthContext) -> None:
    repo = FakeRepo()
    out = await handle_batch([env(event("a", "e1")), env(event("b", "e2"))], repo=repo, ctx=ctx)
    assert {topic.name for topic, _ in out.outgoing} == {"touchline.health"}
    sent = [m for _, m in out.outgoing]
    assert all(isinstance(m, HealthScored) for m in sent)
    read = scores(out)
    assert sorted(m.account_id for m in read) == ["a", "b"]
    assert [m.key() for m in sent] == [m.account_id for m in read]
    assert [m.event_id() for m in sent] == [m.score_id for m in read]
    assert set(repo.rows) == {"a", "b"}


async def test_every_kind_of_score_event_carries_what_was_scored(ctx: HealthContext) -> None:
    """First score, data missing, risk flags, each kind of override: the event says what the rescore found."""
    repo = FakeRepo()
    items: list[Scored] = []
    await handle_batch([env(event("a", "e1"))], repo=repo, ctx=ctx)  # first score: no previous, data missing
    items.append(repo.history[-1])
    await handle_batch(
        [
            env(
                event(
                    "a", "e2", kind="group", traits={"seats": 3, "business_shrinking": True}, at=T0 + timedelta(hours=1)
                )
            ),
            env(event("a", "e3", semantic="feature_used", feature="reports", at=T0 + timedelta(days=9))),
        ],
        repo=repo,
        ctx=ctx,
    )
    items.append(repo.history[-1])
    expires = T0 + timedelta(days=30)
    for request in (
        {"kind": "score", "score": 42, "reason": "call went badly", "expires_at": expires},
        {"kind": "measure", "measure": "nps", "score": 90, "reason": "told us", "expires_at": expires},
        {"kind": "band", "band": "good", "reason": "renewed early", "expires_at": expires},
    ):
        scored, out = await change_override("a", repo=repo, ctx=ctx, set_by="csm@x", request=request)
        assert [m for _, m in out] == [scored_message("a", scored)]
        items.append(scored)
    published = [s for s in items if s.score_id]
    assert len(published) == 5
    for s in published:
        m = HealthScored.model_validate_json(scored_message("a", s).model_dump_json())
        res = s.rescored.result
        assert (m.score_id, m.account_id, m.score, m.band) == (s.score_id, "a", res.score, res.band)
        assert (m.overridden, m.cause, m.computed_at) == (res.overridden, s.cause, s.rescored.as_of)
        assert [c.measure for c in m.contributions] == [x.name for x in res.measures]
        assert m.reasons == s.rescored.reasons
