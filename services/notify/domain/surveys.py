"""Survey answers: the shapes the Outcome contract promises, checked before anything is recorded.

A survey asks one question or several. The score surveys (NPS, satisfaction, ROI) ask a score and a
"why?" follow-up (``comment``): an answer to only one of them is **partial** — stored and published
with the missing field absent and ``"partial": true`` — and a later answer to the same message or
mail completes it (fields it does not give keep the earlier values). The other surveys ask one
question (``choice`` or ``features``; a comment is an optional extra) and need it answered.

An answer is also checked against what was *offered*: the choices of the in-app message or the
features the command listed for the mail. An answer naming something not offered is refused
(:class:`NotOffered`), never recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

SURVEYS = ("nps", "renewal", "satisfaction", "feature_usefulness", "referral", "roi")
_CHOICES = {"renewal": ("likely", "undecided", "unlikely"), "referral": ("yes", "no")}
_SCORES = {"nps": (0, 10), "roi": (0, 10), "satisfaction": (1, 5)}
# The questions of each survey that asks more than one: answering some of them is a partial answer.
QUESTIONS: dict[str, tuple[str, ...]] = {"nps": ("score", "comment"), "satisfaction": ("score", "comment"),
                                         "roi": ("score", "comment")}  # fmt: skip
MAX_FEATURES = 6  # the contract with touch: at most six features offered per survey
PARTIAL = "partial"


class BadAnswer(ValueError):
    """An answer that does not fit its survey; the message names the field."""


class NotOffered(BadAnswer):
    """An answer naming a choice, score or feature the person was not offered."""


def _comment(raw: Mapping[str, Any]) -> dict[str, Any]:
    comment = raw.get("comment")
    if comment is None:
        return {}
    if not isinstance(comment, str) or len(comment) > 5000:
        raise BadAnswer("answer.comment: expected a string of at most 5000 characters")
    if not comment.strip():
        return {}  # an empty box is no answer to the follow-up
    return {"comment": comment}


def _score(survey: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    low, high = _SCORES[survey]
    score = raw.get("score")
    if score is None and survey in QUESTIONS:
        return {}  # the score question left unanswered: a partial answer if the comment is given
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise BadAnswer(f"answer.score: expected an integer {low}-{high}")
    return {"score": score}


def _features(raw: Mapping[str, Any]) -> dict[str, Any]:
    features = raw.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise BadAnswer("answer.features: expected a list of feature names")
    if not features:
        raise BadAnswer("answer.features: name at least one of the features offered")
    return {"features": list(dict.fromkeys(features))}


def normalise_answer(raw: Any, *, expected: str | None = None) -> dict[str, Any]:
    """A clean answer dict (with ``partial`` when it answers only some questions), or BadAnswer
    naming the field that is wrong."""
    if not isinstance(raw, dict):
        raise BadAnswer("answer: expected an object")
    survey = raw.get("survey", expected)
    if survey not in SURVEYS:
        raise BadAnswer(f"answer.survey: expected one of {', '.join(SURVEYS)}")
    if expected is not None and survey != expected:
        raise BadAnswer(f"answer.survey: this message asks a {expected} survey, not {survey}")
    out: dict[str, Any] = {"survey": survey}
    if survey in _SCORES:
        out.update(_score(survey, raw))
    if survey in _CHOICES:
        choice = raw.get("choice")
        if choice not in _CHOICES[survey]:
            raise BadAnswer(f"answer.choice: expected one of {', '.join(_CHOICES[survey])}")
        out["choice"] = choice
    if survey == "feature_usefulness":
        out.update(_features(raw))
    out.update(_comment(raw))
    return _with_partial(out)


def _with_partial(answer: dict[str, Any]) -> dict[str, Any]:
    questions = QUESTIONS.get(answer["survey"], ())
    given = [q for q in questions if q in answer]
    if questions and not given:
        first = questions[0]
        raise BadAnswer(f"answer.{first}: answer at least one of {', '.join(questions)}")
    answer.pop(PARTIAL, None)
    if len(given) < len(questions):
        answer[PARTIAL] = True
    return answer


def awaits_answer(answer: Mapping[str, Any] | None) -> bool:
    """True while an answer is partial and lacks the survey's first question (the score): such a
    survey stays open and is shown again until it is answered or expires. A score without its
    follow-up closes it (the follow-up can still be given to the same message)."""
    if not answer or not answer.get(PARTIAL):
        return False
    questions = QUESTIONS.get(str(answer.get("survey")), ())
    return bool(questions) and questions[0] not in answer


def merge_answer(stored: Mapping[str, Any] | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """The answer after ``given``: it replaces the questions it answers and keeps the earlier answers to
    the others (so a "why?" given after the score completes the answer); another survey replaces it."""
    if not stored or stored.get("survey") != given.get("survey"):
        return dict(given)
    merged = {k: v for k, v in stored.items() if k != PARTIAL}
    merged.update({k: v for k, v in given.items() if k != PARTIAL})
    return _with_partial(merged)


def check_offered(answer: Mapping[str, Any], offered: Sequence[Any] | None) -> None:
    """Refuse an answer naming something the person was not offered (None: no list to check against)."""
    if offered is None:
        return
    allowed = set(offered)
    for field in ("score", "choice"):
        if field in answer and answer[field] not in allowed:
            raise NotOffered(f"answer.{field}: {answer[field]!r} was not offered")
    for feature in answer.get("features", ()):
        if feature not in allowed:
            listed = ", ".join(str(o) for o in offered)
            raise NotOffered(f"answer.features: {feature!r} was not offered (offered: {listed})")


def offered_features(variables: Mapping[str, Any]) -> list[str]:
    """The features a feature-usefulness command offers (``variables["features"]``, the contract with
    touch); BadAnswer naming ``variables.features`` when there is nothing valid to offer."""
    features = variables.get("features")
    if not isinstance(features, list) or not features:
        raise BadAnswer("variables.features: a feature_usefulness survey needs the features to offer (none given)")
    if not all(isinstance(f, str) and f.strip() for f in features):
        raise BadAnswer("variables.features: expected a list of non-empty feature names")
    if len(features) > MAX_FEATURES or len(set(features)) != len(features):
        raise BadAnswer(f"variables.features: expected at most {MAX_FEATURES} distinct feature names")
    return list(features)
