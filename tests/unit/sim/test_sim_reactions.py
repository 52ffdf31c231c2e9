from datetime import UTC, datetime

from touchline.sim.personas import CHAMPION_LEAVES_DAY, PERSONAS, make_accounts
from touchline.sim.reactions import LEANINGS, react

START = datetime(2027, 1, 4, tzinfo=UTC)
NPS = tuple({"survey": "nps", "score": n} for n in range(11))
RENEWAL = tuple({"survey": "renewal", "choice": c} for c in ("likely", "undecided", "unlikely"))
REFERRAL = ({"survey": "referral", "choice": "yes"}, {"survey": "referral", "choice": "no"})


def account(persona):
    return make_accounts(seed=1, count=1, start=START, personas=(persona,))[0]


def reaction(persona, offered=(), *, day=3, key="m1"):
    a = account(persona)
    return react(a, user_id=a.users[0].user_id, message_key=key, offered=offered, day=day, seed=1)


def test_detractor_picks_a_low_score_among_the_offered_nps_scores():
    r = reaction("detractor", NPS)
    assert r.open and r.click
    assert r.answer in NPS and r.answer["score"] <= 6
    assert r.comment  # for a comment box, where the message has one


def test_promoter_scores_high_and_agrees_to_refer_when_asked():
    assert reaction("promoter", NPS).answer["score"] >= 9
    assert reaction("promoter", REFERRAL).answer == {"survey": "referral", "choice": "yes"}


def test_undecided_renewal_picks_undecided_among_the_offered_choices():
    assert reaction("renewal_undecided", RENEWAL).answer == {"survey": "renewal", "choice": "undecided"}


def test_a_survey_offering_no_choice_is_never_answered():
    for persona in PERSONAS:
        for n in range(20):
            assert reaction(persona, (), key=f"m{n}").answer is None


def test_no_persona_answers_outside_what_was_offered():
    offers = (NPS[:3], NPS[8:], RENEWAL[:1], REFERRAL[1:], ({"survey": "feature_usefulness", "features": ["api"]},))
    for persona in PERSONAS:
        for offered in offers:
            for n in range(10):
                answer = reaction(persona, offered, key=f"m{n}").answer
                assert answer is None or answer in offered, (persona, offered, answer)


def test_a_persona_offered_nothing_near_its_leaning_does_not_answer():
    assert reaction("detractor", NPS[8:]).answer is None  # only 8-10: it does not pretend to be a promoter
    assert reaction("promoter", NPS[:5]).answer is None
    assert reaction("renewal_undecided", RENEWAL[:1]).answer is None  # "likely" only


def test_a_feature_survey_gets_one_of_the_offered_features():
    offered = tuple({"survey": "feature_usefulness", "features": [f]} for f in ("reports", "alerts", "export"))
    answers = [reaction("thriving", offered, key=f"m{n}").answer for n in range(60)]
    picks = {a["features"][0] for a in answers if a is not None}
    assert picks <= {"reports", "alerts", "export"} and len(picks) > 1


def test_an_answer_of_an_unknown_shape_is_not_picked():
    offered = ({"survey": "nps"}, {"survey": "nps", "score": 2, "choice": "x"}, {"survey": "poll", "choice": "a"})
    for persona in LEANINGS:
        assert reaction(persona, offered).answer is None


def test_an_offered_answer_carrying_an_extra_flag_is_picked_unchanged():
    offered = tuple({**a, "reminder": True} for a in NPS)
    assert reaction("detractor", offered).answer == {"survey": "nps", "score": 2, "reminder": True}


def test_declining_and_silent_accounts_never_open_anything():
    for persona in ("slow_decline", "stalled_onboarding", "long_silent"):
        for n in range(20):
            assert not reaction(persona, NPS, key=f"m{n}").open


def test_champion_account_stops_reading_once_the_champion_left():
    for n in range(20):
        assert not reaction("champion_leaves", NPS, day=CHAMPION_LEAVES_DAY, key=f"m{n}").open


def test_thriving_users_open_some_but_not_all_mails():
    opened = sum(reaction("thriving", key=f"m{n}").open for n in range(100))
    assert 50 < opened < 100


def test_the_same_message_always_gets_the_same_reaction():
    assert reaction("thriving", NPS, key="x") == reaction("thriving", NPS, key="x")


def test_a_hesitant_customer_answers_a_survey_mail_only_when_asked_again_and_never_in_app():
    a = account("hesitant")

    def hesitant(offered, *, asked_before):
        return react(a, user_id="u", message_key="m", offered=offered, day=5, seed=1, asked_before=asked_before)

    first = hesitant(NPS, asked_before=False)
    assert first.open and first.answer is None
    assert hesitant(NPS, asked_before=True).answer == {"survey": "nps", "score": 7}
    assert hesitant((), asked_before=True).answer is None
    in_app = react(a, user_id="u", message_key="m", offered=NPS, day=5, seed=1, in_app=True, asked_before=True)
    assert in_app.open and in_app.answer is None
