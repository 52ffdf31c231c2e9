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
