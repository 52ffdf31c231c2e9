"""A small seeded simulation on the real stack, then one check per persona's expected story.

The simulated customers act only on what they received: the links of the mails in the sink and
the choices of the in-app messages, read through notify's in-app API with a signed user token.
Nothing here posts an answer; the checks below also prove that every answer notify recorded is
one a customer gave by clicking a link or a choice it was offered.

One account per persona, all tech touch, 40 simulated days: long enough for the NPS survey
(30 days after an account is first seen) and its reminder a week later, the decline playbook's
14-day no-recovery task and the renewal offer 60 days before the renewal date. Only the accounts whose story is a usage
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
from touchline.sim.offers import ASKS
from touchline.sim.personas import PERSONAS, Account
from touchline.sim.plan import Config

pytestmark = pytest.mark.e2e
DAYS = 40


@dataclass
class Story:
    account: Account
    mails: list[dict[str, Any]]  # notify's timeline: email items
    inapp: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    answers: list[dict[str, Any]]  # notify's record of this account's survey answers
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
        accounts=len(PERSONAS),
        days=DAYS,
        start=start,
        id_prefix=f"e2e{uuid.uuid4().hex[:6]}",
        backfill=("slow_decline", "champion_leaves", "recovering"),
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
            answers = await client.get_json("notify", "/v1/answers", account_id=account.account_id, limit=1000)
            stories[account.persona] = Story(
                account=account,
                mails=[i for i in items if i["channel"] == "email"],
                inapp=[i for i in items if i["channel"] == "in_app"],
                tasks=tasks["tasks"],
                answers=answers["answers"],
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


def _key(channel: str, answer: dict[str, Any]) -> tuple[Any, ...]:
    features = answer.get("features")
    return (channel, answer.get("survey"), answer.get("score"), answer.get("choice"), tuple(features or ()))


def test_every_answer_notify_recorded_was_given_by_a_customer_among_the_offered_choices(run: Run) -> None:
    given = run.outcome.runner.given
    assert given, "no simulated customer answered anything"
    for g in given:
        offered = {_key(g.channel, a) for a in g.offered}
        assert _key(g.channel, g.answer) in offered, f"{g} was not offered"
    for story in run.stories.values():
        mine = Counter(_key(g.channel, g.answer) for g in given if g.account_id == story.account.account_id)
        recorded = Counter(_key(a["channel"], a["answer"]) for a in story.answers)
        assert recorded == mine, story.describe()


def test_the_run_report_counts_the_surveys_customers_could_not_answer(run: Run) -> None:
    gaps = run.outcome.runner.unanswerable
    assert "unanswerable surveys received" in run.outcome.report
    assert sum(run.outcome.total.unanswerable.values()) == len(gaps)
    unanswerable_mails = [m for m in run.outcome.runner.mails if not m.offered and m.template in ASKS]
    assert len(unanswerable_mails) == sum(1 for g in gaps if g.channel == "email")
    for gap in gaps:
        print(f"unanswerable: day {gap.day} {gap.account_id} {gap.channel} {gap.label}")


def test_a_recovered_customer_gets_no_task_and_is_asked_only_what_it_can_answer(run: Run) -> None:
    story = run.stories["recovering"]
    assert story.first_mail("risk.decline_notice") is not None, story.describe()
    assert story.tasks_of("risk_no_recovery") == [], story.describe()
    gaps = [g for g in run.outcome.runner.unanswerable if g.account_id == story.account.account_id]
    assert [g for g in gaps if g.label == "risk.feature_survey"] == [], f"{gaps}: {story.describe()}"
    print(f"recovering: {story.describe()} unanswerable {gaps}")


def test_a_hesitant_customer_opens_the_nps_survey_and_gets_a_reminder_it_answers_if_it_can(run: Run) -> None:
    story = run.stories["hesitant"]
    account_id = story.account.account_id
    mails = [m for m in run.outcome.runner.mails if m.account_id == account_id]
    surveys = [m for m in mails if m.template == "advocacy.nps_survey"]
    assert surveys and surveys[0].reaction.open and surveys[0].reaction.answer is None, story.describe()
    reminders = [m for m in mails if m.template == "advocacy.reminder"]
    assert reminders, f"no reminder after the opened, unanswered survey: {story.describe()}"
    assert 6 <= reminders[0].day - surveys[0].day <= 8, story.describe()
    given = [g for g in run.outcome.runner.given if g.account_id == account_id]
    gaps = [g for g in run.outcome.runner.unanswerable if g.account_id == account_id]
    if reminders[0].offered:
        # The reminder can be answered: the customer did, among its links, and was heard.
        answers = {(g.channel, g.answer["survey"], g.answer.get("score")) for g in given}
        assert answers == {("email", "nps", 7)}, story.describe()
        assert story.tasks_of("passive_interview") or "advocacy.passive_thanks" in story.templates()
    else:
        # It cannot: no answer, and the report shows the gap instead of hiding it.
        assert given == [] and ("email", "advocacy.reminder") in {(g.channel, g.label) for g in gaps}
