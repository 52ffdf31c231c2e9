from datetime import UTC, datetime

from touchline.sim.personas import CHAMPION_LEAVES_DAY, make_accounts
from touchline.sim.reactions import answer_for, react, survey_of

START = datetime(2027, 1, 4, tzinfo=UTC)


def account(persona):
    return make_accounts(seed=1, count=1, start=START, personas=(persona,))[0]


def reaction(persona, template, *, day=3, key="m1"):
    a = account(persona)
    return react(a, user_id=a.users[0].user_id, message_key=key, template=template, day=day, seed=1)


def test_detractor_answers_the_nps_survey_low_with_a_comment():
    r = reaction("detractor", "advocacy.nps_survey")
    assert r.open and r.click
    assert r.answer["survey"] == "nps" and r.answer["score"] <= 6 and r.answer["comment"]


def test_promoter_scores_high_and_agrees_to_refer():
    assert reaction("promoter", "advocacy.nps_survey").answer["score"] >= 9
    assert reaction("promoter", "advocacy.promoter_referral_ask").answer == {"survey": "referral", "choice": "yes"}


def test_undecided_renewal_answers_undecided():
    assert reaction("renewal_undecided", "renewal.reminder_survey").answer == {
        "survey": "renewal",
        "choice": "undecided",
    }


def test_declining_and_silent_accounts_never_open_anything():
    for persona in ("slow_decline", "stalled_onboarding", "long_silent"):
        for n in range(20):
            assert not reaction(persona, "risk.decline_notice", key=f"m{n}").open


def test_champion_account_stops_reading_once_the_champion_left():
    for n in range(20):
        assert not reaction("champion_leaves", "advocacy.nps_survey", day=CHAMPION_LEAVES_DAY, key=f"m{n}").open


def test_thriving_users_open_some_but_not_all_mails():
    opened = sum(reaction("thriving", "reengagement.news", key=f"m{n}").open for n in range(100))
    assert 50 < opened < 100


def test_the_same_message_always_gets_the_same_reaction():
    assert reaction("thriving", "onboarding.tips", key="x") == reaction("thriving", "onboarding.tips", key="x")


def test_a_mail_without_a_survey_gets_no_answer():
    assert survey_of("onboarding.welcome") is None
    assert reaction("promoter", "onboarding.welcome").answer is None
    assert answer_for("long_silent", "nps") is None
