"""The proposal a person reviews: the whole scorecard set with one card's weights replaced and
the evidence in a comment header. Loading it is the only way it takes effect."""

from __future__ import annotations

from typing import Any

import yaml

from ..domain.scorecard import ScorecardSet
from .fit import Comparison


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def evidence(name: str, cmp: Comparison) -> list[str]:
    """The comment header: what was fitted on, and how both weight sets did out of sample."""
    assert cmp.learned_weights is not None
    lines = [
        f"Proposed weights for scorecard {name!r}, learned from outcomes. NOT IN EFFECT until you adopt it:",
        "review, then point TOUCHLINE_HEALTH_SCORECARDS_PATH at this file (or copy the weights into yours).",
        f"Fitted on {cmp.rows} snapshots of {cmp.churned_accounts} churned and {cmp.renewed_accounts} renewed "
        f"accounts (L2 logistic regression on the measures' 0-100 scores; {cmp.folds}-fold cross-validation "
        "grouped by account).",
        "",
        f"{'measure':<24} {'hand-set':>9} {'proposed':>9}",
    ]
    for m, hand, learned in zip(cmp.measures, cmp.hand_weights, cmp.learned_weights, strict=True):
        note = "  (kept at the floor: a higher score did not mean less churn)" if m in cmp.unsupported else ""
        lines.append(f"{m:<24} {hand:>9.1f} {learned:>9.1f}{note}")
    lines += ["", "Out of sample, days before the outcome (AUC: higher is better; Brier: lower is better):"]
    lines.append(
        f"{'days':>5} {'churned':>8} {'renewed':>8} {'AUC hand':>9} {'AUC new':>8} {'Brier hand':>11} {'Brier new':>10}"
    )
    for h in cmp.horizons:
        lines.append(
            f"{h.days:>5} {h.churned:>8} {h.retained:>8} {_fmt(h.hand.auc):>9} {_fmt(h.learned.auc):>8} "
            f"{_fmt(h.hand.brier):>11} {_fmt(h.learned.brier):>10}"
        )
    return lines


def proposal_yaml(cards: ScorecardSet, name: str, cmp: Comparison) -> str:
    """The full scorecard set (so the file loads on its own) with ``name``'s weights replaced."""
    if cmp.learned_weights is None:
        raise ValueError(cmp.refused or "no proposal")
    learned = dict(zip(cmp.measures, cmp.learned_weights, strict=True))
    document: dict[str, Any] = cards.model_dump(mode="json", by_alias=True, exclude_none=True)
    card = next(c for c in document["scorecards"] if c["name"] == name)
    for measure in card["measures"]:
        measure["weight"] = learned[measure["name"]]
    header = "".join(f"# {line}".rstrip() + "\n" for line in evidence(name, cmp))
    return header + "\n" + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
