"""The seed playbooks as customers live them: one story per step and tier, in simulated time.

One stack, many accounts (one per story), driven day by day together. Accounts come in through
ingest's Segment API; customers act only on what they received (``tests/e2e/customer.py``): the
mail in the SMTP sink (open pixel, tracked links, one-click answers) and the in-app API with a
signed user token, answering only among the choices offered. Each day has two instants: 09:00,
when the clock moves (timers fire) and the day's product events go in, and 15:00, when people
read and answer. A mail's day is when notify sent it (its timeline, by delivery id); a task's day
its creation. Assertions name the day, channel, recipient and content of each touch.

The stories (account name: what its people do):
- onboarding (signed day 0): ``onb_tech_engaged`` clicks the welcome, logs in daily, reports setup
  done on day 3, answers the closing survey; ``onb_tech_prefetch`` has its welcome prefetched (a
  machine open), logs in once, its stall task is closed on day 18; ``onb_tech_never`` never logs
  in; ``onb_high_silent`` (high touch) never opens anything.
- renewal (renewal date day 121): ``ren_tech_undecided`` / ``ren_low_undecided`` /
  ``ren_tech_unlikely`` answer the mail; ``ren_tech_late`` answers the in-app reminder at 90 days;
  ``ren_tech_silent`` (ja) and ``ren_high_silent`` never answer; ``ren_tech_renewed`` answers
  "likely" and renews on day 10.
- risk (two months of full use, then a fraction from day 0): ``risk_tech_recovered`` is back at
  full use with a new feature the day after the notice; ``risk_tech_down`` never reads;
  ``risk_tech_reads`` reads but stays down; ``risk_low``, ``risk_high``.
- NPS (first seen 29 days before day 0): detractors (tech, high) and a passive answer by mail, a
  promoter in-app then "yes" to the referral ask, ``nps_partial`` sends a comment alone then
  answers the reminder, ``nps_opened`` opens and does not answer, ``nps_ignored`` never opens.
- re-engagement (first seen 119 days before, never contacted): tech, low, and two high-touch
  accounts whose plan task the CSM closes as contact made / customer unreachable.
- churn (cancelled on day 3): tech, low, high. Band drop (day 5: seats x10, business shrinking,
  six support tickets): two tech (one reads), low, high.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer import Customer, Received, World  # tests/e2e/customer.py

from touchline.sim.barrier import Barrier, wait_until
from touchline.sim.client import SimulationError, StackClient

pytestmark = pytest.mark.e2e

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
DAILY_UNTIL = 47  # days 0..46 one by one, then a jump to the renewal offer's day
OFFER_DAY = 61  # renewal_date = day 121: the offer goes 60 days before
FAR = (T0 + timedelta(days=400)).date().isoformat()
RENEWAL = (T0 + timedelta(days=121)).date().isoformat()
FEATURES = ("reports", "dashboard", "exports")


@dataclass
class Stories:
    world: World
    tasks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # notify's answers API
    timeline_templates: dict[str, str | None] = field(default_factory=dict)  # delivery id -> template
    enrolments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def c(self, name: str) -> Customer:
        customer = self.world.customers[name]
        assert customer.problems == [], f"{name} could not act as planned: {customer.problems}{self.why(name)}"
        return customer

    def tasks_of(self, name: str, type_: str) -> list[dict[str, Any]]:
        return [t for t in self.tasks[name] if t["type"] == type_]

    def day(self, text: str) -> int:
        return self.world.day_of(text)

    def why(self, name: str) -> str:
        customer = self.world.customers[name]
        tasks = ", ".join(
            f"d{self.day(t['created_at'])} {t['type']} ({t['priority']}, {t['status']})" for t in self.tasks[name]
        )
        runs = "; ".join(
            f"{e['playbook']}/{e['variant']} {e['status']}: "
            + " > ".join(f"{h['at'][5:16]} {h['step']} {h['event']}" for h in e["history"])
            for e in self.enrolments[name]
        )
        return f"\n{name}: received [{customer.story()}]\ntasks [{tasks}]\nruns [{runs}]"


def account_traits(*, arr: int, stage: str, signed_at: datetime | None = None, renewal: str = FAR) -> dict[str, Any]:
    traits: dict[str, Any] = {"plan": "pro", "arr": arr, "seats": 3, "lifecycle_stage": stage, "renewal_date": renewal}
    if signed_at is not None:
        traits["signed_at"] = signed_at.isoformat()
    return traits


def build(world: World) -> None:
    csm = {"csm_owner": f"csm-{world.tag}@example.com"}

    def onboarding(arr: int) -> dict[str, Any]:
        return {**account_traits(arr=arr, stage="onboarding", signed_at=T0), **csm}

    world.customer("onb_tech_engaged", traits=onboarding(3000))
    world.customer("onb_tech_prefetch", traits=onboarding(3000))
    world.customer("onb_high_silent", traits=onboarding(20000))
    world.customer("onb_tech_never", traits=onboarding(3000))
    for name, arr, locale in (
        ("ren_tech_undecided", 5000, "en"),
        ("ren_tech_silent", 5000, "ja"),
        ("ren_high_silent", 60000, "en"),
        ("ren_tech_renewed", 5000, "en"),
        ("ren_low_undecided", 20000, "en"),
        ("ren_tech_unlikely", 5000, "en"),
        ("ren_tech_late", 5000, "en"),
    ):
        world.customer(
            name, traits={**account_traits(arr=arr, stage="adoption", renewal=RENEWAL), **csm}, locale=locale
        )
    for name in RISK:
        arr = {"risk_low": 20000, "risk_high": 60000}.get(name, 5000)
        world.customer(name, traits={**account_traits(arr=arr, stage="adoption"), **csm}, users=3)
    for name in NPS:
        arr = 60000 if name == "nps_high_detractor" else 3000
        world.customer(name, traits={**account_traits(arr=arr, stage="adoption"), **csm})
    for name, arr in (
        ("reeng_tech", 3000),
        ("reeng_low", 20000),
        ("reeng_high_contacted", 60000),
        ("reeng_high_unreachable", 60000),
    ):
        world.customer(name, traits={**account_traits(arr=arr, stage="adoption"), **csm})
    for name, arr in CHURN.items():
        world.customer(name, traits={**account_traits(arr=arr, stage="adoption"), **csm})
    for name, arr in BAND.items():
        world.customer(name, traits={**account_traits(arr=arr, stage="adoption"), **csm}, users=3)


RISK = ("risk_tech_recovered", "risk_tech_down", "risk_tech_reads", "risk_low", "risk_high")
NPS = ("nps_detractor", "nps_high_detractor", "nps_promoter", "nps_passive", "nps_partial", "nps_opened", "nps_ignored")
RENEWALS = (
    "ren_tech_undecided",
    "ren_tech_silent",
    "ren_high_silent",
    "ren_tech_renewed",
    "ren_low_undecided",
    "ren_tech_unlikely",
    "ren_tech_late",
)
CHURN = {"churn_tech": 3000, "churn_low": 20000, "churn_high": 60000}
BAND = {"band_tech_reads": 3000, "band_tech_silent": 3000, "band_low": 20000, "band_high": 60000}
BAND_DROP_DAY = 5
REENG = ("reeng_tech", "reeng_low", "reeng_high_contacted", "reeng_high_unreachable")


def history(world: World) -> list[dict[str, Any]]:
    """What the product knew before day 0, sent on day 0 with its own timestamps."""
    calls: list[dict[str, Any]] = []
    for name in (*RISK, *BAND):
        # Two months of full use (every user, every day, two features); the drop comes during the run.
        c = world.customers[name]
        calls += world.introduce(c, at=world.at(-60, 8))
        for day in range(-60, 0):
            for user in c.users:
                calls.append(world.track(c, user, "Signed In", at=world.at(day, 10)))
                for feature in FEATURES[:2]:
                    calls.append(world.track(c, user, "Feature Used", at=world.at(day, 11), feature=feature))
    for name in NPS:
        c = world.customers[name]
        calls += world.introduce(c, at=world.at(-29, 8))
        calls += [world.track(c, u, "Signed In", at=world.at(d, 10)) for d in range(-29, 0) for u in c.users]
    for name in REENG:
        c = world.customers[name]
        calls += world.introduce(c, at=world.at(-119, 8))
        calls += [world.track(c, u, "Signed In", at=world.at(d, 10)) for d in range(-13, 0) for u in c.users]
    return calls


def usage_of_day(world: World, day: int) -> list[dict[str, Any]]:
    """The product's events of ``day`` at 09:00 (what each story's customers do in the product)."""
    at = world.at(day)
    calls: list[dict[str, Any]] = []

    def login(name: str, *users: Any, features: tuple[str, ...] = ()) -> None:
        c = world.customers[name]
        for user in users or c.users:
            calls.append(world.track(c, user, "Signed In", at=at))
            for feature in features:
                calls.append(world.track(c, user, "Feature Used", at=at, feature=feature))

    if day == 0:
        for name in ("onb_tech_engaged", "onb_tech_prefetch", "onb_high_silent", "onb_tech_never"):
            calls += world.introduce(world.customers[name], at=at)
            calls.append(world.track(world.customers[name], world.customers[name].admin, "Contract Signed", at=at))
        for name in (*RENEWALS, *CHURN):
            calls += world.introduce(world.customers[name], at=at)
        calls += [
            world.track(world.customers[n], world.customers[n].admin, "Signed In", at=at)
            for n in ("onb_tech_prefetch", "onb_high_silent")
        ]
    login("onb_tech_engaged", features=FEATURES[:2])
    if day == 3:
        c = world.customers["onb_tech_engaged"]
        calls.append(world.track(c, c.admin, "Setup Completed", at=at))
    for name in (*RENEWALS, *NPS, *REENG):
        login(name, features=FEATURES[:1])
    if day == 10:
        c = world.customers["ren_tech_renewed"]
        calls.append(world.track(c, c.admin, "Subscription Renewed", at=at))
        calls.append(world.regroup(c, at=at, renewal_date=(T0 + timedelta(days=121 + 365)).date().isoformat()))
    # From day 0 only the admin comes in, every 4th day; the recovered customer is back at full use
    # (with a feature it never used before) the day after it got the decline notice.
    recovered = world.customers["risk_tech_recovered"]
    if any(m.day < day for m in recovered.mails("risk.decline_notice")):
        login("risk_tech_recovered", features=(*FEATURES[:2], "automations"))
    elif day % 4 == 0:
        login("risk_tech_recovered", recovered.admin)
    for name in ("risk_tech_down", "risk_tech_reads", "risk_low", "risk_high"):
        if day % 4 == 0:
            login(name, world.customers[name].admin)
    for name in BAND:
        login(name, features=FEATURES[:2])
        if day == BAND_DROP_DAY:
            # The customer's business shrinks: many more seats than users, six support tickets.
            c = world.customers[name]
            calls.append(world.regroup(c, at=at, seats=30, business_shrinking=True))
            calls += [world.track(c, c.admin, "Support Ticket Opened", at=at, ticket=n) for n in range(6)]
    if day <= 3:
        for name in CHURN:
            login(name, features=FEATURES[:1])
    if day == 3:
        for name in CHURN:
            c = world.customers[name]
            calls.append(world.track(c, c.admin, "Account Cancelled", at=at))
    return calls


async def readers(world: World, day: int) -> None:
    """15:00: what people do with what they received (only through it)."""
    c = world.customers
    # The mail not read yet: this morning's, and yesterday afternoon's (sent in answer to a reaction).
    today = {name: [r for r in cust.received if r.channel == "email" and not r.read] for name, cust in c.items()}
    for got in (r for mails in today.values() for r in mails):
        got.read = True

    def todays(name: str, template: str) -> list[Received]:
        return [r for r in today[name] if r.template == template]

    # Onboarding: a real click on the welcome mail the day it comes.
    for got in todays("onb_tech_engaged", "onboarding.welcome"):
        await c["onb_tech_engaged"].click(got)
    # Everybody active looks at the widget; the engaged onboarding admin answers the closing survey.
    for got in await c["onb_tech_engaged"].look_inapp(c["onb_tech_engaged"].admin, day):
        if got.template == "onboarding.satisfaction_survey":
            scores = [a["score"] for a in got.offered() if "score" in a]
            await c["onb_tech_engaged"].answer_inapp(got, score=max(scores, default=-1))
    await c["onb_tech_engaged"].look_inapp(c["onb_tech_engaged"].end_user, day)
    for user in c["onb_tech_prefetch"].users:
        await c["onb_tech_prefetch"].look_inapp(user, day)
    # Renewal.
    for name in ("ren_tech_undecided", "ren_low_undecided"):
        for got in todays(name, "renewal.reminder_survey"):
            await c[name].answer_mail(got, choice="undecided")
    for got in todays("ren_tech_renewed", "renewal.reminder_survey"):
        await c["ren_tech_renewed"].answer_mail(got, choice="likely")
    for got in todays("ren_tech_unlikely", "renewal.reminder_survey"):
        await c["ren_tech_unlikely"].answer_mail(got, choice="unlikely")
    # The late one ignores the mail and answers the in-app reminder when it shows up.
    for got in await c["ren_tech_late"].look_inapp(c["ren_tech_late"].admin, day):
        if got.template == "renewal.reminder_survey":
            await c["ren_tech_late"].answer_inapp(got, choice="likely")
    for user in c["ren_tech_silent"].users:
        await c["ren_tech_silent"].look_inapp(user, day)  # sees, never answers
    # Risk: the recovered customer read the notice and answers the feature survey in-app.
    for name in ("risk_tech_recovered", "risk_tech_reads"):
        for got in todays(name, "risk.decline_notice"):
            await c[name].open(got)
    for user in c["risk_tech_recovered"].users:
        for got in await c["risk_tech_recovered"].look_inapp(user, day):
            if got.template == "risk.feature_survey" and got.offered():
                await c["risk_tech_recovered"].answer_inapp(got, features=["automations"])
    # NPS.
    for name in ("nps_detractor", "nps_high_detractor"):
        for got in todays(name, "advocacy.nps_survey"):
            await c[name].answer_mail(got, score=2)
    for got in todays("nps_passive", "advocacy.nps_survey"):
        await c["nps_passive"].answer_mail(got, score=8)
    for got in todays("nps_opened", "advocacy.nps_survey"):
        await c["nps_opened"].open(got)
    for got in todays("nps_promoter", "advocacy.promoter_referral_ask"):
        await c["nps_promoter"].answer_mail(got, choice="yes")
    for got in todays("nps_partial", "advocacy.reminder"):
        await c["nps_partial"].answer_mail(got, score=9)
    for name in NPS:
        for user in c[name].users:
            for got in await c[name].look_inapp(user, day):
                if got.template != "advocacy.nps_survey":
                    continue
                if name == "nps_promoter":
                    await c[name].answer_inapp(got, score=10, comment="We could not work without it.")
                elif name == "nps_partial":
                    await c[name].answer_inapp(got, comment="Too early to give a number.")
    for name in (*REENG, *BAND):
        for user in c[name].users:
            await c[name].look_inapp(user, day)
    # Band drop: one tech customer reads the check-in.
    for got in todays("band_tech_reads", "band_drop.check_in"):
        await c["band_tech_reads"].open(got)
    # Churn: the admin answers the exit survey with the lowest score offered.
    for name in CHURN:
        for got in todays(name, "churn.exit_survey"):
            scores = [a["score"] for a in got.offered() if "score" in a]
            await c[name].answer_mail(got, score=min(scores, default=-1))


async def csm_desk(world: World, day: int) -> None:
    """The CSMs close the re-engagement plans on day 2 (one reached the customer, one could not)
    and the stalled onboarding's task on day 18 (they called and the customer restarts)."""
    if day == 18:
        for task in await world.tasks(world.customers["onb_tech_prefetch"]):
            if task["type"] == "onboarding_stalled" and task["status"] == "open":
                await complete(world, task, "called them: they restart next week")
    if day != 2:
        return
    for name, reason in (
        ("reeng_high_contacted", "met the sponsor, plan agreed"),
        ("reeng_high_unreachable", "customer_unreachable"),
    ):
        for task in await world.tasks(world.customers[name]):
            if task["type"] == "account_plan" and task["status"] == "open":
                await complete(world, task, reason)


