"""Recipient roles on the real stack: ``users`` (end users, not admins) get the in-app survey, admins the mail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from notify_harness import Notify, email_command, eventually
from sqlalchemy import text
from test_notify_inapp_api import _messages

from touchline.shared import topics
from touchline.shared.messages import Command, ProductEvent, Recipients


async def _account_with_roles(notify: Notify, **people: str) -> str:
    """An account whose contacts have the given roles (user id = role name given), each with an address."""
    account = str(uuid.uuid4())
    now = datetime.now(UTC)
    events = [
        ProductEvent(
            message_id=str(uuid.uuid4()), account_id=account, kind="group", traits={"name": "Acme", "locale": "en"},
            timestamp=now, received_at=now,
        )
    ] + [
        ProductEvent(
            message_id=str(uuid.uuid4()), account_id=account, kind="identify", user_id=user,
            traits={"email": f"{user}-{account[:8]}@customer.test", "role": role}, timestamp=now, received_at=now,
        )
        for user, role in people.items()
    ]  # fmt: skip
    await notify.publish(topics.EVENTS, *events)

    async def known() -> bool:
        async with notify.state.engine.connect() as conn:
            n = await conn.scalar(text("SELECT count(*) FROM notify.contacts WHERE account_id = :a"), {"a": account})
        return n == len(people)

    await eventually(known, what="contacts known")
    return account


async def test_an_in_app_survey_for_users_reaches_end_users_and_not_admins(notify: Notify):
    suffix = uuid.uuid4().hex[:6]
    admin, boss, user = f"admin-{suffix}", f"boss-{suffix}", f"user-{suffix}"
    account = await _account_with_roles(notify, **{admin: "admin", boss: "decision_maker", user: "member"})
    command_id = str(uuid.uuid4())
    command = Command(
        command_id=command_id, account_id=account, channel="in_app", template="advocacy.nps_survey",
        dedup_key=command_id, issued_at=datetime.now(UTC), recipients=Recipients(role="users"),
    )  # fmt: skip
    await notify.publish(topics.COMMANDS, command)
    listed = await eventually(lambda: _messages(notify, user), what="the end user's survey")
    assert listed[0]["survey"] == "nps"
    assert await _messages(notify, admin) == [] and await _messages(notify, boss) == []
    stored = await notify.sql("SELECT user_id FROM notify.inapp_messages WHERE account_id = :a", a=account)
    assert [r["user_id"] for r in stored] == [user]


async def test_a_mail_for_users_goes_to_end_users_only(notify: Notify):
    suffix = uuid.uuid4().hex[:6]
    admin, user = f"admin-{suffix}", f"user-{suffix}"
    account = await _account_with_roles(notify, **{admin: "admin", user: "member"})
    await notify.publish(
        topics.COMMANDS, email_command(account, "onboarding.tips", recipients=Recipients(role="users"))
    )
    mails = await eventually(lambda: notify.mails_to(f"{user}-{account[:8]}@customer.test"), what="the user's mail")
    assert mails[0]["X-Touchline-Template"] == "onboarding.tips"
    deliveries = await notify.sql("SELECT email FROM notify.deliveries WHERE account_id = :a", a=account)
    assert [d["email"] for d in deliveries] == [f"{user}-{account[:8]}@customer.test"]  # none for the admin
    assert notify.mails_to(f"{admin}-{account[:8]}@customer.test") == []
