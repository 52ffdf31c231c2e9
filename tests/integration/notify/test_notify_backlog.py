"""The backlog gauges a script polls to know notify has carried out what it recorded."""

from __future__ import annotations

import uuid

from notify_harness import Notify, email_command, eventually

from touchline.notify import backlog
from touchline.shared import topics


async def test_the_backlog_counts_a_parked_command_until_its_recipient_is_known_and_the_mail_sent(notify: Notify):
    engine = notify.state.engine
    before = await backlog.measure(engine)
    assert set(before) == {
        "deliveries_pending", "deliveries_sending", "outbox_unpublished", "webhooks_pending", "parked_commands"
    }  # fmt: skip
    account = str(uuid.uuid4())
    await notify.publish(topics.COMMANDS, email_command(account, "onboarding.welcome"))

    async def parked() -> bool:
        return (await backlog.measure(engine))["parked_commands"] == before["parked_commands"] + 1

    await eventually(parked, what="the command counted as parked")
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    await eventually(lambda: notify.mails_to(address), what="the mail sent")

    async def released() -> bool:
        return (await backlog.measure(engine))["parked_commands"] == before["parked_commands"]

    await eventually(released, what="the parked command no longer counted")


async def test_the_backlog_is_exported_with_the_time_it_was_measured(notify: Notify):
    await backlog.measure(notify.state.engine)
    text = (await notify.client.get("/metrics")).text
    for queue in ("deliveries_pending", "outbox_unpublished", "parked_commands"):
        assert f'touchline_notify_backlog{{queue="{queue}"}}' in text
    stamp = next(line for line in text.splitlines() if line.startswith("touchline_notify_backlog_measured_timestamp"))
    assert float(stamp.split()[-1]) > 0


async def test_pending_reaches_zero_only_once_the_recorded_mail_is_in_the_sink_and_its_outcome_out(notify: Notify):
    """The contract the simulator's drain relies on: lag 0 says a command was recorded, GET
    /pending at 0 says the mail it recorded was sent and the outcome published."""
    account = str(uuid.uuid4())
    address = f"{account[:8]}@customer.test"
    await notify.directory(account, user1=(address, "en"))
    await notify.publish(topics.COMMANDS, email_command(account, "onboarding.welcome"))

    async def recorded() -> bool:
        return bool(await notify.sql("SELECT 1 FROM notify.deliveries WHERE account_id = :a", a=account))

    await eventually(recorded, what="the command recorded")

    async def nothing_pending() -> bool:
        body = (await notify.client.get("/pending")).json()
        assert set(body["pending"]) == {"mails", "outcomes"}
        return body["total"] == 0

    await eventually(nothing_pending, what="nothing pending")
    assert len(notify.mails_to(address)) == 1
    sent = await notify.sql("SELECT state FROM notify.deliveries WHERE account_id = :a", a=account)
    unpublished = await notify.sql("SELECT 1 FROM notify.outbox WHERE published_at IS NULL")
    assert [r["state"] for r in sent] == ["sent"] and unpublished == []
