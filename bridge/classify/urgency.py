"""Urgency: legal threats, safety, cancellation, "still waiting", outages, from each language's lists
(and the English ones, which customers everywhere mix in). High as soon as one category matches;
the reasons name the category and the words, e.g. ``legal: lawyer``.
"""

from __future__ import annotations

from bridge.classify.lexicon import Profile, profile
from bridge.classify.text import Token


def urgent_words(words: list[Token], language: Profile) -> list[str]:
    """``category: words`` for every urgency category that the text matches, in a stable order."""
    text = " ".join(w.norm for w in words if w.kind == "word")
    profiles = [language] if language.code == "en" else [language, profile("en")]
    reasons: list[str] = []
    for p in profiles:
        for category, pattern in p.urgency.items():
            m = pattern.search(text)
            if m and not any(r.startswith(f"{category}:") for r in reasons):
                reasons.append(f"{category}: {m.group()}")
    return reasons
