"""Survey answers: the shapes the Outcome contract promises, checked before anything is recorded."""

from __future__ import annotations

from typing import Any

SURVEYS = ("nps", "renewal", "satisfaction", "feature_usefulness", "referral", "roi")
_CHOICES = {"renewal": ("likely", "undecided", "unlikely"), "referral": ("yes", "no")}
_SCORES = {"nps": (0, 10), "roi": (0, 10), "satisfaction": (1, 5)}


class BadAnswer(ValueError):
    """An answer that does not fit its survey; the message names the field."""


def _comment(raw: dict[str, Any]) -> dict[str, Any]:
    comment = raw.get("comment")
    if comment is None:
        return {}
    if not isinstance(comment, str) or len(comment) > 5000:
        raise BadAnswer("answer.comment: expected a string of at most 5000 characters")
    return {"comment": comment}


def normalise_answer(raw: Any, *, expected: str | None = None) -> dict[str, Any]:
    """A clean answer dict, or BadAnswer naming the field that is wrong."""
    if not isinstance(raw, dict):
        raise BadAnswer("answer: expected an object")
    survey = raw.get("survey", expected)
    if survey not in SURVEYS:
        raise BadAnswer(f"answer.survey: expected one of {', '.join(SURVEYS)}")
    if expected is not None and survey != expected:
        raise BadAnswer(f"answer.survey: this message asks a {expected} survey, not {survey}")
    out: dict[str, Any] = {"survey": survey}
    if survey in _SCORES:
        low, high = _SCORES[survey]
        score = raw.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            raise BadAnswer(f"answer.score: expected an integer {low}-{high}")
        out["score"] = score
    if survey in _CHOICES:
        choice = raw.get("choice")
        if choice not in _CHOICES[survey]:
            raise BadAnswer(f"answer.choice: expected one of {', '.join(_CHOICES[survey])}")
        out["choice"] = choice
    if survey == "feature_usefulness":
        features = raw.get("features", [])
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise BadAnswer("answer.features: expected a list of feature names")
        out["features"] = features
    out.update(_comment(raw))
    return out
