"""A small seeded simulation on the real stack, then one check per persona's expected story.

One account per persona, all tech touch, 34 simulated days: long enough for the NPS survey
(30 days after an account is first seen), the decline playbook's 14-day no-recovery task and
the renewal offer 60 days before the renewal date. Only the accounts whose story is a usage
trend get 60 days of history; the others are first heard of on day 0 and the silent one 140
days before. (With history for everyone, date triggers fall due before the simulated "now"
and touch runs those enrolments as of their due date, so their waits have already expired
when the answers come, and a recurring trigger catches up on every missed occurrence:
reported to touch's owner.)
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from touchline.sim.client import SimulationError, StackClient
from touchline.sim.main import Outcome, choose_start, simulate
from touchline.sim.personas import Account
from touchline.sim.plan import Config

pytestmark = pytest.mark.e2e
DAYS = 34


@dataclass
class Story:
    account: Account
    mails: list[dict[str, Any]]  # notify's timeline: email items
    inapp: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    enrolments: list[dict[str, Any]]
    tier: str
    band: str

    def templates(self) -> list[str]:
        return [m["template"] for m in self.mails]

    def tasks_of(self, type_: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["type"] == type_]

    def first_mail(self, template: str) -> dict[str, Any] | None:
        sent = sorted((m for m in self.mails if m["template"] == template), key=lambda m: m["at"])
        return sent[0] if sent else None

    def describe(self) -> str:
        mails = ", ".join(f"{m['at'][:10]} {m['template']}" for m in sorted(self.mails, key=lambda m: m["at"]))
        tasks = ", ".join(f"{t['created_at'][:16]} {t['type']} ({t['status']})" for t in self.tasks)
        answers = ", ".join(
            f"{m['answered_at'][:16]} {m['answer']}" for m in self.mails + self.inapp if m.get("answered_at")
        )
        enrolments = "; ".join(_enrolment(e) for e in self.enrolments)
        return (
            f"{self.account.persona} {self.account.account_id}: mails [{mails}] answers [{answers}] tasks [{tasks}] "
            f"enrolments [{enrolments}]"
        )


def _enrolment(e: dict[str, Any]) -> str:
    steps = " > ".join(f"{h['at'][5:16]} {h['step']} {h['event']} {h.get('detail') or ''}" for h in e["history"])
    return f"{e['playbook']}/{e['variant']} {e['status']} at {e['step']} ({e.get('end_reason')}): {steps}"


@dataclass
class Run:
    outcome: Outcome
    stories: dict[str, Story]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
async def run(e2e_stack) -> Run:  # type: ignore[no-untyped-def]
    start = await choose_start(e2e_stack.common, None)
    config = Config(
        seed=11,
        accounts=8,
        days=DAYS,
        start=start,
        id_prefix=f"e2e{uuid.uuid4().hex[:6]}",
        backfill=("slow_decline", "champion_leaves"),
        silent_days=140,
    )
    try:
        outcome = await simulate(
            config,
            common=e2e_stack.common,
            endpoints=e2e_stack.endpoints,
            mail_dir=e2e_stack.mail_dir,
            tiers=("tech",),
            out=lambda line: print(line, flush=True),
        )
    except SimulationError as exc:
        pytest.fail(f"{exc}\n{e2e_stack.diagnose()}")
    stories = {}
    async with StackClient(e2e_stack.endpoints) as client:
        for account in outcome.accounts:
            items = await client.timeline(account.account_id)
            tasks = await client.get_json("notify", "/v1/tasks", account_id=account.account_id, limit=1000)
            stories[account.persona] = Story(
                account=account,
                mails=[i for i in items if i["channel"] == "email"],
                inapp=[i for i in items if i["channel"] == "in_app"],
                tasks=tasks["tasks"],
                enrolments=await client.get_json("touch", f"/v1/accounts/{account.account_id}/enrolments"),
                tier=(await client.get_json("touch", f"/v1/accounts/{account.account_id}/tier"))["tier"],
                band=(await client.get_json("health", f"/v1/accounts/{account.account_id}"))["band"],
            )
    return Run(outcome=outcome, stories=stories)


def test_every_account_was_scored_and_tiered_as_tech_touch(run: Run) -> None:
    assert {s.tier for s in run.stories.values()} == {"tech"}
    assert all(s.band in ("good", "healthy", "caution", "action_required") for s in run.stories.values())
    assert "accounts per band and tier" in run.outcome.report


def test_the_declining_accounts_end_in_a_worse_band_than_the_thriving_one(run: Run) -> None:
    rank = {"action_required": 0, "caution": 1, "healthy": 2, "good": 3}
    thriving = rank[run.stories["thriving"].band]
    for persona in ("slow_decline", "stalled_onboarding"):
        assert rank[run.stories[persona].band] < thriving, run.stories[persona].describe()


def test_slow_decline_gets_the_decline_mail_then_a_csm_task_two_weeks_later(run: Run) -> None:
    story = run.stories["slow_decline"]
    notice = story.first_mail("risk.decline_notice")
    assert notice is not None, story.describe()
    tasks = story.tasks_of("risk_no_recovery")
    assert tasks, f"no risk_no_recovery task: {story.describe()}"
    gap = when(tasks[0]["created_at"]) - when(notice["at"])
    assert timedelta(days=13) <= gap <= timedelta(days=15, hours=12), f"task {gap} after the notice: {story.describe()}"


def test_detractor_gets_an_urgent_task_within_a_simulated_day_of_answering(run: Run) -> None:
    story = run.stories["detractor"]
    answered = [m["answered_at"] for m in story.mails if m.get("answered_at")]
    answered += [m["answered_at"] for m in story.inapp if m.get("answered_at")]
    assert answered, f"the detractor never answered the NPS survey: {story.describe()}"
    tasks = story.tasks_of("detractor_follow_up")
    assert tasks, story.describe()
    assert tasks[0]["priority"] in ("high", "urgent")
    assert when(tasks[0]["created_at"]) - when(min(answered)) <= timedelta(days=1), story.describe()


def test_promoter_is_asked_to_refer_and_gets_a_gift_task_for_agreeing(run: Run) -> None:
    story = run.stories["promoter"]
    assert "advocacy.promoter_referral_ask" in story.templates(), story.describe()
    assert story.tasks_of("referral_gift"), story.describe()


def test_undecided_renewal_gets_a_follow_up_and_the_sixty_day_offer(run: Run) -> None:
    story = run.stories["renewal_undecided"]
    assert story.tasks_of("renewal_follow_up"), story.describe()
    offer = story.first_mail("renewal.offer")
    assert offer is not None, story.describe()
    renewal = datetime.combine(story.account.renewal_date, datetime.min.time(), tzinfo=when(offer["at"]).tzinfo)
    assert timedelta(days=59) <= renewal - when(offer["at"]) <= timedelta(days=61), story.describe()


def test_stalled_onboarding_gets_a_welcome_and_a_human_when_it_is_not_opened(run: Run) -> None:
    story = run.stories["stalled_onboarding"]
    assert "onboarding.welcome" in story.templates(), story.describe()
    assert story.tasks_of("onboarding_no_response"), story.describe()


def test_long_silent_account_gets_a_reason_to_hear_from_us(run: Run) -> None:
    story = run.stories["long_silent"]
    assert "reengagement.news" in story.templates(), story.describe()


def test_no_contact_ever_receives_the_same_mail_twice(run: Run) -> None:
    mails = run.outcome.runner.mails
    assert mails, "no mail reached the simulated customers"
    deliveries = Counter((m.to, m.delivery_id) for m in mails)
    assert [k for k, n in deliveries.items() if n > 1] == []
    # A playbook may legitimately run again after its cooldown (risk: 30 days); the same mail
    # twice within two weeks is a duplicate.
    last: dict[tuple[str, str | None], int] = {}
    repeated = []
    for m in sorted(mails, key=lambda m: m.day):
        key = (m.to, m.template)
        if key in last and m.day - last[key] < 14:
            repeated.append((last[key], m.day, m.to, m.template))
        last[key] = m.day
    assert repeated == []


def test_no_account_has_two_open_tasks_for_the_same_reason(run: Run) -> None:
    for story in run.stories.values():
        open_keys = Counter((t["type"], t["reason"]) for t in story.tasks if t["status"] in ("open", "snoozed"))
        assert [k for k, n in open_keys.items() if n > 1] == [], story.describe()
