"""The renewal.offer mails (owned by touch's playbook): they render the offer touch chose and,
60 days before renewal, never thank the customer for renewing."""

from __future__ import annotations

from typing import Any

import pytest

from touchline.notify.settings import TEMPLATES_DIR
from touchline.notify.templates import SAMPLE_CONTEXT, Catalog, sample_links

THANKS_FOR_RENEWING = (
    "thank-you for renewing",
    "thank you for renewing",
    "thanks for renewing",
    "ご更新の感謝",
    "ご更新ありがとう",
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(TEMPLATES_DIR)


def render(catalog: Catalog, locale: str, offer: dict[str, Any] | None) -> str:
    context = {
        **SAMPLE_CONTEXT,
        "product": "Acme Analytics",
        "help_url": "https://help.acme.test",
        "support_phone": "+81 3 0000 0000",
        "vars": {"offer": offer},
    }
    mail = catalog.render_email("renewal.offer", locale=locale, context=context, links=sample_links("http://n"))
    return f"{mail.subject}\n{mail.html}\n{mail.text}"


UNDECIDED = {"discount_percent": 15, "event_tickets": 2, "free_training": True, "emphasis": True}
LIKELY = {"discount_percent": None, "event_tickets": 1, "free_training": False, "emphasis": False}
WORDS = {
    "en": {
        "discount": "15% off",
        "tickets": "2 free tickets",
        "training": "free training",
        "emphasis": "Still deciding?",
    },
    "ja": {"discount": "15% 割引", "tickets": "招待券 2 枚", "training": "無料トレーニング", "emphasis": "ご検討中"},
}


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_offer_renders_discount_tickets_training_and_emphasis_without_thanks_for_renewing(catalog, locale) -> None:
    text = render(catalog, locale, UNDECIDED)
    for word in WORDS[locale].values():
        assert word in text
    assert "Acme Analytics" in text and "Touchline" not in text
    assert not any(phrase in text.lower() for phrase in THANKS_FOR_RENEWING)


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_an_offer_without_discount_says_no_discount_and_is_not_emphasised(catalog, locale) -> None:
    text = render(catalog, locale, LIKELY)
    assert WORDS[locale]["discount"] not in text and "%" not in text.replace("100%", "")
    assert WORDS[locale]["emphasis"] not in text
    assert ("1 free ticket " if locale == "en" else "招待券 1 枚") in text
    assert not any(phrase in text.lower() for phrase in THANKS_FOR_RENEWING)


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_no_offer_at_all_still_renders_a_sensible_mail(catalog, locale) -> None:
    text = render(catalog, locale, None)
    assert ("customer success manager" if locale == "en" else "カスタマーサクセス担当者") in text
    assert "None" not in text and "a discount" not in text


@pytest.mark.parametrize("locale", ["en", "ja"])
def test_the_detractor_follow_up_takes_the_feedback_seriously_and_offers_to_talk(catalog, locale) -> None:
    context = {**SAMPLE_CONTEXT, "product": "Acme Analytics", "support_url": "https://help.acme.test/support"}
    mail = catalog.render_email(
        "advocacy.detractor_followup", locale=locale, context=context, links=sample_links("http://n")
    )
    expected = ("seriously", "tell us a little more", "call you") if locale == "en" else ("真摯", "詳しく", "お電話")
    for phrase in expected:
        assert phrase in mail.text
    assert "Acme Analytics" in mail.subject