async def complete(world: World, task: dict[str, Any], reason: str) -> None:
    response = await world.client.http.post(
        f"{world.client.endpoints.url('notify')}/v1/tasks/{task['id']}/complete",
        json={"reason": reason, "status": "completed"},
        headers={"Authorization": f"Bearer {world.client.endpoints.api_token}"},
    )
    assert response.status_code == 200, response.text


async def prefetch(world: World) -> None:
    """Day 0, 09:00: the prefetching mail client loads the welcome mail's pixel as it arrives."""
    c = world.customers["onb_tech_prefetch"]

    async def arrived() -> bool:
        await world.deliver(0)
        return bool(c.mails("onboarding.welcome"))

    await wait_until(arrived, timeout=60, what=lambda: f"the welcome mail of {c.account_id} in the sink")
    await c.open(c.mail("onboarding.welcome"))


async def run_day(world: World, day: int) -> None:
    await world.move(world.at(day))
    calls = (history(world) if day == 0 else []) + usage_of_day(world, day)
    await world.send(calls, sent_at=world.at(day))
    await world.settle()
    if day == 0:
        await prefetch(world)
    await world.deliver(day)
    await world.move(world.at(day, 15))
    await world.deliver(day)
    await readers(world, day)
    await csm_desk(world, day)
    await world.settle()
    await world.deliver(day)


