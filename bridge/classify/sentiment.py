"""Sentiment from word lists, after VADER (Hutto & Gilbert, 2014): each word's valence, flipped by a
negator in the three words before it, raised or lowered by an intensifier just before it, raised for
ALL CAPS, weighed more after a contrast ("but"); emoji by the Emoji Sentiment Ranking; ``!`` adds
emphasis. The sum is squashed into [-1, 1] the way VADER's compound score is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bridge.classify.lexicon import Profile, WordSet, emoji_valence, profile
from bridge.classify.text import Token, squeeze

NEGATION = -0.74  # VADER's factor for a negated word
BOOST = 0.293  # VADER's step for an intensifier
CAPS = 0.733  # VADER's emphasis for a word in capitals in a text that is not all capitals
EXCLAMATION = 0.292  # per "!", up to four
ALPHA = 15.0  # VADER's normalisation constant
EMOJI_WEIGHT = 1.0


@dataclass
class Score:
    """A running sum and the words behind it, for the reasons."""

    total: float = 0.0
    words: list[tuple[str, float]] = field(default_factory=list)

    def add(self, word: str, value: float) -> None:
        self.total += value
        self.words.append((word, value))

    @property
    def compound(self) -> float:
        return self.total / math.sqrt(self.total * self.total + ALPHA)


def score(text: str, words: list[Token], language: Profile) -> Score:
    """Score ``text`` (already tokenised into ``words``) with the lists of ``language``."""
    result = Score()
    lexicons = [language.valence, *(profile(code).valence for code in language.fallback)]
    after_contrast = _contrast_index(words, language)
    i = 0
    while i < len(words):
        span, value = _lookup(words, i, lexicons, language)
        if value is not None:
            label = " ".join(w.raw.lower() for w in words[i : i + span])
            value = _modify(words, i, value, language, caps=_shouted(words[i], text))
            negator = _negator(words, i, language)
            if negator:
                label, value = f"{negator} {label}", value * NEGATION
            value *= 0.5 if i < after_contrast else (1.5 if after_contrast else 1.0)
            result.add(label, value)
        i += span
    _emoji(text, result)
    _exclaim(text, result)
    return result


def _contrast_index(words: list[Token], language: Profile) -> int:
    """Index just after the last contrast word ("but"), or 0: what follows it decides."""
    marks = [i for i, w in enumerate(words) if w.norm in language.contrast]
    return marks[-1] + 1 if marks and marks[-1] > 0 else 0


def _lookup(words: list[Token], i: int, lexicons: list[WordSet], language: Profile) -> tuple[int, float | None]:
    """The longest phrase (up to three words) starting at ``i`` that a lexicon knows, and its valence.

    A function word of the language is looked up in its own lists only: the fallback's ratings are for
    other words that happen to be spelt the same (German "die", Italian "ha" are English words)."""
    if words[i].kind == "mark":
        return 1, None
    for lexicon in lexicons:
        if words[i].norm in lexicon.phrase_starts:
            for span in (3, 2):
                phrase = " ".join(w.norm for w in words[i : i + span])
                if phrase in lexicon.exact:
                    return span, lexicon.exact[phrase]
    own_only = words[i].norm in language.stopwords
    for lexicon in lexicons[: 1 if own_only else None]:
        for form in _forms(words[i].norm, language):
            found = lexicon.get(form)
            if found is not None:
                return 1, found[1]
    return 1, None


def _forms(word: str, language: Profile) -> tuple[str, ...]:
    """The word, its un-elongated spellings, and the word without a leading clitic (Arabic و، ال)."""
    bare = tuple(word[len(p) :] for p in language.proclitics if word.startswith(p) and len(word) - len(p) >= 2)
    return (word, *squeeze(word), *bare)


def _modify(words: list[Token], i: int, value: float, language: Profile, *, caps: bool) -> float:
    """Emphasis: capitals, and an intensifier or a softener in the three words before."""
    sign = 1.0 if value > 0 else -1.0
    if caps:
        value += sign * CAPS
    for distance, w in enumerate(reversed(words[max(0, i - 3) : i]), start=1):
        damp = 1.0 if distance == 1 else 0.95 if distance == 2 else 0.9
        if w.norm in language.boosters:
            value += sign * BOOST * damp
        elif w.norm in language.dampeners:
            value -= sign * BOOST * damp
    return value


def _negator(words: list[Token], i: int, language: Profile) -> str | None:
    """The negator among the three words before ``i`` ("not", "n't", "nicht"), if any."""
    for w in words[max(0, i - 3) : i]:
        if w.norm in language.negators or w.norm.endswith("n't"):
            return w.raw.lower()
    return None


def _shouted(word: Token, text: str) -> bool:
    return len(word.raw) > 1 and word.raw.isupper() and not text.isupper()


def _emoji(text: str, result: Score) -> None:
    valence = emoji_valence()
    for c in text:
        value = valence.get(c)
        if value is not None and abs(value) > 0.1:
            result.add(c, EMOJI_WEIGHT * value)


def _exclaim(text: str, result: Score) -> None:
    if result.total:
        result.total += math.copysign(min(text.count("!"), 4) * EXCLAMATION, result.total)
