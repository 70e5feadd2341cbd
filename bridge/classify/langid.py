"""Language identification by script, then by function words and letters of each language.

Short social posts defeat statistical models trained on long text, and romanised Hindi (Hinglish)
is in none of them; counting each language's function words ("the", "und", "che", "hai") and its
own letters (ß, ñ, ã, č; پ گ ژ for Persian, ة for Arabic) is fast, explainable and good enough to
pick the word lists.
"""

from __future__ import annotations

import re
from functools import cache

from bridge.classify.lexicon import Profile, profile
from bridge.classify.model import LANGUAGES, UNDETERMINED
from bridge.classify.text import Token

_SCRIPTS = {
    "latin": re.compile(r"[A-Za-z\u00C0-\u024F]"),
    "arabic": re.compile(r"[\u0620-\u064A\u066E-\u06D3\u06FA-\u06FF]"),
    "devanagari": re.compile(r"[\u0904-\u0939\u093D\u0950-\u0961\u0972-\u097F]"),
    "cyrillic": re.compile(r"[\u0400-\u04FF]"),
}
#: A marker letter, or a word of the language's sentiment lists, counts as much as this many function words.
_MARKER_WEIGHT = 0.5
_LEXICON_WEIGHT = 0.4


def script(text: str) -> str:
    """The script most letters of ``text`` are written in: latin, arabic, devanagari, cyrillic (or none)."""
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPTS.items()}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else "none"


def identify(text: str, words: list[Token]) -> str:
    """The language code of ``text`` (its already made tokens in ``words``), or ``und``."""
    candidates = _candidates(script(text))
    if len(candidates) <= 1:
        return candidates[0] if candidates else UNDETERMINED
    folded = text.casefold()
    scores = {code: _evidence(profile(code), folded, words) for code in candidates}
    best = max(candidates, key=lambda code: scores[code])
    return best if scores[best] > 0 else UNDETERMINED


@cache
def _candidates(written_in: str) -> tuple[str, ...]:
    return tuple(code for code in LANGUAGES if written_in in profile(code).scripts)


def _evidence(p: Profile, folded: str, words: list[Token]) -> float:
    hits = sum(1 for w in words if w.norm in p.stopwords)
    known = sum(1 for w in words if w.norm in p.valence.exact)
    marks = sum(folded.count(c) for c in p.markers)
    return hits + _LEXICON_WEIGHT * known + _MARKER_WEIGHT * min(marks, 4)