async def date_mails(world: World) -> None:
    """Each mail's day is when notify sent it (service clock), from the account's timeline."""
    for customer in world.customers.values():
        items = await world.client.timeline(customer.account_id)
        sent = {str(i["id"]): i["at"] for i in items if i["channel"] == "email"}
        shown = {str(i["id"]): i["at"] for i in items if i["channel"] == "in_app"}
        for got in customer.received:
            key = got.mail.delivery_id if got.mail is not None else str((got.message or {}).get("id"))
            at = sent.get(key or "") if got.channel == "email" else shown.get(key or "")
            if at is not None:
                got.day = world.day_of(at)


@pytest.fixture(scope="module")
async def stories(e2e_stack) -> Stories:  # type: ignore[no-untyped-def]
    async with StackClient(e2e_stack.endpoints) as client:
        barrier = Barrier(e2e_stack.common, client)
        await barrier.start()
        world = World(client=client, barrier=barrier, mail_dir=e2e_stack.mail_dir, start=T0)
        build(world)
        try:
            for day in range(DAILY_UNTIL):
                await run_day(world, day)
            for day in (OFFER_DAY, OFFER_DAY + 1):
                await world.move(world.at(day))
                await world.settle()
                await world.deliver(day)
            await date_mails(world)
            result = Stories(world=world)
            for name, customer in world.customers.items():
                result.tasks[name] = await world.tasks(customer)
                body = await client.get_json("notify", "/v1/answers", account_id=customer.account_id, limit=1000)
                result.answers[name] = list(body["answers"])
                for item in await client.timeline(customer.account_id):
                    if item["channel"] == "email":
                        result.timeline_templates[str(item["id"])] = item.get("template")
                result.enrolments[name] = await client.get_json(
                    "touch", f"/v1/accounts/{customer.account_id}/enrolments"
                )
        except SimulationError as exc:
            pytest.fail(f"{exc}\n{e2e_stack.diagnose()}")
        finally:
            await barrier.stop()
    return result


