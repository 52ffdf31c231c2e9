import base64
import json
from email.message import EmailMessage

import pytest

from touchline.sim.mailbox import parse_mail
from touchline.sim.offers import inapp_offer, mail_offer, template_of, widget_answer


def token(payload):
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{body}.{'m' * 43}"


def mail(*, subject="Hello", template=None, answers=(), clicks=0):
    message = EmailMessage()
    message["To"], message["Subject"], message["Message-ID"] = "u0@a.example.com", subject, "<1@x>"
    if template:
        message["X-Touchline-Template"] = template
    urls = [f"http://n/t/a/{token({'k': 'a', 'd': 'd1', 'a': a})}" for a in answers]
    urls += [f"http://n/t/c/{token({'k': 'c', 'd': 'd1', 'i': i, 'u': 'https://help'})}" for i in range(clicks)]
    message.set_content("\n".join(urls) or "no links")
    return parse_mail(bytes(message))


def test_a_mail_offers_exactly_the_answers_of_its_one_click_links():
    answers = [{"survey": "nps", "score": n} for n in range(11)]
    offer = mail_offer(mail(template="advocacy.nps_survey", answers=answers, clicks=1))
    assert offer.asks and not offer.unanswerable
    assert list(offer.answers) == answers
    assert [link.answer for link in offer.links] == answers


def test_a_survey_mail_without_answer_links_is_unanswerable():
    offer = mail_offer(mail(template="risk.feature_survey", clicks=1))
    assert offer.asks and offer.unanswerable and offer.label == "risk.feature_survey"


def test_the_nps_reminder_without_links_is_unanswerable():
    assert mail_offer(mail(subject="We would still love your answer")).unanswerable


def test_a_mail_that_asks_nothing_is_not_counted_as_unanswerable():
    offer = mail_offer(mail(template="onboarding.welcome", clicks=2))
    assert not offer.asks and not offer.unanswerable


@pytest.mark.parametrize(
    ("subject", "template"),
    [
        ("How likely are you to recommend Acme?", "advocacy.nps_survey"),
        ("Acmeを薦める可能性はどのくらいですか？", "advocacy.nps_survey"),
        ("Which Acme features help you most?", "risk.feature_survey"),
        ("役に立った機能を教えてください", "risk.feature_survey"),
        ("Your Acme renewal on 2027-04-05", "renewal.reminder_survey"),
        ("Welcome to Acme, Kaze Mori 3", "onboarding.welcome"),
    ],
)
def test_without_the_template_header_the_subject_tells_the_template(subject, template):
    assert template_of(mail(subject=subject)) == template


def test_the_template_header_wins_over_the_subject():
    assert template_of(mail(subject="How likely are you to recommend Acme?", template="advocacy.reminder")) == (
        "advocacy.reminder"
    )


def test_an_unknown_mail_is_labelled_by_its_subject():
    offer = mail_offer(mail(subject="Something else"))
    assert offer.label == "subject: Something else" and not offer.asks


def test_an_in_app_survey_offers_its_choices_as_the_widget_sends_them():
    message = {
        "id": "m1",
        "kind": "survey",
        "survey": "nps",
        "template": "advocacy.nps_survey",
        "choices": [{"value": n, "label": str(n)} for n in range(11)],
    }
    offer = inapp_offer(message)
    assert offer.answers == tuple({"survey": "nps", "score": n} for n in range(11))
    assert offer.comment_box and not offer.unanswerable


def test_an_in_app_survey_without_choices_is_unanswerable():
    message = {"id": "m2", "kind": "survey", "survey": "feature_usefulness", "template": "risk.feature_survey"}
    offer = inapp_offer({**message, "choices": []})
    assert offer.unanswerable and offer.label == "risk.feature_survey"


def test_an_in_app_popup_asks_nothing():
    message = {"id": "m3", "kind": "popup", "survey": None, "template": "onboarding.tips", "choices": []}
    assert not inapp_offer(message).asks


def test_the_widget_answer_of_each_survey_kind():
    assert widget_answer("renewal", "undecided") == {"survey": "renewal", "choice": "undecided"}
    assert widget_answer("satisfaction", "4") == {"survey": "satisfaction", "score": 4}
    assert widget_answer("feature_usefulness", "api") == {"survey": "feature_usefulness", "features": ["api"]}
    assert widget_answer("nps", "ten") is None
