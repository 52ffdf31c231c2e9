"""What survey mails and in-app surveys offer: exactly the command's features, answer links in reminders."""

from datetime import UTC, datetime

import pytest

from touchline.notify.compose import Composer, template_context
from touchline.notify.domain.branding import Brand
from touchline.notify.domain.email import Recipient
from touchline.notify.domain.surveys import BadAnswer, NotOffered
from touchline.notify.domain.tokens import verify_link
from touchline.notify.settings import TEMPLATES_DIR
from touchline.notify.templates import Catalog

SECRET = "unit-link-secret"
BRAND = Brand("Acme Cloud", "https://help.acme.test", "https://support.acme.test", "+81 3-1234-5678")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(TEMPLATES_DIR)


def composer(catalog: Catalog) -> Composer:
    return Composer(
        catalog, public_url="http://n", link_secret=SECRET, mail_from="CS <cs@x.test>", default_locale="en", brand=BRAND
    )


def mail_answers(catalog: Catalog, template: str, variables: dict, *, locale: str = "en") -> list[dict]:
    """The answers the rendered mail's one-click links carry (read back from the signed tokens)."""
    context = template_context(account=None, account_id="acc", contact=None, variables=variables, brand=BRAND)
    row = composer(catalog).delivery_row(
        delivery_id="d1",
        template=template,
        recipient=Recipient("a@x.test", "A", locale, "u1"),
        context=context,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        source={"command_id": "c1", "dedup_key": "c1", "account_id": "acc"},
    )
    tokens = [part.split('"')[0] for part in row["html"].split("http://n/t/a/")[1:]]
    return [verify_link(SECRET, t, kind="answer").answer or {} for t in tokens]


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_feature_survey_mail_offers_exactly_the_commands_features(catalog, locale):
    answers = mail_answers(
        catalog, "risk.feature_survey", {"features": ["exports", "reports", "alerts"]}, locale=locale
    )
    assert [a["features"] for a in answers] == [["exports"], ["reports"], ["alerts"]]


def test_a_feature_survey_mail_without_features_is_refused_naming_the_variable(catalog):
    with pytest.raises(BadAnswer, match=r"variables\.features"):
        mail_answers(catalog, "risk.feature_survey", {"features": []})


def test_a_template_naming_a_feature_not_offered_cannot_render(catalog):
    links = composer(catalog).links("d1", internal=False, offered=["reports"])
    with pytest.raises(NotOffered, match=r"answer\.features: 'billing'"):
        links.answer(survey="feature_usefulness", features=["billing"])


def test_the_in_app_feature_survey_offers_the_commands_features_as_choices(catalog):
    context = template_context(
        account=None, account_id="acc", contact=None, variables={"features": ["a", "b"]}, brand=BRAND
    )
    rendered = catalog.render_inapp("risk.feature_survey", locale="ja", context=context)
    assert [c["value"] for c in rendered.choices] == ["a", "b"]


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_nps_reminder_mail_carries_one_click_scores_0_to_10(catalog, locale):
    answers = mail_answers(catalog, "advocacy.reminder", {}, locale=locale)
    assert [a["score"] for a in answers] == list(range(11))
    assert all(a["survey"] == "nps" for a in answers)


def test_the_in_app_nps_reminder_is_the_survey_again(catalog):
    rendered = catalog.render_inapp("advocacy.reminder", locale="en", context={"product": "Acme"})
    assert rendered.kind == "survey" and rendered.survey == "nps"
    assert [c["value"] for c in rendered.choices] == list(range(11))


def test_the_survey_of_a_template_is_its_in_app_definitions(catalog):
    assert catalog.survey_of("risk.feature_survey") == "feature_usefulness"
    assert catalog.survey_of("onboarding.welcome") is None
    assert catalog.survey_of("task.assigned") is None