def only(items: list[Any], what: str) -> Any:
    assert len(items) == 1, f"expected one {what}, got {len(items)}"
    return items[0]


# --- onboarding ------------------------------------------------------------------------------------


def test_onboarding_tech_a_real_click_on_the_welcome_leads_to_training_tips_thanks_and_survey(stories: Stories) -> None:
    c, why = stories.c("onb_tech_engaged"), stories.why("onb_tech_engaged")
    welcome = c.mail("onboarding.welcome")
    assert (welcome.day, welcome.to) == (0, c.admin.email), why
    assert c.traits["name"] in welcome.subject, why
    assert c.mails("onboarding.welcome", to=c.end_user) == [], why  # admins only
    assert stories.tasks_of("onb_tech_engaged", "onboarding_no_response") == [], why
    assert c.mail("onboarding.training_invite", to=c.admin).day == 2, why
    assert c.mails("onboarding.setup_material") == [], f"setup was reported done on day 3: {why}"
    tips = c.inapp("onboarding.tips")
    assert tips and min(t.day for t in tips) == 3, why
    assert c.mail("onboarding.thanks", to=c.admin).day == 6, f"the 7th login day is day 6: {why}"
    survey = c.inapp("onboarding.satisfaction_survey", to=c.admin)
    assert survey and survey[0].day == 8 and survey[0].offered(), why
    assert c.mails("onboarding.reminder") == [], why


