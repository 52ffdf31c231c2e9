"""NPS aggregation and comment keywords: pure functions over survey answers.

The tokenizer is a port (``Tokenizer.words``); ``JanomeTokenizer`` is the real one — janome is a
pure-Python Japanese morphological analyser, so 「画面が使いにくい」 yields 画面 and 使いにくい
rather than one unsplittable string.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from .models import SurveyAnswer

_ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]+")
EN_STOPWORDS = frozenset(
    "a an us we our every each lot lots the and for are but not you your with this that have has had was were is it its our out too very "
    "can can't cannot dont don't does did just more most much some any all from they them their there "
    "what when where which who why how would could should will about into than then also only really "
    "get got been being use used using".split()
)
# Parts of speech janome tags that never carry a theme: pronouns, numbers, suffixes, dependent nouns.
_JA_NOUN_SKIP = ("代名詞", "数", "接尾", "非自立", "副詞可能")
JA_STOPWORDS = frozenset({"こと", "もの", "よう", "ため", "の", "ん", "さ", "ない", "いい", "よい", "良い"})


class Tokenizer(Protocol):
    def words(self, text: str) -> list[str]: ...


class JanomeTokenizer:
    """Content words of a comment: nouns and adjectives (base form), English words lower-cased."""

    def __init__(self) -> None:
        from janome.tokenizer import Tokenizer as _Janome  # imported here: loading the dictionary takes time

        self._janome = _Janome()
        # ~1.7 ms per comment: comments do not change, so each is analysed once per process.
        self.words = lru_cache(maxsize=100_000)(self._words)  # type: ignore[method-assign]

    def words(self, text: str) -> list[str]:
        return self._words(text)

    def _words(self, text: str) -> list[str]:
        words: list[str] = []
        previous: Any = None
        for token in self._janome.tokenize(text):
            if isinstance(token, str):  # only with wakati=True, which is not used here
                continue
            pos = token.part_of_speech.split(",")
            surface = token.surface
            if surface.isascii():
                words += [w.lower() for w in _ASCII_WORD.findall(surface) if w.lower() not in EN_STOPWORDS]
            elif pos[0] == "名詞" and pos[1] not in _JA_NOUN_SKIP and surface not in JA_STOPWORDS:
                words.append(surface)
            elif pos[0] == "形容詞" and pos[1] == "非自立" and previous is not None and previous[0] == "動詞":
                # 使い + にくい -> 使いにくい: the verb alone (使う) would lose the complaint.
                words.append(previous[1] + token.base_form)
            elif pos[0] == "形容詞" and pos[1] == "自立" and token.base_form not in JA_STOPWORDS:
                words.append(token.base_form)
            previous = (pos[0], surface)
        return words


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
    counts = Counter(bucket(a.score) for a in latest_per_respondent(answers))
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
            detractor_share=sum(1 for a in hits if bucket(a.score) == "detractor") / len(hits),
        )
        for word, hits in ranked
    ]


@dataclass(frozen=True)
class Theme:
    name: str
    comments: int
    words: list[str]


def themes(tokenized: Tokenized, *, catalogue: dict[str, list[str]]) -> list[Theme]:
    """Comments per theme: a theme (e.g. usability) matches a comment using any of its words."""
    counts: Counter[str] = Counter()
    for a, words in tokenized:
        text = a.comment.lower()
        for theme, vocabulary in catalogue.items():
            if any(v in words or v.lower() in text for v in vocabulary):
                counts[theme] += 1
    return [Theme(name=n, comments=c, words=catalogue[n]) for n, c in counts.most_common() if c]


def matching(tokenized: Tokenized, *, word: str) -> list[SurveyAnswer]:
    return [a for a, words in tokenized if word in words]
