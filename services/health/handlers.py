"""Message -> ports -> domain -> ports. One fold per message type (the table below); a batch
is grouped by account so each account is loaded, rescored and written once per batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from touchline.shared import topics
from touchline.shared.clock import Clock
from touchline.shared.cloudevents import Envelope
from touchline.shared.fates import DUPLICATE, UNKNOWN_TYPE, BatchResult, Outgoing
from touchline.shared.messages import HealthScored, Outcome, ProductEvent, ProductEventFacts

from .domain.account import Policy, rescore, score_id
from .domain.aggregates import AccountState, LifecycleFact, apply_outcome, apply_product_event
from .domain.overrides import make_override, put, remove
from .domain.scorecard import ScorecardSet
from .ports import AccountRecord, HealthRepository, Scored


@dataclass(frozen=True)
class HealthContext:
    scorecards: ScorecardSet
    policy: Policy
    clock: Clock


class AccountNotFound(LookupError):
    pass


def fold_product_event(state: AccountState, event: ProductEvent | ProductEventFacts) -> LifecycleFact | None:
    # Event time, but never later than when ingest received it (a skewed client cannot
    # push the account's clock into the future).
    at = min(_aware(event.timestamp), _aware(event.received_at))
    feature = event.feature
    if not feature:
        props = event.properties
        feature = _str(props.get("feature") if isinstance(props, dict) else props.feature)
    return apply_product_event(
        state,
        event_id=event.message_id,
        kind=event.kind,
        semantic=event.semantic,
        at=at,
        user_id=event.user_id,
        feature=feature,
        traits=event.traits,
    )


def fold_outcome(state: AccountState, outcome: Outcome) -> LifecycleFact | None:
    apply_outcome(
        state,
        outcome_id=outcome.outcome_id,
        kind=outcome.kind,
        at=_aware(outcome.occurred_at),
        answer=outcome.answer,
        detail=outcome.detail,
        activity=outcome.activity,
    )
    return None


FOLDS: dict[type, Callable[[AccountState, Any], LifecycleFact | None]] = {
    ProductEvent: fold_product_event,
    ProductEventFacts: fold_product_event,  # what the consumer decodes events into (see consumer.READERS)
    Outcome: fold_outcome,
}


def _aware(t: datetime) -> datetime:
    # A producer that sent a naive time meant UTC (the contract); mixing naive and aware fails.
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def scored_data(account_id: str, item: Scored) -> dict[str, Any]:
    """A HealthScored's fields as plain data (every field, the model's names)."""
    r = item.rescored
    res = r.result
    assert res.score is not None and res.band is not None and item.score_id is not None
    return {
        "score_id": item.score_id,
        "account_id": account_id,
        "score": res.score,
        "band": res.band,
        "previous_score": r.previous.score if r.previous else None,
        "previous_band": r.previous.band if r.previous else None,
        "scorecard": res.scorecard,
        "contributions": [
            {
                "measure": m.name,
                "group": m.group,
                "value": m.value,
                "score": m.score,
                "weight": round(m.weight, 4),
                "contribution": round(m.contribution, 2),
                "missing": m.missing,
            }
            for m in res.measures
        ],
        "reasons": r.reasons,
        "overridden": res.overridden,
        "computed_at": r.as_of,
        "cause": item.cause,
        "usage_trend": r.usage_trend,
        "days_since_login": r.days_since_login,
    }


def scored_message(account_id: str, item: Scored) -> HealthScored:
    return HealthScored.model_validate(scored_data(account_id, item))


def _rescore(
    record: AccountRecord, ctx: HealthContext, *, as_of: datetime, cause: str, key: str, force: bool = False
) -> Scored:
    r = rescore(
        record.state,
        ctx.scorecards,
        as_of=as_of,
        overrides=record.overrides,
        published=record.published,
        policy=ctx.policy,
        force_publish=force,
    )
    sid = score_id(record.state.account_id, cause=cause, key=key) if r.publish else None
    return Scored(record=record, rescored=r, cause=cause, score_id=sid)


def _publishable(scored: list[Scored]) -> Outgoing:
    return [(topics.HEALTH, scored_message(s.record.state.account_id, s)) for s in scored if s.score_id]


async def handle_batch(envelopes: Sequence[Envelope], *, repo: HealthRepository, ctx: HealthContext) -> BatchResult:
    """Fold a batch of events/outcomes into per-account aggregates and rescore each account once.

    Returns the score events to publish (the caller's unit of work sends them before it
    commits, see shared/unit_of_work.py) and the records skipped, and why."""
    # Keyed by the bare CloudEvents id, not shared.db.dedup_key: the ids health stored before it existed.
    fresh = await repo.first_seen([e.id for e in envelopes], now=ctx.clock.now())
    result = BatchResult()
    by_account: dict[str, list[Envelope]] = {}
    for env in envelopes:
        if type(env.message) not in FOLDS:
            result.skip(env, UNKNOWN_TYPE)
        elif env.id not in fresh:
            result.skip(env, DUPLICATE)
        else:
            fresh.discard(env.id)  # the same id twice in one batch counts once
            by_account.setdefault(env.message.account_id, []).append(env)  # type: ignore[attr-defined]
    if not by_account:
        return result
    records = await repo.load(sorted(by_account))
    facts: list[LifecycleFact] = []
    scored: list[Scored] = []
    for account_id, envs in by_account.items():
        record = records.get(account_id) or AccountRecord.new(account_id)
        for env in envs:
            fact = FOLDS[type(env.message)](record.state, env.message)
            if fact is not None:
                facts.append(fact)
        as_of = record.state.as_of
        assert as_of is not None  # every fold advances it
        scored.append(_rescore(record, ctx, as_of=as_of, cause="event", key=envs[-1].id))
    await repo.save(scored, now=ctx.clock.now())
    await repo.record_lifecycle(facts)
    for s in scored:
        if s.score_id:
            result.emit(topics.HEALTH, scored_message(s.record.state.account_id, s))
    return result


async def sweep_decay(*, repo: HealthRepository, ctx: HealthContext, now: datetime, limit: int) -> tuple[int, Outgoing]:
    """Re-score up to ``limit`` accounts whose windows moved by ``now``; returns (count, messages)."""
    records = await repo.load_due(now=now, limit=limit)
    scored = []
    for record in records.values():
        as_of = max(now, record.state.as_of or now)
        scored.append(_rescore(record, ctx, as_of=as_of, cause="decay", key=as_of.isoformat()))
    await repo.save(scored, now=now)
    return len(scored), _publishable(scored)


async def change_override(
    account_id: str,
    *,
    repo: HealthRepository,
    ctx: HealthContext,
    set_by: str,
    request: dict[str, Any] | None,
    clear: tuple[str, str | None] | None = None,
) -> tuple[Scored, Outgoing]:
    """Set (``request``) or clear (``clear`` = (kind, measure)) an override and rescore at once."""
    now = ctx.clock.now()
    record = (await repo.load([account_id])).get(account_id)
    if record is None:
        raise AccountNotFound(account_id)
    if request is not None:
        card = ctx.scorecards.choose(record.state.traits)
        override = make_override(set_by=set_by, now=now, known_measures={m.name for m in card.measures}, **request)
        record.overrides = put(record.overrides, override)
        await repo.log_override(account_id, action="set", override=override.to_dict(), now=now)
    elif clear is not None:
        record.overrides = remove(record.overrides, kind=clear[0], measure=clear[1])
        await repo.log_override(account_id, action="clear", override={"kind": clear[0], "measure": clear[1]}, now=now)
    as_of = max(now, record.state.as_of or now)
    scored = _rescore(record, ctx, as_of=as_of, cause="override", key=f"{now.isoformat()}|{clear}", force=True)
    await repo.save([scored], now=now)
    return scored, _publishable([scored])
