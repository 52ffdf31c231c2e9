"""Several replicas of every consumer service end exactly where one replica of each ends.

The same seeded simulation is replayed twice on stacks of their own (database and topics):
once with one process per service, once growing to 3 health, 2 touch and 2 notify processes
after the first simulated week and shrinking back (SIGTERM, as an orchestrator scales down)
after the third. The rebalances therefore happen while batches, timers and deliveries are in
flight. Both runs are then read back through the services' APIs and the mail sink, and must
be the same: scores, measure values and the score each day ended with (an event scored twice
would change them), tiers, every enrolment's
step history (every timer fired once), every mail and in-app message, every task — and no
mail delivered twice.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from replica_stack import ReplicaStack  # type: ignore[import-not-found]

from touchline.shared.settings import CommonSettings
from touchline.shared.stack.layout import run_sync
from touchline.shared.stack.testing import discard, isolated
from touchline.sim.client import SimulationError, StackClient
from touchline.sim.main import Outcome, choose_start, simulate
from touchline.sim.plan import Config

pytestmark = pytest.mark.e2e

DAYS = 28
ACCOUNTS = 6
GROW_AFTER_WEEK = 1  # then 3 health, 2 touch, 2 notify
SHRINK_AFTER_WEEK = 3  # then one of each again
GROWN = {"health": 3, "touch": 2, "notify": 2}


@dataclass
class Run:
    outcome: Outcome
    state: dict[str, Any]
    message_ids: Counter[str]
    scaled: list[str]


def _timeline_item(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item.get("channel"),
        item.get("template"),
        item.get("at"),
        item.get("status"),
        item.get("answered_at"),
        repr(item.get("answer")),
    )


def day_ends(history: list[dict[str, Any]], *, since: str) -> list[tuple[str, float, str]]:
    """The score and band each simulated day ended with, from ``since`` (ISO date) on.

    How a day's events fall into batches decides which intermediate rows are written (so the
    rows themselves differ between any two runs), but not where a simulated day ends, since
    the simulator drains the pipeline between days: an event scored twice would change it.
    The backfilled history before ``since`` arrives in one burst, where a batch can span days
    and which days get a row depends on the batch boundaries even with one replica."""
    last: dict[str, tuple[str, float, str]] = {}
    for h in sorted(history, key=lambda h: h["computed_at"]):
        if h["computed_at"][:10] >= since:
            last[h["computed_at"][:10]] = (h["computed_at"][:10], h["score"], h["band"])
    ends, current = [], None
    for day in sorted(last):
        if last[day][1:] != current:
            ends.append(last[day])
            current = last[day][1:]
    return ends


def _enrolment(e: dict[str, Any]) -> tuple[Any, ...]:
    steps = tuple((h["at"], h["step"], h["event"], h.get("detail")) for h in e["history"])
    return (e["playbook"], e["variant"], e["status"], e["step"], e.get("end_reason"), steps)


def _task(t: dict[str, Any]) -> tuple[Any, ...]:
    return (t["type"], t["reason"], t["status"], t["priority"], t["created_at"], t.get("due_at"))


async def read_back(stack: ReplicaStack, account_ids: list[str], *, since: str) -> dict[str, Any]:
    """Everything a user of the APIs can see of these accounts, in a comparable form."""
    state: dict[str, Any] = {}
    async with StackClient(stack.endpoints) as client:
        for account_id in account_ids:
            health = await client.get_json("health", f"/v1/accounts/{account_id}")
            history = await client.get_json("health", f"/v1/accounts/{account_id}/history", limit=5000)
            tasks = await client.get_json("notify", "/v1/tasks", account_id=account_id, limit=1000)
            enrolments = await client.get_json("touch", f"/v1/accounts/{account_id}/enrolments")
            state[account_id] = {
                "score": (health["score"], health["band"]),
                "measures": sorted((m["measure"], m["value"]) for m in health["measures"]),
                "days": day_ends(history["history"], since=since),
                "tier": (await client.get_json("touch", f"/v1/accounts/{account_id}/tier"))["tier"],
                "enrolments": sorted(_enrolment(e) for e in enrolments),
                "timeline": sorted(_timeline_item(i) for i in await client.timeline(account_id)),
                "tasks": sorted(_task(t) for t in tasks["tasks"]),
            }
    return state


def _diff(account_id: str, one: Any, many: Any) -> str:
    """What one replica and several made differently, line by line."""
    lines = [repr(x) for x in one] if isinstance(one, list) else [repr(one)]
    other = [repr(x) for x in many] if isinstance(many, list) else [repr(many)]
    body = difflib.unified_diff(lines, other, "one replica", "several replicas", lineterm="")
    return f"{account_id}:\n" + "\n".join(body)


def _scaler(stack: ReplicaStack, log: list[str]) -> Callable[[str], None]:
    """The simulator's per-week line is the cue: grow after week 1, shrink after week 3."""
    week = 0

    def on_line(line: str) -> None:
        nonlocal week
        print(line, flush=True)
        if not line.lstrip().lower().startswith("week"):
            return
        week += 1
        if week == GROW_AFTER_WEEK:
            for service, wanted in GROWN.items():
                while stack.count(service) < wanted:
                    log.append(f"after week {week}: started {stack.add(service).name}")
        elif week == SHRINK_AFTER_WEEK:
            for service in GROWN:
                while stack.count(service) > 1:
                    log.append(f"after week {week}: stopped {stack.remove(service).name}")

    return on_line