def test_onboarding_tech_a_prefetched_welcome_is_unopened_and_a_single_login_stalls(stories: Stories) -> None:
    c, why = stories.c("onb_tech_prefetch"), stories.why("onb_tech_prefetch")
    assert c.mail("onboarding.welcome").day == 0, why
    task = only(stories.tasks_of("onb_tech_prefetch", "onboarding_no_response"), "no-response task")
    assert (stories.day(task["created_at"]), task["priority"]) == (1, "high"), why
    assert c.mail("onboarding.training_invite").day == 2, why
    assert c.mail("onboarding.setup_material").day == 5, f"logged in on day 0, so setup goes: {why}"
    assert [m.day for m in c.mails("onboarding.reminder")] == [12], why
    stalled = only(stories.tasks_of("onb_tech_prefetch", "onboarding_stalled"), "stalled task")
    assert stories.day(stalled["created_at"]) == 17, why
    assert c.mails("onboarding.thanks") == [], f"one login is no daily use: {why}"
    # The CSM closes the stall task on day 18: the closing survey two days later, never before.
    surveys = c.inapp("onboarding.satisfaction_survey")
    assert surveys and min(s.day for s in surveys) == 20, f"never while the stall task is open: {why}"


def test_onboarding_high_touch_an_unopened_welcome_is_an_urgent_call_within_four_hours(stories: Stories) -> None:
    c, why = stories.c("onb_high_silent"), stories.why("onb_high_silent")
    assert c.mail("onboarding.welcome", to=c.admin).day == 0, why
    task = only(stories.tasks_of("onb_high_silent", "onboarding_no_response"), "no-response task")
    created, due = (datetime.fromisoformat(task[k]) for k in ("created_at", "due_at"))
    assert (stories.day(task["created_at"]), task["priority"], due - created) == (1, "urgent", timedelta(hours=4)), why
    assert c.mail("onboarding.setup_material").day == 5, why
    stalled = only(stories.tasks_of("onb_high_silent", "onboarding_stalled"), "stalled task")
    assert stories.day(stalled["created_at"]) == 12, why
    assert c.mails("onboarding.reminder") == [], f"high touch: the CSM, not a reminder: {why}"


def test_onboarding_tech_never_logged_in_gets_the_reminder_instead_of_setup_then_a_human(stories: Stories) -> None:
    c, why = stories.c("onb_tech_never"), stories.why("onb_tech_never")
    task = only(stories.tasks_of("onb_tech_never", "onboarding_no_response"), "no-response task")
    assert stories.day(task["created_at"]) == 1, why
    assert c.mail("onboarding.training_invite").day == 2, why
    assert c.mails("onboarding.setup_material") == [], f"no progress, no setup material: {why}"
    assert [m.day for m in c.mails("onboarding.reminder", to=c.admin)] == [5], why
    stalled = only(stories.tasks_of("onb_tech_never", "onboarding_stalled"), "stalled task")
    assert stories.day(stalled["created_at"]) == 10, why


# --- renewal ---------------------------------------------------------------------------------------


def test_renewal_tech_undecided_gets_a_follow_up_and_an_emphasised_offer_at_sixty_days(stories: Stories) -> None:
    c, why = stories.c("ren_tech_undecided"), stories.why("ren_tech_undecided")
    reminder = c.mail("renewal.reminder_survey", to=c.admin)
    assert reminder.day == 1, why
    assert sorted(a["choice"] for a in reminder.offered()) == ["likely", "undecided", "unlikely"], why
    task = only(stories.tasks_of("ren_tech_undecided", "renewal_follow_up"), "follow-up task")
    assert (stories.day(task["created_at"]), task["priority"]) == (1, "high"), why
    assert c.inapp("renewal.reminder_survey") == [], f"answered: no second reminder: {why}"
    assert stories.tasks_of("ren_tech_undecided", "renewal_churn_risk") == [], why
    offer = c.mail("renewal.offer", to=c.admin)
    assert offer.day == OFFER_DAY, why
    assert "10% off" in offer.text and "free training" in offer.text and "especially for you" in offer.text, offer.text
    assert "thank you for renewing" not in offer.text.lower(), offer.text


def test_renewal_low_touch_undecided_gets_a_follow_up_and_the_low_touch_offer(stories: Stories) -> None:
    c, why = stories.c("ren_low_undecided"), stories.why("ren_low_undecided")
    assert c.mail("renewal.reminder_survey", to=c.admin).day == 1, why
    task = only(stories.tasks_of("ren_low_undecided", "renewal_follow_up"), "follow-up task")
    assert (stories.day(task["created_at"]), task["priority"]) == (1, "high"), why
    offer = c.mail("renewal.offer", to=c.admin)
    assert offer.day == OFFER_DAY, why
    for line in ("10% off", "2 free tickets", "free training", "especially for you"):
        assert line in offer.text, f"{line!r} not in {offer.text}"


def test_renewal_tech_unlikely_gets_a_follow_up_and_the_plain_unlikely_offer(stories: Stories) -> None:
    c, why = stories.c("ren_tech_unlikely"), stories.why("ren_tech_unlikely")
    task = only(stories.tasks_of("ren_tech_unlikely", "renewal_follow_up"), "follow-up task")
    assert (stories.day(task["created_at"]), task["priority"]) == (1, "high"), why
    offer = c.mail("renewal.offer", to=c.admin)
    assert offer.day == OFFER_DAY and "5% off" in offer.text and "free training" in offer.text, offer.text
    assert "especially for you" not in offer.text, f"emphasis is for the undecided: {offer.text}"


