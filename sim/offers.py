"""What a received message offers its reader: the answers it can give, read from the message alone.

A customer can only answer what it was asked, with the choices it was shown. A mail offers the
answers its one-click links record (the readable half of each link's token says which); an
in-app survey offers its ``choices``, turned into answers the way the widget does
(``static/widget.js``: a score survey sends ``score``, a choice survey ``choice``, the feature
survey ``features: [value]``). A message that asks a question but offers no choice is
*unanswerable*: the customer cannot answer it, and the simulator counts it instead of hiding it.

Which template a mail is comes from its ``X-Touchline-Template`` header; a mail without one is
recognised by its subject (:data:`SUBJECTS`), or labelled by the subject itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from touchline.sim.mailbox import Link, Mail

# Templates that ask the reader for an answer, and which survey they ask (the common contract).
ASKS: dict[str, str] = {
    "onboarding.satisfaction_survey": "satisfaction",
    "renewal.reminder_survey": "renewal",
    "risk.feature_survey": "feature_usefulness",
    "advocacy.nps_survey": "nps",
    "advocacy.reminder": "nps",  # "you have not answered yet, it takes one click"
    "advocacy.promoter_referral_ask": "referral",
    "churn.exit_survey": "satisfaction",
}
# Recognising a mail that does not say which template it is: notify's subjects (en, ja), without
# the product or account names, which are settings and data.
SUBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("advocacy.gift_thanks", r"thank-you gift for your referral|ご紹介への感謝"),
        ("advocacy.nps_survey", r"how likely are you to recommend|を薦める可能性"),
        ("advocacy.passive_thanks", r"^thank you for your feedback|^ご回答ありがとうございました"),
        ("advocacy.promoter_referral_ask", r"would you refer .* to a peer|をご紹介いただけませんか"),
        ("advocacy.reminder", r"still love your answer|アンケートへのご協力"),
        ("churn.exit_survey", r"sorry to see you go|^ご利用ありがとうございました"),
        ("onboarding.reminder", r"reminder to finish setting up|のセットアップ状況"),
        ("onboarding.satisfaction_survey", r"how satisfied are you|導入にご満足"),
        ("onboarding.setup_material", r"setup checklist|セットアップ資料"),
        ("onboarding.thanks", r"thank you for using .* every day|をご活用いただきありがとう"),
        ("onboarding.tips", r"tips to get more from|活用のヒント"),
        ("onboarding.training_invite", r"training session|トレーニングのご案内"),
        ("onboarding.welcome", r"^welcome to |へようこそ"),
        ("reengagement.news", r"what is new at|の最新情報"),
        ("renewal.offer", r"renewal offer for|更新特典"),
        ("renewal.reminder_survey", r"renewal on \d|ご契約更新（"),
        ("renewal.thanks", r"thank you for renewing|ご契約更新ありがとう"),
        ("risk.decline_notice", r"use of .* has slowed|のご利用状況について"),
        ("risk.feature_survey", r"features help you most|役に立った機能"),
        ("risk.use_cases", r"how other teams use|活用事例"),
    )
)
SCORE_SURVEYS = ("nps", "satisfaction", "roi")
CHOICE_SURVEYS = ("renewal", "referral")

Answer = dict[str, Any]


@dataclass(frozen=True)
class Offer:
    """What one received message asks and offers.

    ``label`` names the message for counting (template, else ``subject: ...``); ``asks`` is
    true when it asks for an answer; ``answers`` are the answers it lets the reader give, in
    the order shown; ``links`` (mail only) the one-click link of each answer, same order."""

    label: str
    asks: bool
    answers: tuple[Answer, ...] = ()
    links: tuple[Link, ...] = ()
    comment_box: bool = False  # the widget shows a free-text comment beside the choices

    @property
    def unanswerable(self) -> bool:
        return self.asks and not self.answers

    @property
    def survey(self) -> str | None:
        """The survey it asks: its answers say, else its template."""
        if self.answers:
            return str(self.answers[0].get("survey"))
        return ASKS.get(self.label) if self.asks else None


def template_of(mail: Mail) -> str | None:
    """The template the mail says it is, else the one its subject gives away, else None."""
    if mail.template:
        return mail.template
    subject = " ".join(mail.subject.split())
    return next((name for name, pattern in SUBJECTS if pattern.search(subject)), None)


def mail_offer(mail: Mail) -> Offer:
    template = template_of(mail)
    links = tuple(link for link in mail.of_kind("answer") if link.answer)
    return Offer(
        label=template or f"subject: {mail.subject}",
        asks=template in ASKS or bool(links),
        answers=tuple(dict(link.answer or {}) for link in links),
        links=links,
    )


def inapp_offer(message: Mapping[str, Any]) -> Offer:
    template = message.get("template")
    survey = message.get("survey")
    asks = message.get("kind") == "survey" or bool(survey) or template in ASKS
    answers: list[Answer] = []
    if survey:
        for choice in message.get("choices") or []:
            if isinstance(choice, Mapping) and "value" in choice:
                answer = widget_answer(str(survey), choice["value"])
                if answer is not None:
                    answers.append(answer)
    return Offer(
        label=str(template or message.get("title") or message.get("id")),
        asks=asks,
        answers=tuple(answers),
        comment_box=message.get("kind") == "survey",
    )


def widget_answer(survey: str, value: Any) -> Answer | None:
    """The answer the widget sends when its user clicks the choice ``value``; None where the
    value cannot be sent (a score that is not a number)."""
    if survey in SCORE_SURVEYS:
        try:
            return {"survey": survey, "score": int(value)}
        except (TypeError, ValueError):
            return None
    if survey in CHOICE_SURVEYS:
        return {"survey": survey, "choice": str(value)}
    if survey == "feature_usefulness":
        return {"survey": survey, "features": [str(value)]}
    return {"survey": survey}
