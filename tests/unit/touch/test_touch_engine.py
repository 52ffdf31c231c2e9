"""The generic engine: waits, branches, exits, the message cap, loops and deterministic command ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from touchline.touch.domain.engine import (
    Enrolment,
    MessageCap,
    Send,
    Signal,
    answer_matches,
    command_id,
    on_signal,
    on_wake,
    start,
)
from touchline.touch.domain.playbook import parse_playbook

T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def playbook(steps: list[dict], **extra: object):
    return parse_playbook({"name": "p", "trigger": {"signal": "signed"}, "variants": {"default": steps}, **extra})


def fresh(**kw: object) -> Enrolment:
    base = {"id": "e1", "account_id": "a", "playbook": "p", "variant": "default", "tier": "tech", "enrolled_at": T0}
    return Enrolment(**{"anchors": {"enrolled_at": T0}, **base, **kw})  # type: ignore[arg-type]


MAILS = [
    {"id": "one", "send": {"channel": "email", "template": "t.one"}},
    {"id": "two", "send": {"channel": "email", "template": "t.two"}},
    {"id": "three", "send": {"channel": "email", "template": "t.three"}},
]


def test_steps_run_until_a_wait_and_the_wake_up_continues_from_there() -> None:
    pb = playbook([MAILS[0], {"id": "w", "wait": "2d"}, MAILS[1]])
    adv = start(pb, fresh(), now=T0)
    assert [d.template for d in adv.decisions] == ["t.one"]  # type: ignore[union-attr]
    assert adv.wake_at == T0 + 2 * DAY
    assert on_wake(pb, adv.state, now=T0 + DAY).decisions == ()  # not due yet
    later = on_wake(pb, adv.state, now=T0 + 2 * DAY)
    assert [d.template for d in later.decisions] == ["t.two"]  # type: ignore[union-attr]
    assert later.state.status == "completed"


def test_the_same_state_advanced_twice_gives_the_same_command_ids() -> None:
    pb = playbook([MAILS[0], {"id": "w", "wait": "1d"}, MAILS[1]])
    first = start(pb, fresh(), now=T0)
    assert first.decisions == start(pb, fresh(), now=T0).decisions
    assert first.decisions[0].command_id == command_id("e1", "one", 1)
    again = on_wake(pb, first.state, now=T0 + DAY)
    assert again.decisions == on_wake(pb, first.state, now=T0 + DAY).decisions


def test_a_revisited_step_gets_a_new_command_id() -> None:
    pb = playbook(
        [
            MAILS[0],
            {"id": "w", "wait_for": {"duration": "1d", "when": [{"signals": ["login"], "goto": "one"}]}},
        ]
    )
    adv = start(pb, fresh(), now=T0)
    again = on_signal(pb, adv.state, Signal("login", T0 + timedelta(hours=1)))
    assert again.decisions[0].command_id == command_id("e1", "one", 2) != adv.decisions[0].command_id


def test_wait_for_takes_the_first_matching_branch_and_ignores_other_signals() -> None:
    pb = playbook(
        [
            {
                "id": "ask",
                "wait_for": {
                    "duration": "7d",
                    "when": [
                        {"signals": ["answered"], "answer": {"survey": "nps", "score": {"max": 6}}, "goto": "one"},
                        {"signals": ["answered"], "goto": "two"},
                    ],
                    "timeout": "three",
                },
            },
            *MAILS,
        ]
    )
    waiting = start(pb, fresh(), now=T0).state
    assert on_signal(pb, waiting, Signal("login", T0 + DAY)).decisions == ()
    low = on_signal(pb, waiting, Signal("inapp.answered", T0 + DAY, answer={"survey": "nps", "score": 2}))
    assert low.decisions[0].template == "t.one"  # type: ignore[union-attr]
    high = on_signal(pb, waiting, Signal("email.answered", T0 + DAY, answer={"survey": "nps", "score": 9}))
    assert high.decisions[0].template == "t.two"  # type: ignore[union-attr]
    late = on_wake(pb, waiting, now=T0 + 7 * DAY)
    assert late.decisions[0].template == "t.three"  # type: ignore[union-attr]


def test_signals_are_remembered_for_a_later_check() -> None:
    pb = playbook(
        [
            {"id": "w", "wait": "3d"},
            {"id": "c", "check": {"seen": ["opened"], "then": "one", "else": "two"}},
            {**MAILS[0], "next": "end"},
            MAILS[1],
        ]
    )
    waiting = start(pb, fresh(), now=T0).state
    opened = on_signal(pb, waiting, Signal("email.opened", T0 + DAY)).state
    assert on_wake(pb, opened, now=T0 + 3 * DAY).decisions[0].template == "t.one"  # type: ignore[union-attr]
    assert on_wake(pb, waiting, now=T0 + 3 * DAY).decisions[0].template == "t.two"  # type: ignore[union-attr]


def test_an_exit_signal_ends_the_run_and_a_goto_exit_runs_its_last_steps_first() -> None:
    pb = playbook(
        [{"id": "w", "wait": "30d"}, MAILS[0], MAILS[1]],
        exits=[{"signal": "renewed", "goto": "two"}, {"signal": "cancelled"}],
    )
    waiting = start(pb, fresh(), now=T0).state
    cancelled = on_signal(pb, waiting, Signal("cancelled", T0 + DAY))
    assert (cancelled.state.status, cancelled.decisions, cancelled.wake_at) == ("exited", (), None)
    renewed = on_signal(pb, waiting, Signal("renewed", T0 + DAY))
    assert [d.template for d in renewed.decisions] == ["t.two"]  # type: ignore[union-attr]
    assert renewed.state.end_reason == "exit on renewed"


def test_waits_until_a_date_relative_to_an_attribute_and_skip_when_it_is_past() -> None:
    pb = playbook([{"id": "w", "wait": {"until": {"attribute": "renewal_date", "offset": "-60d"}}}, MAILS[0]])
    renewal = T0 + 100 * DAY
    adv = start(pb, fresh(anchors={"enrolled_at": T0, "renewal_date": renewal}), now=T0)
    assert adv.wake_at == renewal - 60 * DAY
    late = start(pb, fresh(anchors={"enrolled_at": T0, "renewal_date": T0 + 10 * DAY}), now=T0)
    assert [d.template for d in late.decisions] == ["t.one"]  # type: ignore[union-attr]


def test_the_message_cap_defers_a_send_until_the_window_has_room_then_the_run_goes_on() -> None:
    pb = playbook([MAILS[0], {"id": "w", "wait": "2d"}, MAILS[1]])
    cap = MessageCap(limit=2, per=7 * DAY)
    busy = (T0 - 6 * DAY, T0 - DAY)
    adv = start(pb, fresh(), now=T0, recent_sends=busy, cap=cap)
    assert adv.decisions == () and adv.wake_at == T0 + DAY  # the oldest send leaves the window
    sent = on_wake(pb, adv.state, now=T0 + DAY, recent_sends=busy, cap=cap)
    assert isinstance(sent.decisions[0], Send)
    assert sent.decisions[0].command_id == command_id("e1", "one", 1)
    assert (sent.state.step, sent.wake_at) == ("w", T0 + 3 * DAY)


def test_tasks_are_not_customer_messages_and_ignore_the_cap() -> None:
    pb = playbook([{"id": "t", "task": {"type": "x", "reason": "r", "subject": "s"}}])
    adv = start(pb, fresh(), now=T0, recent_sends=(T0,) * 9, cap=MessageCap(1, 7 * DAY))
    assert len(adv.decisions) == 1


def test_a_playbook_that_loops_without_waiting_is_stopped() -> None:
    pb = playbook([{"id": "c", "check": {"seen": ["login"], "then": "c", "else": "c"}}])
    adv = start(pb, fresh(), now=T0)
    assert adv.state.status == "exited" and "loop" in (adv.state.end_reason or "")


def test_paused_or_finished_enrolments_do_not_move() -> None:
    pb = playbook([{"id": "w", "wait": "1d"}, MAILS[0]])
    paused = start(pb, fresh(), now=T0).state
    paused = type(paused)(**{**paused.__dict__, "status": "paused"})
    assert on_wake(pb, paused, now=T0 + 2 * DAY).decisions == ()
    assert on_signal(pb, paused, Signal("login", T0 + DAY)).state == paused


def test_answer_conditions() -> None:
    assert answer_matches({}, None)
    assert not answer_matches({"survey": "nps"}, None)
    assert answer_matches({"choice": ["a", "b"]}, {"choice": "b"})
    assert not answer_matches({"score": {"min": 7}}, {"score": "9"})
    assert answer_matches({"score": None}, {"survey": "nps"})
    assert not answer_matches({"score": None}, {"score": 3})


def test_a_run_whose_step_was_removed_from_the_playbook_ends_saying_why() -> None:
    before = playbook([{"id": "w", "wait": "1d"}, MAILS[0]])
    waiting = start(before, fresh(), now=T0).state
    after = playbook([MAILS[0]])
    woken = on_wake(after, waiting, now=T0 + DAY)
    assert (woken.state.status, woken.state.end_reason) == ("exited", "playbook changed: step w no longer exists")
    assert woken.decisions == () and woken.wake_at is None
    other_variant = type(waiting)(**{**waiting.__dict__, "variant": "high"})
    signalled = on_signal(after, other_variant, Signal("login", T0 + DAY))
    assert signalled.state.end_reason == "playbook changed: variant high no longer exists"
