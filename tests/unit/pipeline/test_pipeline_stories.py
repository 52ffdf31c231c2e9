"""Playbook stories through all four services in memory (harness.py): Segment calls in, what the
customer and the CSMs receive out, over simulated days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from harness import Pipeline  # type: ignore[import-not-found]
from segment_calls import group, identify, track  # type: ignore[import-not-found]

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)  # a Monday morning
DAY = timedelta(days=1)
ADA = "ada@acme.test"
CSMS = ("csm-a@touchline.test", "csm-b@touchline.test")


def templates(mails: list[EmailMessage]) -> list[str]:
    return [str(m["X-Touchline-Template"]) for m in mails]


def sent_on(mail: EmailMessage) -> str:
    return mail["Date"].datetime.date().isoformat()  # type: ignore[no-any-return]


async def acme_signs(pipe: Pipeline) -> None:
    """A new tech-touch customer: its admin is grouped and identified, and the contract is signed."""
    await pipe.send(
        [
            group(
                "u-ada", "acc-acme", at=T0, name="Acme", arr=1200, lifecycle_stage="onboarding", signed_at="2027-03-01"
            ),
            identify("u-ada", at=T0, email=ADA, name="Ada", role="admin"),
            track("u-ada", "Contract Signed", at=T0, message_id="signed-1"),
        ]
    )
    await pipe.drain()


async def test_a_new_account_that_signs_gets_the_welcome_mail_to_its_admin_the_same_day() -> None:
    pipe = Pipeline(start=T0)
    await acme_signs(pipe)
    [welcome] = pipe.mails()
    assert welcome["To"] == f"Ada <{ADA}>" and welcome["Subject"] == "Welcome to Acme Cloud, Acme"
    assert templates([welcome]) == ["onboarding.welcome"] and sent_on(welcome) == "2027-03-01"
    assert [(e.playbook, e.step) for e in pipe.enrolments("acc-acme")] == [("onboarding", "await_welcome")]
    assert pipe.score("acc-acme")[0] is not None  # health scored the new account on the way


async def test_an_unopened_welcome_mail_hands_the_account_to_a_csm_the_next_day() -> None:
    pipe = Pipeline(start=T0)
    await acme_signs(pipe)
    await pipe.advance(T0 + 3 * DAY, step=DAY)
    assert [(templates([m]), m["To"], sent_on(m)) for m in pipe.mails()] == [
        (["onboarding.welcome"], f"Ada <{ADA}>", "2027-03-01"),
        (["task.assigned"], CSMS[0], "2027-03-02"),  # the await_welcome timer fired after a day
        (["onboarding.training_invite"], f"Ada <{ADA}>", "2027-03-03"),
    ]
    [task] = pipe.tasks("acc-acme")
    assert (task["type"], task["status"], task["owner"]) == ("onboarding_no_response", "open", CSMS[0])


async def test_a_welcome_mail_the_admin_opens_needs_no_csm() -> None:
    pipe = Pipeline(start=T0)
    await acme_signs(pipe)
    await pipe.advance(T0 + timedelta(hours=2))
    await pipe.open_mail(pipe.mails(ADA)[0])
    await pipe.advance(T0 + 3 * DAY, step=DAY)
    assert templates(pipe.mails()) == ["onboarding.welcome", "onboarding.training_invite"]
    assert pipe.tasks() == []


async def test_a_silent_renewing_account_gets_a_csm_check_in_as_its_health_decays_and_the_renewal_survey() -> None:
    pipe = Pipeline(start=T0)
    renewal = (T0 + 150 * DAY).date()
    await pipe.send(
        [
            group("u-bo", "acc-globex", at=T0, name="Globex", arr=20_000, lifecycle_stage="retention",
                  renewal_date=renewal.isoformat()),
            identify("u-bo", at=T0, email="bo@globex.test", name="Bo", role="admin"),
        ]
    )  # fmt: skip
    await pipe.drain()
    assert pipe.mails() == []
    await pipe.advance(T0 + 40 * DAY, step=DAY)  # and not a login in all that time
    # Health's decay sweep ages the silent account into a band drop, which touch hands to a CSM.
    [check_in] = pipe.tasks("acc-globex")
    assert check_in["playbook"] == "band_drop" and pipe.score("acc-globex")[1] == "action_required"
    assert [(templates([m]), sent_on(m)) for m in pipe.mails(CSMS[0])] == [(["task.assigned"], "2027-03-13")]
    # 120 days before the renewal date, the customer is asked how the renewal looks.
    assert [(templates([m]), sent_on(m)) for m in pipe.mails("bo@globex.test")] == [
        (["renewal.reminder_survey"], "2027-03-31"),
        (["advocacy.nps_survey"], "2027-03-31"),
    ]