def test_renewal_tech_answered_in_app_at_ninety_days_is_no_churn_risk(stories: Stories) -> None:
    c, why = stories.c("ren_tech_late"), stories.why("ren_tech_late")
    assert c.mail("renewal.reminder_survey", to=c.admin).day == 1, why
    second = c.inapp("renewal.reminder_survey", to=c.admin)
    assert second and second[0].day == 31, why
    assert c.given == [{"survey": "renewal", "choice": "likely"}], why
    assert stories.tasks_of("ren_tech_late", "renewal_churn_risk") == [], why
    assert stories.tasks_of("ren_tech_late", "renewal_follow_up") == [], why
    offer = c.mail("renewal.offer", to=c.admin)
    assert offer.day == OFFER_DAY and "1 free ticket to" in offer.text and "%" not in offer.text, offer.text


def test_renewal_tech_silent_gets_the_in_app_reminder_then_a_churn_risk_task_and_a_plain_offer(
    stories: Stories,
) -> None:
    c, why = stories.c("ren_tech_silent"), stories.why("ren_tech_silent")
    assert c.mail("renewal.reminder_survey", to=c.admin).day == 1, why
    second = c.inapp("renewal.reminder_survey")
    assert second and min(r.day for r in second) == 31, why
    assert sorted(a["choice"] for a in second[0].offered()) == ["likely", "undecided", "unlikely"], why
    task = only(stories.tasks_of("ren_tech_silent", "renewal_churn_risk"), "churn-risk task")
    assert (stories.day(task["created_at"]), task["priority"]) == (45, "high"), why
    offer = c.mail("renewal.offer", to=c.admin)
    assert offer.day == OFFER_DAY and "無料トレーニング" in offer.text and "割引" not in offer.text, offer.text


def test_renewal_high_touch_plans_at_once_and_escalates_an_unanswered_survey(stories: Stories) -> None:
    c, why = stories.c("ren_high_silent"), stories.why("ren_high_silent")
    plan = only(stories.tasks_of("ren_high_silent", "renewal_follow_up"), "planning task")
    assert (stories.day(plan["created_at"]), plan["priority"]) == (1, "medium"), why
    assert c.mail("renewal.reminder_survey", to=c.admin).day == 1, why
    risk = only(stories.tasks_of("ren_high_silent", "renewal_churn_risk"), "churn-risk task")
    assert (stories.day(risk["created_at"]), risk["priority"]) == (31, "urgent"), why
    offer = c.mail("renewal.offer", to=c.admin)
    assert offer.day == OFFER_DAY and "10% off" in offer.text and "2 free tickets" in offer.text, offer.text


def test_renewal_likely_then_renewed_gets_the_thank_you_and_no_offer(stories: Stories) -> None:
    c, why = stories.c("ren_tech_renewed"), stories.why("ren_tech_renewed")
    assert c.mail("renewal.reminder_survey").day == 1, why
    assert stories.tasks_of("ren_tech_renewed", "renewal_follow_up") == [], why
    assert c.mail("renewal.thanks", to=c.admin).day == 10, why
    assert c.mails("renewal.offer") == [] and c.inapp("renewal.reminder_survey") == [], why


# --- risk ------------------------------------------------------------------------------------------


def decline_day(stories: Stories, name: str) -> int:
    """The day touch enrolled the account in the risk playbook (health saw usage down 30 %)."""
    runs = sorted(e["history"][0]["at"] for e in stories.enrolments[name] if e["playbook"] == "risk")
    assert runs, f"never enrolled in risk: {stories.why(name)}"
    day = stories.day(runs[0])
    # Full use until day 0, then a fraction: the 30-day trend crosses -30 % about 9 days in.
    assert 5 <= day <= 14, f"decline seen on day {day}: {stories.why(name)}"
    return day


def test_risk_tech_recovered_gets_the_feature_survey_and_no_csm_task(stories: Stories) -> None:
    c, why = stories.c("risk_tech_recovered"), stories.why("risk_tech_recovered")
    n = decline_day(stories, "risk_tech_recovered")
    assert c.mail("risk.decline_notice", to=c.admin).day == n, why
    surveys = [s for s in c.inapp("risk.feature_survey") if s.day <= n + 14]
    assert surveys, f"back at full use from day {n + 1}, never surveyed: {why}"
    assert n + 1 <= min(s.day for s in surveys) <= n + 7, why
    offered = [a["features"][0] for a in surveys[0].offered()]
    assert offered and offered[0] == "automations", f"newly used first: {offered}{why}"
    assert set(offered) <= {"automations", *FEATURES[:2]}, offered
    assert {s.to for s in surveys} == {u.user_id for u in c.users}, f"in-app to every contact: {why}"
    assert [t for t in stories.tasks_of("risk_tech_recovered", "risk_no_recovery")] == [], why


def test_risk_tech_not_recovered_gets_use_cases_then_a_task_after_two_weeks(stories: Stories) -> None:
    c, why = stories.c("risk_tech_down"), stories.why("risk_tech_down")
    n = decline_day(stories, "risk_tech_down")
    notice = c.mail("risk.decline_notice", to=c.admin)
    assert notice.day == n and c.mails("risk.decline_notice", to=c.end_user) == [], why
    assert c.mail("risk.use_cases", to=c.admin).day == n + 3, why
    task = only(stories.tasks_of("risk_tech_down", "risk_no_recovery"), "no-recovery task")
    assert (stories.day(task["created_at"]), task["priority"]) == (n + 14, "high"), why
    assert c.inapp("risk.feature_survey") == [], why


