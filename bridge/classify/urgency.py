"""Urgency: legal threats, safety, cancellation, "still waiting", outages, from each language's lists
(and the English ones, which customers everywhere mix in). High as soon as one category matches;
the reasons name the category and the words, e.g. ``legal: lawyer``.
"""

from __future__ import annotations

import bisect
import itertools

from bridge.classify.lexicon import Profile, profile
from bridge.classify.text import Token


def urgent_words(words: list[Token], language: Profile) -> list[str]:
    """``category: words`` (as written) for every urgency category that the text matches, in a stable order."""
    kept = [w for w in words if w.kind == "word"]
    text = " ".join(w.norm for w in kept)
    starts = list(itertools.accumulate((len(w.norm) + 1 for w in kept[:-1]), initial=0))
    profiles = [language] if language.code == "en" else [language, profile("en")]
    reasons: list[str] = []
    for p in profiles:
        for category, pattern in p.urgency.items():
            m = pattern.search(text)
            if m and not any(r.startswith(f"{category}:") for r in reasons):
                first, last = bisect.bisect_right(starts, m.start()) - 1, bisect.bisect_left(starts, m.end())
                reasons.append(f"{category}: {' '.join(w.raw.lower() for w in kept[first:last])}")
    return reasons
