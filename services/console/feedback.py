"""Feedback: NPS aggregation, and keywords and themes per survey kind and answer group.

Pure functions over survey answers. The tokenizer and the theme matching live in
``touchline.shared.themes``: notify routes new comments to the teams subscribed to a theme with
the same matching, so the console and the routing always agree on what a theme is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from touchline.shared.themes import Catalogue, JanomeTokenizer, Tokenizer, themes_of

from .models import SurveyAnswer

__all__ = ["JanomeTokenizer", "Tokenizer"]
# The kinds the feedback page groups by, in display order; each kind's groups, in display order.
KINDS = ("nps", "satisfaction", "exit", "feature_usefulness")
GROUPS = {
    "nps": ("promoter", "passive", "detractor"),
    "satisfaction": ("satisfied", "neutral", "dissatisfied"),
    "exit": ("satisfied", "neutral", "dissatisfied"),
    "feature_usefulness": ("features_named",),
}


def bucket(score: int) -> str:
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True)
class NpsSummary:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> float | None:
        """% promoters - % detractors, -100..100; None without answers."""
        if not self.total:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.total


def summarise(answers: Iterable[SurveyAnswer]) -> NpsSummary:
    """NPS of the NPS answers among ``answers`` (other surveys are ignored)."""
    nps = [a for a in answers if a.survey == "nps" and a.score is not None]
    counts = Counter(bucket(a.score) for a in latest_per_respondent(nps) if a.score is not None)
    return NpsSummary(promoters=counts["promoter"], passives=counts["passive"], detractors=counts["detractor"])


def latest_per_respondent(answers: Iterable[SurveyAnswer]) -> list[SurveyAnswer]:
    """One answer per (account, user): a re-sent survey answered twice must not count twice."""
    latest: dict[tuple[str, str | None], SurveyAnswer] = {}
    for a in sorted(answers, key=lambda a: a.at):
        latest[(a.account_id, a.user_id)] = a
    return list(latest.values())


def month_key(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def months_back(now: datetime, count: int) -> list[str]:
    keys, year, month = [], now.year, now.month
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def by_month(answers: Sequence[SurveyAnswer], *, now: datetime, months: int) -> list[tuple[str, NpsSummary]]:
    grouped: dict[str, list[SurveyAnswer]] = defaultdict(list)
    for a in answers:
        grouped[month_key(a.at)].append(a)
    return [(key, summarise(grouped.get(key, []))) for key in months_back(now, months)]


@dataclass(frozen=True)
class Keyword:
    word: str
    comments: int  # how many comments use it (a word repeated in one comment counts once)
    account_ids: list[str] = field(default_factory=list)
    detractor_share: float = 0.0


Tokenized = list[tuple[SurveyAnswer, frozenset[str]]]


def tokenize(answers: Sequence[SurveyAnswer], *, tokenizer: Tokenizer) -> Tokenized:
    """Each commented answer with its set of words (a word repeated in one comment counts once)."""
    return [(a, frozenset(tokenizer.words(a.comment))) for a in answers if a.comment.strip()]


def keywords(tokenized: Tokenized, *, top: int = 20) -> list[Keyword]:
    seen: dict[str, list[SurveyAnswer]] = defaultdict(list)
    for a, words in tokenized:
        for word in words:
            seen[word].append(a)
    ranked = sorted(seen.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    return [
        Keyword(
            word=word,
            comments=len(hits),
            account_ids=sorted({a.account_id for a in hits}),
            detractor_share=sum(1 for a in hits if group_of(a) in NEGATIVE) / len(hits),
        )
        for word, hits in ranked
    ]


@dataclass(frozen=True)
class Theme:
    name: str
    comments: int
    words: list[str]


def themes(tokenized: Tokenized, *, catalogue: Catalogue) -> list[Theme]:
    """Comments per theme (see ``touchline.shared.themes.themes_of``), most commented first."""
    counts: Counter[str] = Counter()
    for a, words in tokenized:
        counts.update(themes_of(a.comment, words, catalogue=catalogue))
    return [Theme(name=n, comments=c, words=list(catalogue[n])) for n, c in counts.most_common() if c]


def matching(tokenized: Tokenized, *, word: str) -> list[SurveyAnswer]:
    return [a for a, words in tokenized if word in words]


NEGATIVE = frozenset({"detractor", "dissatisfied"})


def kind_of(answer: SurveyAnswer) -> str:
    """The feedback kind: the survey, except a satisfaction survey sent as the exit survey is "exit"."""
    if answer.survey == "satisfaction" and answer.template.startswith("churn."):
        return "exit"
    return answer.survey


def group_of(answer: SurveyAnswer) -> str | None:
    """The answer's group within its kind; None when it cannot be placed (no score given)."""
    kind = kind_of(answer)
    if kind == "feature_usefulness":
        return "features_named" if answer.features else None
    if answer.score is None:
        return None
    if kind == "nps":
        return bucket(answer.score)
    if kind in ("satisfaction", "exit"):  # 1..5
        return "satisfied" if answer.score >= 4 else "neutral" if answer.score == 3 else "dissatisfied"
    return None


@dataclass(frozen=True)
class GroupFeedback:
    kind: str
    group: str
    answers: int  # answers in the group, commented or not
    comments: int
    keywords: list[Keyword]
    themes: list[Theme]


def by_group(
    answers: Sequence[SurveyAnswer], tokenized: Tokenized, *, catalogue: Catalogue, top: int = 10
) -> list[GroupFeedback]:
    """Keywords and themes per survey kind and group (e.g. NPS detractors, exit "dissatisfied"), in
    display order; groups nobody answered in are left out."""
    counts = Counter((kind_of(a), group_of(a)) for a in answers)
    commented: dict[tuple[str, str | None], Tokenized] = defaultdict(list)
    for a, words in tokenized:
        commented[(kind_of(a), group_of(a))].append((a, words))
    out = []
    for kind in KINDS:
        for group in GROUPS[kind]:
            if not counts[(kind, group)]:
                continue
            mine = commented.get((kind, group), [])
            out.append(
                GroupFeedback(
                    kind=kind,
                    group=group,
                    answers=counts[(kind, group)],
                    comments=len(mine),
                    keywords=keywords(mine, top=top),
                    themes=themes(mine, catalogue=catalogue),
                )
            )
    return out
