"""Feedback themes: which themes a comment is about, for the console's feedback page and notify's routing.

One implementation for both, so a team subscribed to "usability" receives exactly the comments the
console counts under usability. Pure: the tokenizer is a port (``Tokenizer.words``) and the
catalogue is data (``themes.yaml`` beside this module, theme -> words). ``JanomeTokenizer`` is the
real tokenizer: janome is a pure-Python Japanese morphological analyser, so 「画面が使いにくい」
yields 画面 and 使いにくい rather than one unsplittable string, and English words come out lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import yaml

CATALOGUE = Path(__file__).with_name("themes.yaml")
Catalogue = Mapping[str, list[str]]

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


def parse_catalogue(data: Any, *, source: str) -> dict[str, list[str]]:
    """A theme catalogue from parsed YAML; ValueError naming ``source`` and the theme when it is malformed."""
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{source}: must map each theme name to a list of words")
    out: dict[str, list[str]] = {}
    for name, words in data.items():
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise ValueError(f"{source}: theme {name!r} must be a non-empty list of words")
        out[str(name)] = [w.strip() for w in words]
    return out


def load_catalogue(path: Path = CATALOGUE) -> dict[str, list[str]]:
    return parse_catalogue(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))


def themes_of(comment: str, words: Iterable[str], *, catalogue: Catalogue) -> list[str]:
    """The themes a comment is about, in catalogue order: a theme matches when the comment uses any of
    its words, as a word the tokenizer found (an inflected adjective's base form) or within the text
    (case-insensitive, for words the tokenizer splits further, e.g. 初期設定)."""
    found = set(words)
    text = comment.lower()
    return [
        theme
        for theme, vocabulary in catalogue.items()
        if any(v in found or v.lower() in found or v.lower() in text for v in vocabulary)
    ]
