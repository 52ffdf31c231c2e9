"""The in-app stream on the real stack: one watcher per process fans messages out to the users
connected to it — stored by this process or by another notify instance on the same database, or made
eligible by the shared clock moving."""

from __future__ import annotations

import uuid
from datetime import timedelta

from notify_harness import Notify, another_instance, eventually, inapp_command, served, streaming

from touchline.notify.adapters.pg_listen import APPLICATION_NAME
from touchline.shared import topics
from touchline.shared.admin import publish_clock


def _user(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_a_message_for_one_of_two_connected_users_reaches_only_that_user(notify: Notify):
    ann, bob = _user("ann"), _user("bob")
    async with served(notify.app) as url, streaming(url, ann, bob) as (ann_stream, bob_stream):
        await notify.publish(topics.COMMANDS, inapp_command(str(uuid.uuid4()), [ann], "onboarding.tips"))
        await eventually(lambda: ann_stream.messages, what="ann's message on ann's stream")
        # Bob's own message comes after Ann's through the same watcher: had Ann's leaked, it would be there.
        await notify.publish(topics.COMMANDS, inapp_command(str(uuid.uuid4()), [bob], "advocacy.nps_survey"))
        await eventually(lambda: bob_stream.messages, what="bob's message on bob's stream")
    assert ann_stream.templates() == ["onboarding.tips"] and bob_stream.templates() == ["advocacy.nps_survey"]


async def test_a_message_stored_by_another_instance_reaches_the_user_connected_here(notify: Notify):
    here, there = _user("here"), _user("there")
    async with another_instance(notify) as other:
        async with (
            served(notify.app) as url,
            served(other.app) as other_url,
            streaming(url, here) as (here_stream,),
            streaming(other_url, there) as (there_stream,),
        ):
            # Published to the other instance's topics: its consumer stores the message, not ours.
            await other.publish(topics.COMMANDS, inapp_command(str(uuid.uuid4()), [here], "onboarding.tips"))
            await eventually(lambda: here_stream.messages, what="message stored elsewhere, pushed here")
            await other.publish(topics.COMMANDS, inapp_command(str(uuid.uuid4()), [there], "advocacy.nps_survey"))
            await eventually(lambda: there_stream.messages, what="the other instance's own user served there")
        stored_by_other = await notify.sql(
            "SELECT count(*) AS n FROM notify.inapp_messages WHERE user_id IN (:a, :b)", a=here, b=there
        )
    assert stored_by_other[0]["n"] == 2
    assert here_stream.templates() == ["onboarding.tips"] and there_stream.templates() == ["advocacy.nps_survey"]


async def test_a_popup_held_back_by_the_cap_is_pushed_when_the_clock_moves_past_the_window(notify: Notify):
    user, account = _user("capped"), str(uuid.uuid4())
    async with served(notify.app) as url, streaming(url, user) as (stream,):
        await notify.publish(topics.COMMANDS, inapp_command(account, [user], "advocacy.nps_survey"))
        await eventually(lambda: stream.messages, what="first popup shown")
        await notify.publish(topics.COMMANDS, inapp_command(account, [user], "onboarding.tips"))

        async def held_back() -> bool:
            rows = await notify.sql(
                "SELECT count(*) AS n FROM notify.inapp_messages WHERE user_id = :u AND shown_at IS NULL", u=user
            )
            return rows[0]["n"] == 1

        await eventually(held_back, what="second popup stored, not shown (cap of one per day)")
        assert stream.templates() == ["advocacy.nps_survey"]
        window = timedelta(hours=notify.state.settings.inapp_cap_hours)
        await publish_clock(notify.common, notify.state.now() + window + timedelta(minutes=1))
        await eventually(lambda: len(stream.messages) == 2, what="held-back popup pushed after the clock moved")
    assert stream.templates() == ["advocacy.nps_survey", "onboarding.tips"]


async def _listen_pids(notify: Notify) -> list[int]:
    rows = await notify.sql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = :a AND datname = current_database()",
        a=APPLICATION_NAME,
    )
    return sorted(r["pid"] for r in rows)


async def test_streams_keep_getting_messages_after_the_listen_connection_is_killed(notify: Notify):
    user = _user("relisten")
    async with served(notify.app) as url, streaming(url, user) as (stream,):
        killed = await eventually(lambda: _listen_pids(notify), what="the listen connection")
        await notify.sql("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:p AS int[])) AS pid", p=killed)

        async def relistening() -> bool:
            pids = await _listen_pids(notify)
            return bool(pids) and not set(pids) & set(killed)

        await eventually(relistening, what="a new listen connection")
        await notify.publish(topics.COMMANDS, inapp_command(str(uuid.uuid4()), [user], "onboarding.tips"))
        await eventually(lambda: stream.messages, what="message after the reconnect")
    assert stream.templates() == ["onboarding.tips"]


async def test_with_listen_turned_off_a_stream_still_gets_its_message(notify: Notify):
    user = _user("polled")
    async with another_instance(notify, inapp_stream_listen=False) as polling:
        async with served(polling.app) as url, streaming(url, user) as (stream,):
            await polling.publish(topics.COMMANDS, inapp_command(str(uuid.uuid4()), [user], "onboarding.tips"))
            await eventually(lambda: stream.messages, what="message found by the per-process poll")
        assert polling.state.hub.listening is False
    assert stream.templates() == ["onboarding.tips"]
