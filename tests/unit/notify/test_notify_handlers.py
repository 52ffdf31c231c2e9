"""notify's consumer handlers on an in-memory repository: what a command or a directory event
becomes (deliveries, parked commands, in-app messages, tasks, outcomes staged in the outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notify_fakes import FakeNotifyRepo  # type: ignore[import-not-found]

from touchline.notify import task_handlers as th
from touchline.notify.compose import Composer
from touchline.notify.domain.branding import Brand
from touchline.notify.handlers import Deps, expire_parked, handle_batch
from touchline.notify.settings import TEMPLATES_DIR
from touchline.notify.task_handlers import TaskDeps
from touchline.notify.templates import TASK_TEMPLATE, Catalog
from touchline.shared.cloudevents import Envelope
from touchline.shared.fates import BatchResult
from touchline.shared.messages import Command, Message, ProductEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(TEMPLATES_DIR)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(catalog: Catalog, clock: Clock) -> Deps:
    brand = Brand("Acme Cloud", "https://help.acme.test", "https://support.acme.test", None)
    composer = Composer(
        catalog, public_url="http://n", link_secret="unit-secret", mail_from="CS <cs@x.test>", default_locale="en",
        brand=brand,
    )  # fmt: skip
    tasks = TaskDeps(composer, pools={"default": ["pool-a@x.test", "pool-b@x.test"]}, now=clock.now)
    return Deps(composer, tasks, inapp_expiry=timedelta(days=14), now=clock.now, recipient_wait=timedelta(hours=24))


@pytest.fixture
def repo() -> FakeNotifyRepo:
    return FakeNotifyRepo()


def envelope(message: Message, *, id: str, traceparent: str | None = None) -> Envelope:
    return Envelope(id, "touch", message.ce_type, message, "commands", 0, 0, "acc-1", traceparent)


def email(command_id: str = "cmd-1", *, template: str = "onboarding.welcome", **fields: Any) -> Command:
    return Command(
        command_id=command_id, account_id="acc-1", channel="email", template=template, dedup_key=command_id,
        issued_at=T0, playbook="onboarding", step="welcome", **fields,
    )  # fmt: skip


def identify(user_id: str, **traits: Any) -> ProductEvent:
    return ProductEvent(
        message_id=f"ev-{user_id}", account_id="acc-1", kind="identify", user_id=user_id, traits=traits,
        timestamp=T0, received_at=T0,
    )  # fmt: skip


async def run(repo: FakeNotifyRepo, deps: Deps, *messages: Message, traceparent: str | None = None) -> BatchResult:
    envs = [envelope(m, id=m.event_id(), traceparent=traceparent) for m in messages]
    result = await handle_batch(envs, repo=repo, deps=deps)
    assert result.outgoing == []  # outcomes go through the outbox
    return result


async def test_an_email_command_records_a_pending_delivery_per_recipient_and_no_outcome_yet(repo, deps):
    await run(repo, deps, identify("u1", email="Ann@X.test", name="Ann"), identify("u2", email="bob@x.test"))
    await run(repo, deps, email())
    assert sorted(d["email"] for d in repo.deliveries.values()) == ["Ann@X.test", "bob@x.test"]
    assert {d["state"] for d in repo.deliveries.values()} == {"pending"}
    assert repo.outcomes() == []  # email.sent is the delivery loop's, once the server accepted it
    assert not repo.parked


async def test_a_delivery_keeps_the_trace_context_of_the_command_it_came_from(repo, deps):
    await run(repo, deps, identify("u1", email="ann@x.test"))
    await run(repo, deps, email(), traceparent=TRACE)
    await run(repo, deps, email("cmd-2"))
    by_command = {d["command_id"]: d["traceparent"] for d in repo.deliveries.values()}
    assert by_command == {"cmd-1": TRACE, "cmd-2": None}


async def test_an_unsubscribed_contact_gets_no_mail_and_the_failure_is_reported(repo, deps):
    await run(repo, deps, identify("u1", email="Ann@x.test"), identify("u2", email="bob@x.test"))
    repo.unsubscribes.add("ann@x.test")
    await run(repo, deps, email())
    states = {d["email"]: d["state"] for d in repo.deliveries.values()}
    assert states == {"Ann@x.test": "suppressed", "bob@x.test": "pending"}
    [failed] = repo.outcomes()
    assert (failed.kind, failed.detail, failed.command_id) == ("email.failed", "suppressed: unsubscribed", "cmd-1")


async def test_a_duplicate_command_is_dropped(repo, deps):
    await run(repo, deps, identify("u1", email="ann@x.test"))
    await run(repo, deps, email())
    before = dict(repo.deliveries)
    repo.deliveries.clear()  # were it handled again, it would be written again
    result = await run(repo, deps, email())
    assert repo.deliveries == {}
    assert [reason for _, reason in result.skipped] == ["duplicate"]
    assert len(before) == 1


async def test_an_email_command_for_an_unknown_recipient_is_parked_for_the_wait(repo, deps):
    await run(repo, deps, email())
    assert repo.deliveries == {} and repo.outcomes() == []
    [(cmd, parked_at, expires_at)] = repo.parked.values()
    assert (cmd.command_id, parked_at, expires_at) == ("cmd-1", T0, T0 + timedelta(hours=24))


async def test_the_awaited_contact_releases_the_parked_command_into_a_delivery(repo, deps, clock):
    await run(repo, deps, email())
    clock.at = T0 + timedelta(hours=2)
    await run(repo, deps, identify("u1", email="ann@x.test"))
    assert [d["email"] for d in repo.deliveries.values()] == ["ann@x.test"]
    assert repo.parked == {}


async def test_a_contact_without_an_address_leaves_the_command_parked(repo, deps):
    await run(repo, deps, email())
    await run(repo, deps, identify("u1", name="No Address"))
    assert list(repo.parked) == ["cmd-1"] and repo.deliveries == {}


async def test_a_parked_command_whose_wait_is_over_fails_for_want_of_a_recipient(repo, deps, clock):
    await run(repo, deps, email())
    clock.at = T0 + timedelta(hours=23)
    assert await expire_parked(repo, deps) == 0
    clock.at = T0 + timedelta(hours=24)
    assert await expire_parked(repo, deps) == 1
    [failed] = repo.outcomes()
    assert failed.kind == "email.failed" and failed.outcome_id == "notify:cmd-1:norecipient"
    assert "waited until" in failed.detail
    assert repo.parked == {} and repo.deliveries == {}


async def test_an_email_command_naming_no_template_fails_at_once(repo, deps):
    await run(repo, deps, identify("u1", email="ann@x.test"))
    await run(repo, deps, email(template="no.such_template"))
    [failed] = repo.outcomes()
    assert (failed.kind, failed.detail) == ("email.failed", "no email template 'no.such_template'")
    assert repo.deliveries == {} and repo.parked == {}


async def test_a_feature_survey_without_features_is_refused_not_parked(repo, deps):
    await run(repo, deps, email(template="risk.feature_survey", variables={"features": []}))
    [failed] = repo.outcomes()
    assert failed.outcome_id == "notify:cmd-1:refused" and failed.detail.startswith("refused: ")
    assert repo.parked == {}


async def test_product_events_other_than_identify_and_group_change_nothing(repo, deps):
    track = ProductEvent(
        message_id="ev-t", account_id="acc-1", kind="track", user_id="u1", timestamp=T0, received_at=T0
    )
    await run(repo, deps, track)
    assert repo.contacts == {} and repo.accounts == {} and repo.milestones == {}


async def test_a_release_and_a_training_event_are_recorded_as_milestones_once(repo, deps):
    def tracked(message_id: str, event: str, **properties: Any) -> ProductEvent:
        return ProductEvent(
            message_id=message_id, account_id="acc-1", kind="track", user_id="u1", event=event,
            properties=properties, timestamp=T0, received_at=T0,
        )  # fmt: skip

    release = tracked("ev-r", "Release Published", title="v2.4: new reports")
    await run(repo, deps, release, tracked("ev-t", "Training Completed", name="Admin training"), release)
    got = {m.kind: m for m in repo.milestones.values()}
    assert len(repo.milestones) == 2
    assert (got["release"].title, got["release"].account_id, got["release"].occurred_at) == (
        "v2.4: new reports",
        None,
        T0,
    )
    assert (got["training"].title, got["training"].account_id) == ("Admin training", "acc-1")


async def test_an_in_app_command_stores_one_message_per_user_and_announces_them(repo, deps):
    await run(repo, deps, identify("u1"), identify("u2"))
    cmd = Command(
        command_id="cmd-i", account_id="acc-1", channel="in_app", template="onboarding.welcome", dedup_key="cmd-i",
        issued_at=T0,
    )  # fmt: skip
    await run(repo, deps, cmd)
    assert sorted(m["user_id"] for m in repo.inapp.values()) == ["u1", "u2"]
    assert repo.announced == [["u1", "u2"]]


async def test_an_in_app_command_without_a_template_is_dead_lettered(repo, deps):
    cmd = Command(
        command_id="cmd-i", account_id="acc-1", channel="in_app", template="nope", dedup_key="cmd-i", issued_at=T0
    )
    with pytest.raises(ValueError, match="no in-app template"):
        await run(repo, deps, cmd)


def task_command(command_id: str, *, priority: str = "medium", reason: str = "band_drop") -> Command:
    return Command.model_validate(
        {
            "command_id": command_id,
            "account_id": "acc-1",
            "channel": "task",
            "task": {"type": "churn_risk", "reason": reason, "subject": "Call them", "priority": priority},
            "dedup_key": command_id,
            "issued_at": T0,
        }
    )


async def test_a_task_command_opens_a_task_for_the_accounts_csm_and_mails_them(repo, deps):
    await run(repo, deps, ProductEvent(
        message_id="ev-g", account_id="acc-1", kind="group", traits={"csm_owner": "csm@x.test"},
        timestamp=T0, received_at=T0,
    ))  # fmt: skip
    await run(repo, deps, task_command("cmd-t"))
    [task] = repo.tasks.values()
    assert (task["owner"], task["status"], task["subject"]) == ("csm@x.test", "open", "Call them")
    [opened] = repo.outcomes()
    assert opened.kind == "task.opened" and opened.detail == "owner csm@x.test"
    [mail] = repo.deliveries.values()
    assert (mail["email"], mail["template"], mail["internal"]) == ("csm@x.test", TASK_TEMPLATE, True)


async def test_the_same_task_reason_while_open_counts_a_recurrence_not_a_twin(repo, deps):
    await run(repo, deps, task_command("cmd-t1"))
    await run(repo, deps, task_command("cmd-t2", priority="urgent"))
    [task] = repo.tasks.values()
    assert (task["recurrences"], task["priority"], task["command_id"]) == (1, "urgent", "cmd-t2")
    assert [o.kind for o in repo.outcomes()] == ["task.opened", "task.updated"]


async def test_a_task_command_delivered_twice_in_one_batch_opens_one_task_and_counts_no_recurrence(repo, deps):
    # A producer's retry can put two copies of a record in one batch: the second is a copy, not a repeat.
    command = task_command("cmd-t1")
    result = await run(repo, deps, command, command)
    assert [reason for _, reason in result.skipped] == ["duplicate"]
    [task] = repo.tasks.values()
    assert task["recurrences"] == 0
    assert [o.kind for o in repo.outcomes()] == ["task.opened"]


async def test_without_a_csm_tasks_go_round_the_pool(repo, deps):
    for reason in ["a", "b", "c"]:
        await run(repo, deps, task_command(f"cmd-{reason}", reason=reason))
    assert [t["owner"] for t in repo.tasks.values()] == ["pool-a@x.test", "pool-b@x.test", "pool-a@x.test"]


async def test_a_snoozed_task_holds_repeats_back_until_the_snooze_ends_then_reopens(repo, deps, clock):
    await run(repo, deps, task_command("cmd-t1"))
    [task_id] = repo.tasks
    await th.snooze(repo, deps.tasks, task_id, until=T0 + timedelta(days=2))
    clock.at = T0 + timedelta(days=1)
    await run(repo, deps, task_command("cmd-t2"))
    assert (repo.tasks[task_id]["status"], repo.tasks[task_id]["held_back"]) == ("snoozed", 1)
    clock.at = T0 + timedelta(days=3)
    await run(repo, deps, task_command("cmd-t3"))
    assert (repo.tasks[task_id]["status"], repo.tasks[task_id]["recurrences"]) == ("open", 1)
    assert [o.outcome_id.removeprefix(f"notify:{task_id}:") for o in repo.outcomes()] == [
        "opened",
        "snooze-2026-03-04T09:00:00+00:00",
        "held-1",
        "recur-1",
    ]


async def test_a_closed_task_cannot_be_assigned(repo, deps):
    await run(repo, deps, task_command("cmd-t1"))
    [task_id] = repo.tasks
    await th.complete(repo, deps.tasks, task_id, status="completed", reason="called them")
    with pytest.raises(th.TaskClosed):
        await th.assign(repo, deps.tasks, task_id, owner="someone@x.test")
    with pytest.raises(th.TaskNotFound):
        await th.assign(repo, deps.tasks, "no-such-task", owner="someone@x.test")


async def test_the_touch_tier_a_command_names_is_kept_for_the_account(repo, deps):
    await run(repo, deps, identify("u1", email="a@x.test"), email("cmd-t", variables={"tier": "high"}))
    assert repo.accounts["acc-1"].tier == "high"