def test_risk_tech_a_customer_who_read_the_mails_gets_no_task(stories: Stories) -> None:
    c, why = stories.c("risk_tech_reads"), stories.why("risk_tech_reads")
    n = decline_day(stories, "risk_tech_reads")
    assert c.mail("risk.decline_notice", to=c.admin).day == n, why
    assert c.mail("risk.use_cases", to=c.admin).day == n + 3, why
    assert stories.tasks_of("risk_tech_reads", "risk_no_recovery") == [], f"read, so no task: {why}"


def test_risk_low_touch_gets_the_webinar_then_a_check_in(stories: Stories) -> None:
    c, why = stories.c("risk_low"), stories.why("risk_low")
    n = decline_day(stories, "risk_low")
    assert c.mail("risk.use_cases", to=c.admin).day == n, why
    invite = only(stories.tasks_of("risk_low", "webinar_invite"), "webinar task")
    assert (stories.day(invite["created_at"]), invite["priority"]) == (n, "low"), why
    task = only(stories.tasks_of("risk_low", "risk_no_recovery"), "check-in task")
    assert (stories.day(task["created_at"]), task["priority"]) == (n + 14, "medium"), why
    assert c.mails("risk.decline_notice") == [], why


def test_risk_high_touch_is_a_call_task_at_once(stories: Stories) -> None:
    c, why = stories.c("risk_high"), stories.why("risk_high")
    n = decline_day(stories, "risk_high")
    task = only(stories.tasks_of("risk_high", "risk_high_touch"), "call task")
    assert (stories.day(task["created_at"]), task["priority"]) == (n, "high"), why
    assert c.mails("risk.decline_notice") == [] and c.mails("risk.use_cases") == [], why


# --- NPS and advocacy ------------------------------------------------------------------------------


def test_nps_goes_by_mail_to_decision_makers_and_in_app_to_end_users(stories: Stories) -> None:
    for name in NPS:
        c, why = stories.c(name), stories.why(name)
        mail = c.mail("advocacy.nps_survey", to=c.admin)
        assert mail.day == 1, why
        assert sorted(a["score"] for a in mail.offered()) == list(range(11)), why
        assert c.mails("advocacy.nps_survey", to=c.end_user) == [], why
        assert c.inapp("advocacy.nps_survey", to=c.admin) == [], f"the admin got the mail: {why}"
        assert c.inapp("advocacy.nps_survey", to=c.end_user), why


@pytest.mark.parametrize("name", ["nps_detractor", "nps_high_detractor"])
def test_nps_detractor_gets_a_follow_up_mail_and_an_urgent_csm_task(stories: Stories, name: str) -> None:
    c, why = stories.c(name), stories.why(name)
    follow = c.mail("advocacy.detractor_followup")
    assert (follow.day, follow.to) == (1, c.admin.email), why
    assert "seriously" in follow.text and "talk" in follow.text, f"takes it seriously, offers to talk: {follow.text}"
    task = only(stories.tasks_of(name, "detractor_follow_up"), "detractor task")
    assert (stories.day(task["created_at"]), task["priority"]) == (1, "urgent"), why
    assert c.mails("advocacy.promoter_referral_ask") == [] and c.mails("advocacy.reminder") == [], why


def test_nps_passive_gets_thanks_and_an_interview_task(stories: Stories) -> None:
    c, why = stories.c("nps_passive"), stories.why("nps_passive")
    assert c.mail("advocacy.passive_thanks", to=c.admin).day == 1, why
    task = only(stories.tasks_of("nps_passive", "passive_interview"), "interview task")
    assert (stories.day(task["created_at"]), task["priority"]) == (1, "low"), why
    assert stories.tasks_of("nps_passive", "detractor_follow_up") == [], why


def test_nps_promoter_in_app_is_asked_to_refer_and_thanked_with_a_gift(stories: Stories) -> None:
    c, why = stories.c("nps_promoter"), stories.why("nps_promoter")
    ask = c.mail("advocacy.promoter_referral_ask", to=c.admin)
    assert ask.day == 1 and sorted(a["choice"] for a in ask.offered()) == ["no", "yes"], why
    gift = c.mail("advocacy.gift_thanks")
    assert (gift.day, gift.to) == (2, c.admin.email), f"to the one who agreed: {why}"
    assert "gift" in gift.subject.lower(), gift.subject
    task = only(stories.tasks_of("nps_promoter", "referral_gift"), "gift task")
    assert stories.day(task["created_at"]) == 2, why


def test_nps_partial_answer_gets_an_answerable_reminder(stories: Stories) -> None:
    c, why = stories.c("nps_partial"), stories.why("nps_partial")
    reminder = c.mail("advocacy.reminder", to=c.admin)
    assert reminder.day == 1, f"a comment without a score is a partial answer: {why}"
    assert sorted(a["score"] for a in reminder.offered()) == list(range(11)), f"one click must answer it: {why}"
    assert c.mail("advocacy.promoter_referral_ask").day == 2, f"answered 9 from the reminder: {why}"


def test_nps_opened_but_unanswered_gets_one_answerable_reminder_a_week_later(stories: Stories) -> None:
    c, why = stories.c("nps_opened"), stories.why("nps_opened")
    reminders = c.mails("advocacy.reminder")
    assert [r.day for r in reminders] == [8], why
    assert reminders[0].offered(), f"the reminder carries no answer links: {why}"