async def replay(common: CommonSettings, env: dict[str, str], directory: Path, *, start: datetime, scale: bool) -> Run:
    database_url, prefix = await isolated(common.kafka_bootstrap_servers, common.database_url, tag="r")
    run_common = common.model_copy(update={"database_url": database_url, "topic_prefix": prefix})
    stack = ReplicaStack.start(run_common, env, directory)
    scaled: list[str] = []
    try:
        config = Config(
            seed=5,
            accounts=ACCOUNTS,
            days=DAYS,
            start=start,
            id_prefix="rep",  # the same account ids in both runs (each run has its own database)
            backfill=("slow_decline", "champion_leaves"),
            silent_days=140,
        )
        try:
            outcome = await simulate(
                config,
                common=run_common,
                endpoints=stack.endpoints,
                mail_dir=stack.mail_dir,
                tiers=("tech",),
                out=_scaler(stack, scaled) if scale else print,
            )
        except SimulationError as exc:
            pytest.fail(f"{exc}\n{stack.log_tails()}")
        assert not stack.dead(), f"replicas died: {stack.dead()}\n{stack.log_tails()}"
        state = await read_back(stack, [a.account_id for a in outcome.accounts], since=start.date().isoformat())
        message_ids = Counter(str(m.get("Message-ID")) for m in stack.sink.messages())
        return Run(outcome=outcome, state=state, message_ids=message_ids, scaled=scaled)
    finally:
        stack.stop()
        await discard(database_url=database_url, bootstrap_servers=common.kafka_bootstrap_servers, topic_prefix=prefix)


@pytest.fixture(scope="module")
def runs(
    common: CommonSettings, env_for_subprocess: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, Run]:
    start = run_sync(choose_start(common, None))
    one = run_sync(replay(common, env_for_subprocess, tmp_path_factory.mktemp("one"), start=start, scale=False))
    many = run_sync(replay(common, env_for_subprocess, tmp_path_factory.mktemp("many"), start=start, scale=True))
    return one, many


def test_the_replicated_run_really_grew_and_shrank_mid_replay(runs: tuple[Run, Run]) -> None:
    _, many = runs
    started = [line for line in many.scaled if "started" in line]
    stopped = [line for line in many.scaled if "stopped" in line]
    assert len(started) == sum(GROWN.values()) - len(GROWN), many.scaled
    assert len(stopped) == len(started), many.scaled


def test_the_workload_did_something_worth_comparing(runs: tuple[Run, Run]) -> None:
    one, _ = runs
    assert sum(len(s["timeline"]) for s in one.state.values()) >= ACCOUNTS
    assert sum(len(s["tasks"]) for s in one.state.values()) >= 1
    assert sum(len(s["days"]) for s in one.state.values()) >= ACCOUNTS


@pytest.mark.parametrize("part", ["score", "measures", "days", "tier", "enrolments", "timeline", "tasks"])
def test_every_account_ends_as_with_one_replica(runs: tuple[Run, Run], part: str) -> None:
    one, many = runs
    differing = [a for a in one.state if one.state[a][part] != many.state[a][part]]
    assert differing == [], "\n".join(_diff(a, one.state[a][part], many.state[a][part]) for a in differing)


def test_no_mail_is_delivered_twice_and_none_is_missing(runs: tuple[Run, Run]) -> None:
    one, many = runs
    assert [m for m, n in many.message_ids.items() if n > 1] == []
    assert sum(many.message_ids.values()) == sum(one.message_ids.values())
