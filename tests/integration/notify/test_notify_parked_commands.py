"""An email command handled before notify knows anyone to send it to waits for its recipient (real stack).

Contacts come on `events`, commands on `commands`: the order they are consumed in is not the order
they were meant in. A command waits, parked, until a recipient is known, and fails only after
`recipient_wait_hours` of the shared clock.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from notify_harness import Notify, email_command, eventually

from touchline.shared import topics
from touchline.shared.admin import publish_clock
from touchline.shared.messages import Command, Recipients


async def _parked(notify: Notify, command: Command) -> list:
    return await notify.sql("SELECT * FROM notify.parked_commands WHERE command_id = :c", c=command.command_id)


async def _failure_staged(notify: Notify, command: Command) -> bool:
    rows = await notify.sql(
        "SELECT 1 FROM notify.outbox WHERE outcome_id = :o", o=f"notify:{command.command_id}:norecipient"
    )
    return bool(rows)


async def _deliveries(notify: Notify, command: Command) -> list:
    return await notify.sql("SELECT * FROM notify.deliveries WHERE command_id = :c", c=command.command_id)


async def _park(notify: Notify, command: Command) -> None:
    await notify.publish(topics.COMMANDS, command)
    await eventually(lambda: _parked(notify, command), what="command parked")
    assert not await _failure_staged(notify, command)


async def test_a_command_that_comes_before_its_contact_is_delivered_once_the_contact_is_known(notify: Notify):
    account = str(uuid.uuid4())
    address, later = f"{account[:8]}@late.test", f"{account[:8]}-2@late.test"
    command = email_command(account)
    await _park(notify, command)

    await notify.directory(account, ann=(address, "en"))
    await eventually(lambda: notify.mails_to(address), what="mail once the contact is known")
    await eventually(lambda: notify.outcomes_of(account, "email.sent"), what="email.sent")
    # Someone else learnt afterwards does not get the command again, nor does anyone twice.
    await notify.directory(account, ann=(address, "en"), bob=(later, "en"))
    assert [d["email"] for d in await _deliveries(notify, command)] == [address]
    assert await _parked(notify, command) == []
    assert len(notify.mails_to(address)) == 1 and notify.mails_to(later) == []


async def test_a_mail_for_the_csm_waits_for_the_group_event_naming_the_owner(notify: Notify):
    account = str(uuid.uuid4())
    owner = f"csm-{account[:8]}@us.test"
    command = email_command(account, recipients=Recipients(role="csm_owner"))
    await _park(notify, command)
    await notify.directory(account, owner=owner)
    await eventually(lambda: notify.mails_to(owner), what="mail to the owner")
    assert await _parked(notify, command) == []


async def test_a_command_nobody_can_receive_fails_once_its_wait_is_over_and_a_delivered_one_does_not(
    notify: Notify,
):
    lonely, served = str(uuid.uuid4()), str(uuid.uuid4())
    never, delivered = email_command(lonely), email_command(served)
    await _park(notify, never)
    await _park(notify, delivered)
    address = f"{served[:8]}@late.test"
    await notify.directory(served, ann=(address, "en"))
    await eventually(lambda: notify.mails_to(address), what="mail once the contact is known")
    assert not await _failure_staged(notify, never)

    # The shared clock only moves forward; past the 24 h wait (the default) of both commands.
    later = max(p["expires_at"] for p in await _parked(notify, never)) + timedelta(minutes=1)
    later = max(later, notify.state.now() + timedelta(minutes=1))
    await publish_clock(notify.common, later)
    failed = await eventually(lambda: notify.outcomes_of(lonely, "email.failed"), what="failure after the wait")
    assert len(failed) == 1 and "no recipient" in failed[0].detail and "waited until" in failed[0].detail
    assert failed[0].command_id == never.command_id
    assert await _parked(notify, never) == []
    assert not await _failure_staged(notify, delivered)
    assert len(notify.mails_to(address)) == 1
