"""The word lists of one language, loaded once from ``data/<lang>.toml`` (and the published valence
lexicons it names, where one with a redistributable licence exists; see ``data/SOURCES.md``).

An entry ending in ``*`` matches any word that starts with it (``terribl*``); an entry with spaces
is a phrase of whole words. Everything is folded with :func:`bridge.classify.text.fold`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from bridge.classify.text import fold

#: Valence of the hand-written lists, on VADER's scale (-4..4).
WEAK, STRONG = 2.0, 3.0
#: A shipped lexicon's scale onto VADER's, by the kind its file is named after (``<lang>.<kind>.tsv``):
#: VADER rates -4..4, AFINN -5..5.
SCALES = {"vader": 1.0, "afinn": 0.5}
URGENCY_CATEGORIES = ("legal", "safety", "cancellation", "waiting", "outage")


@dataclass(frozen=True)
class WordSet:
    """Exact words and phrases plus prefixes, each with a value (a valence, or 1.0 for membership)."""

    exact: dict[str, float] = field(default_factory=dict)
    prefixes: dict[str, float] = field(default_factory=dict)
    longest: int = 0
    phrase_starts: frozenset[str] = frozenset()  # first words of the phrases: only they start a phrase look-up

    def get(self, word: str) -> tuple[str, float] | None:
        """The entry that matches ``word`` (exact first, then the longest prefix), or None."""
        if word in self.exact:
            return word, self.exact[word]
        for n in range(min(len(word), self.longest), 1, -1):
            value = self.prefixes.get(word[:n])
            if value is not None:
                return word[:n] + "*", value
        return None

    def __contains__(self, word: str) -> bool:
        return self.get(word) is not None


def word_set(entries: dict[str, float]) -> WordSet:
    exact: dict[str, float] = {}
    prefixes: dict[str, float] = {}
    for entry, value in entries.items():
        key = " ".join(fold(w) for w in entry.split())
        target = prefixes if key.endswith("*") else exact
        target.setdefault(key.rstrip("*"), value)
    starts = frozenset(key.split()[0] for key in exact if " " in key)
    return WordSet(exact, prefixes, max((len(p) for p in prefixes), default=0), starts)


@dataclass(frozen=True)
class Profile:
    """What the default classifier knows about one language."""

    code: str
    scripts: tuple[str, ...]
    stopwords: frozenset[str]
    markers: str
    valence: WordSet
    negators: WordSet
    boosters: WordSet
    dampeners: WordSet
    contrast: frozenset[str]
    proclitics: tuple[str, ...]
    urgency: dict[str, re.Pattern[str]]
    negative_below: float
    positive_above: float
    fallback: tuple[str, ...]


def _read_toml(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("bridge.classify").joinpath("data", name).read_text(encoding="utf-8"))


def _read_lexicon(name: str) -> dict[str, float]:
    """A ``word<TAB>valence`` file, its values put on VADER's scale (``SCALES``, by the file's kind)."""
    scale = SCALES[name.split(".")[-2]]
    text = resources.files("bridge.classify").joinpath("data", name).read_text(encoding="utf-8")
    pairs = (line.split("\t") for line in text.splitlines() if "\t" in line)
    return {word: scale * float(value) for word, value in pairs}


def _valence(data: dict[str, Any]) -> WordSet:
    entries: dict[str, float] = {}
    for name in data.get("lexicons", []):  # the first file that rates a word wins
        entries = _read_lexicon(name) | entries
    for key, value in (
        ("positive", WEAK),
        ("strong_positive", STRONG),
        ("negative", -WEAK),
        ("strong_negative", -STRONG),
    ):
        entries.update(dict.fromkeys(data.get(key, []), value))  # the hand-written lists win
    return word_set(entries)


def _pattern(entries: list[str]) -> re.Pattern[str]:
    """One regular expression for a category: whole words, ``*`` = any ending, spaces = any spacing."""
    parts = []
    for entry in sorted(entries, key=len, reverse=True):
        words = [re.escape(fold(w).rstrip("*")) + (r"\w*" if w.endswith("*") else "") for w in entry.split()]
        parts.append(r"\s+".join(words))
    return re.compile(rf"(?<![\w\u0900-\u097F])(?:{'|'.join(parts)})(?![\w\u0900-\u097F])")


def _urgency(data: dict[str, Any]) -> dict[str, re.Pattern[str]]:
    table = data.get("urgency", {})
    return {cat: _pattern(table[cat]) for cat in URGENCY_CATEGORIES if table.get(cat)}


@cache
def profile(code: str) -> Profile:
    """The profile of one language, read from the package's data on first use."""
    data = _read_toml(f"{code}.toml")
    limits = data.get("thresholds", {})
    return Profile(
        code=code,
        scripts=tuple(data.get("scripts", ["latin"])),
        stopwords=frozenset(fold(w) for w in data.get("stopwords", [])),
        markers=data.get("markers", ""),
        valence=_valence(data),
        negators=word_set(dict.fromkeys(data.get("negators", []), 1.0)),
        boosters=word_set(dict.fromkeys(data.get("boosters", []), 1.0)),
        dampeners=word_set(dict.fromkeys(data.get("dampeners", []), 1.0)),
        contrast=frozenset(fold(w) for w in data.get("contrast", [])),
        proclitics=tuple(fold(p) for p in data.get("proclitics", [])),
        urgency=_urgency(data),
        negative_below=float(limits.get("negative", -0.05)),
        positive_above=float(limits.get("positive", 0.05)),
        fallback=tuple(data.get("fallback", [])),
    )


@cache
def emoji_valence() -> dict[str, float]:
    """Emoji Sentiment Ranking: (positive - negative) / (occurrences + 3), ×4 onto VADER's scale."""
    text = resources.files("bridge.classify").joinpath("data", "emoji.tsv").read_text(encoding="utf-8")
    values = {}
    for line in text.splitlines()[1:]:
        emoji, occurrences, negative, _neutral, positive = line.split("\t")
        values[emoji] = 4.0 * (int(positive) - int(negative)) / (int(occurrences) + 3)
    return values