def test_nps_never_opened_gets_no_reminder_and_no_task(stories: Stories) -> None:
    c, why = stories.c("nps_ignored"), stories.why("nps_ignored")
    assert c.mails("advocacy.reminder") == [] and stories.tasks["nps_ignored"] == [], why


# --- re-engagement ---------------------------------------------------------------------------------


def test_reengagement_tech_gets_news_by_mail_and_popup_again_while_silent(stories: Stories) -> None:
    c, why = stories.c("reeng_tech"), stories.why("reeng_tech")
    # Every 30 days while the silence lasts (day 61 is after the clock's jump from day 46).
    assert [m.day for m in c.mails("reengagement.news", to=c.admin)] == [1, 31, 61], why
    assert sorted({m.day for m in c.inapp("reengagement.news")}) == [1, 31], why  # nobody looked after day 46


def test_reengagement_low_touch_is_a_check_in_task(stories: Stories) -> None:
    c, why = stories.c("reeng_low"), stories.why("reeng_low")
    task = stories.tasks_of("reeng_low", "reengagement_low_touch")
    assert task and stories.day(task[0]["created_at"]) == 1, why
    assert c.mails("reengagement.news") == [], why


def test_reengagement_high_touch_real_contact_ends_the_silence(stories: Stories) -> None:
    why = stories.why("reeng_high_contacted")
    days = [stories.day(t["created_at"]) for t in stories.tasks_of("reeng_high_contacted", "account_plan")]
    assert days == [1], why


def test_reengagement_high_touch_an_unreachable_customer_gets_a_fresh_plan(stories: Stories) -> None:
    why = stories.why("reeng_high_unreachable")
    days = sorted(stories.day(t["created_at"]) for t in stories.tasks_of("reeng_high_unreachable", "account_plan"))
    assert days == [1, 31], why


# --- churn -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CHURN))
def test_churn_gets_an_exit_survey_and_a_reason_task_and_nothing_else(stories: Stories, name: str) -> None:
    c, why = stories.c(name), stories.why(name)
    survey = c.mail("churn.exit_survey", to=c.admin)
    assert survey.day == 3 and survey.offered(), why
    task = only(stories.tasks_of(name, "churn_reason"), "churn task")
    assert (stories.day(task["created_at"]), task["priority"]) == (3, "high"), why
    assert [m.template for m in c.received if m.channel == "email" and m.day > 3] == [], why


# --- band drop -------------------------------------------------------------------------------------


def test_band_drop_tech_gets_a_check_in_by_mail_and_popup_and_a_task_when_unread(stories: Stories) -> None:
    c, why = stories.c("band_tech_silent"), stories.why("band_tech_silent")
    mail = c.mail("band_drop.check_in", to=c.admin)
    assert mail.day == BAND_DROP_DAY and "help" in mail.text, why
    assert c.mails("band_drop.check_in", to=c.end_user) == [], why
    popups = c.inapp("band_drop.check_in")
    assert popups and min(p.day for p in popups) == BAND_DROP_DAY, why
    task = only(stories.tasks_of("band_tech_silent", "band_drop_no_reaction"), "no-reaction task")
    assert (stories.day(task["created_at"]), task["priority"]) == (BAND_DROP_DAY + 7, "medium"), why


def test_band_drop_tech_a_customer_who_reads_the_check_in_gets_no_task(stories: Stories) -> None:
    c, why = stories.c("band_tech_reads"), stories.why("band_tech_reads")
    assert c.mail("band_drop.check_in", to=c.admin).day == BAND_DROP_DAY, why
    assert stories.tasks_of("band_tech_reads", "band_drop_no_reaction") == [], why


@pytest.mark.parametrize(
    ("name", "task_type", "priority"),
    [("band_low", "band_drop_check_in", "high"), ("band_high", "band_drop_call", "urgent")],
)
def test_band_drop_low_and_high_touch_get_a_csm_task_the_same_day(
    stories: Stories, name: str, task_type: str, priority: str
) -> None:
    c, why = stories.c(name), stories.why(name)
    task = only(stories.tasks_of(name, task_type), task_type)
    assert (stories.day(task["created_at"]), task["priority"]) == (BAND_DROP_DAY, priority), why
    assert c.mails("band_drop.check_in") == [] and c.inapp("band_drop.check_in") == [], f"a human, not a mail: {why}"


# --- the customer's path itself --------------------------------------------------------------------


def _essence(answer: dict[str, Any]) -> str:
    """What an answer says (the comment aside: the widget may send it apart)."""
    return repr([answer.get(k) for k in ("survey", "score", "choice", "features")])


def test_notify_recorded_exactly_the_answers_the_customers_gave(stories: Stories) -> None:
    """Every answer on record was given by a customer, among the choices it was offered."""
    gave_any = False
    for name, customer in stories.world.customers.items():
        recorded = sorted(_essence(a["answer"]) for a in stories.answers[name])
        given = sorted(_essence(a) for a in customer.given)
        assert recorded == given, f"{name}: recorded {recorded}, given {given}{stories.why(name)}"
        gave_any = gave_any or bool(given)
    assert gave_any


def test_every_customer_mail_says_which_template_it_is(stories: Stories) -> None:
    mails = [r for c in stories.world.customers.values() for r in c.mails()]
    assert mails
    for got in mails:
        assert got.mail is not None
        header = got.mail.template
        assert header is not None, f"{got.describe()}: no X-Touchline-Template header"
        assert header == stories.timeline_templates.get(got.mail.delivery_id or ""), got.describe()
