"""How simulated users react to what Touchline sends them: pure functions of (seed, persona, offer).

A reaction is a value (open? click? which of the offered answers?); the runner turns it into
hits on the message's own links and calls to the in-app API. A persona never makes an answer
up: it only leans (a detractor towards low scores, an undecided customer towards "undecided")
and picks, among the answers the message offers (:mod:`touchline.sim.offers`), the one nearest
its leaning, or none when nothing offered fits. Engaged personas always read, so the playbook
branches the end-to-end tests check are deterministic; the thriving ones read "some" of the
time, drawn from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from touchline.sim.personas import CHAMPION_LEAVES_DAY, Account, Persona, rng

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
    "recovering": 1.0,
    "hesitant": 1.0,
}
# A score survey's offered score is taken when it lies this close to the persona's leaning: a
# detractor offered only 8-10 does not pretend to be a promoter.
SCORE_TOLERANCE = 1


@dataclass(frozen=True)
class Leaning:
    """Which offered answers a persona would give, per survey. A survey it has no leaning for,
    or an offered answer of a shape it does not know, it leaves unanswered."""

    scores: Mapping[str, int] = field(default_factory=dict)  # survey -> the score it would give
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # survey -> acceptable, best first
    names_features: bool = False  # picks one of the features a feature survey offers
    comments: Mapping[str, str] = field(default_factory=dict)  # typed where a comment box is offered
    # Answers a survey mail only when the same survey reached it by mail on an earlier day.
    when_asked_again: bool = False
    answers_in_app: bool = True


LEANINGS: dict[Persona, Leaning] = {
    "thriving": Leaning(
        scores={"nps": 8, "satisfaction": 4, "roi": 8},
        choices={"renewal": ("likely",), "referral": ("no",)},
        names_features=True,
        comments={"nps": "Solid tool, the reports save us time."},
    ),
    "promoter": Leaning(
        scores={"nps": 10, "satisfaction": 5, "roi": 9},
        choices={"renewal": ("likely",), "referral": ("yes",)},
        names_features=True,
        comments={"nps": "We could not work without it."},
    ),
    "detractor": Leaning(
        scores={"nps": 2, "satisfaction": 2, "roi": 3},
        choices={"renewal": ("unlikely",), "referral": ("no",)},
        comments={"nps": "Slow and confusing; support never answers."},
    ),
    "renewal_undecided": Leaning(
        scores={"nps": 7, "satisfaction": 3, "roi": 5},
        choices={"renewal": ("undecided",)},
        comments={"nps": "Fine, but is it worth the price?"},
    ),
    # Back at full use after the decline notice: says which new feature helped, renews, but
    # leaves the NPS question unanswered (opened, not answered: the seed's reminder branch).
    "recovering": Leaning(choices={"renewal": ("likely",)}, names_features=True),
    # Reads every mail, closes every in-app survey, and answers a survey mail only the second
    # time: the seed's "opened but unanswered -> reminder" branch, then a passive score if the
    # reminder can be answered.
    "hesitant": Leaning(
        scores={"nps": 7, "satisfaction": 3, "roi": 6},
        choices={"renewal": ("likely",), "referral": ("no",)},
        when_asked_again=True,
        answers_in_app=False,
    ),
}


@dataclass(frozen=True)
class Reaction:
    open: bool
    click: bool
    answer: dict[str, Any] | None = None  # always one of the offered answers, unchanged
    comment: str | None = None  # for a comment box beside the choices, if the message has one


NO_REACTION = Reaction(open=False, click=False)


def choose(persona: Persona, offered: Sequence[Mapping[str, Any]], r: random.Random) -> int | None:
    """The index of the offered answer ``persona`` gives, or None when none fits its leaning."""
    leaning = LEANINGS.get(persona)
    if leaning is None or not offered:
        return None
    # Drawn once, whatever is offered, so the same message always gets the same pick.
    feature_order = r.random()
    best: tuple[float, int] | None = None
    for index, answer in enumerate(offered):
        cost = _cost(leaning, answer, feature_order=feature_order, index=index, count=len(offered))
        if cost is not None and (best is None or cost < best[0]):
            best = (cost, index)
    return None if best is None else best[1]


def _cost(leaning: Leaning, answer: Mapping[str, Any], *, feature_order: float, index: int, count: int) -> float | None:
    survey = str(answer.get("survey"))
    # What the answer says is its score, choice or features; other keys (a flag, a comment)
    # ride along. An answer saying none of those, or two at once, is not understood.
    decisive = set(answer) & {"score", "choice", "features"}
    if decisive == {"score"} and survey in leaning.scores and isinstance(answer["score"], int):
        distance = abs(answer["score"] - leaning.scores[survey])
        return distance if distance <= SCORE_TOLERANCE else None
    if decisive == {"choice"} and answer["choice"] in leaning.choices.get(survey, ()):
        return leaning.choices[survey].index(answer["choice"])
    if decisive == {"features"} and leaning.names_features and answer["features"]:
        # One of the offered features, drawn from the seed: rotate where the search starts.
        return (index - int(feature_order * count)) % count
    return None


def react(
    account: Account,
    *,
    user_id: str,
    message_key: str,
    offered: Sequence[Mapping[str, Any]],
    day: int,
    seed: int,
    in_app: bool = False,
    asked_before: bool = False,
) -> Reaction:
    """What ``user_id`` does with one message (mail or in-app) seen on simulation ``day`` that
    offers the answers ``offered`` (none for a message that asks nothing, or cannot be answered);
    ``asked_before``: the same survey reached this user by mail on an earlier day.

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
    leaning = LEANINGS.get(persona)
    hesitating = leaning is not None and (
        (in_app and not leaning.answers_in_app) or (not in_app and leaning.when_asked_again and not asked_before)
    )
    picked = None if hesitating else choose(persona, offered, r)
    if picked is None:
        return Reaction(open=True, click=r.random() < 0.4)
    answer = dict(offered[picked])
    comment = LEANINGS[persona].comments.get(str(answer.get("survey")))
    return Reaction(open=True, click=True, answer=answer, comment=comment)
