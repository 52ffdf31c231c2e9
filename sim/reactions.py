"""How simulated users react to what Touchline sends them: pure functions of (seed, persona, message).

A reaction is a value (open? click? which answer?); the runner turns it into hits on the
tracking links and calls to the in-app API. Engaged personas always react, so the playbook
branches the end-to-end tests check are deterministic; the thriving ones react "some" of
the time, drawn from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from touchline.sim.personas import CHAMPION_LEAVES_DAY, Account, Persona, rng

# The survey each surveying template carries (common contract).
SURVEY_OF_TEMPLATE: dict[str, str] = {
    "onboarding.satisfaction_survey": "satisfaction",
    "renewal.reminder_survey": "renewal",
    "risk.feature_survey": "feature_usefulness",
    "advocacy.nps_survey": "nps",
    "advocacy.promoter_referral_ask": "referral",
    "churn.exit_survey": "satisfaction",
}
# Chance that a user of this persona opens a message at all.
OPEN_RATE: dict[Persona, float] = {
    "thriving": 0.8,
    "promoter": 1.0,
    "detractor": 1.0,
    "renewal_undecided": 1.0,
    "champion_leaves": 0.5,
    "slow_decline": 0.0,
    "stalled_onboarding": 0.0,
    "long_silent": 0.0,
}
ANSWERS: dict[Persona, dict[str, dict[str, Any]]] = {
    "thriving": {
        "nps": {"score": 8, "comment": "Solid tool, the reports save us time."},
        "renewal": {"choice": "likely"},
        "satisfaction": {"score": 4},
        "feature_usefulness": {"features": ["reports", "automations"], "comment": "Automations are great."},
        "referral": {"choice": "no"},
        "roi": {"score": 8},
    },
    "promoter": {
        "nps": {"score": 10, "comment": "We could not work without it."},
        "renewal": {"choice": "likely"},
        "satisfaction": {"score": 5},
        "feature_usefulness": {"features": ["dashboard", "api"], "comment": "The API is excellent."},
        "referral": {"choice": "yes"},
        "roi": {"score": 9},
    },
    "detractor": {
        "nps": {"score": 2, "comment": "Slow and confusing; support never answers."},
        "renewal": {"choice": "unlikely"},
        "satisfaction": {"score": 2},
        "referral": {"choice": "no"},
        "roi": {"score": 3},
    },
    "renewal_undecided": {
        "nps": {"score": 7, "comment": "Fine, but is it worth the price?"},
        "renewal": {"choice": "undecided"},
        "satisfaction": {"score": 3},
        "roi": {"score": 5},
    },
}


@dataclass(frozen=True)
class Reaction:
    open: bool
    click: bool
    answer: dict[str, Any] | None  # {"survey": ..., ...} as the outcome contract spells it


NO_REACTION = Reaction(open=False, click=False, answer=None)


def survey_of(template: str | None) -> str | None:
    return SURVEY_OF_TEMPLATE.get(template or "")


def answer_for(persona: Persona, survey: str | None) -> dict[str, Any] | None:
    if survey is None:
        return None
    answer = ANSWERS.get(persona, {}).get(survey)
    return None if answer is None else {"survey": survey, **answer}


def react(account: Account, *, user_id: str, message_key: str, template: str | None, day: int, seed: int) -> Reaction:
    """What ``user_id`` does with one message (mail or in-app) seen on simulation ``day``.

    ``message_key`` names the message (its id) so a retried look at the same mail gives the
    same reaction."""
    persona = account.persona
    rate = OPEN_RATE[persona]
    if persona == "champion_leaves" and day >= CHAMPION_LEAVES_DAY:
        # The champion is gone; the others never read what was meant for them.
        rate = 0.0
    r = rng(seed, "react", user_id, message_key)
    if r.random() >= rate:
        return NO_REACTION
    answer = answer_for(persona, survey_of(template))
    return Reaction(open=True, click=answer is not None or r.random() < 0.4, answer=answer)
