"""The default classifier: offline, on CPU, word lists shipped in the package (``data/``)."""

from __future__ import annotations

from bridge.classify.langid import identify
from bridge.classify.lexicon import profile
from bridge.classify.model import LANGUAGES, UNDETERMINED, Classification, Sentiment, Urgency
from bridge.classify.sentiment import Score, score
from bridge.classify.text import tokens
from bridge.classify.urgency import urgent_words

#: The part of a text that is read. Social posts are shorter (Messenger 2,000 characters, WhatsApp and Telegram
#: 4,096, a Facebook comment 8,000); an own channel's may be anything, and a 12 MB line took 54 s and 1.35 GB.
#: Rules' keywords and patterns still see the whole text: only the verdict reads less.
MAX_CHARS = 10_000


class LexiconClassifier:
    """Language by script and function words, sentiment by word lists, urgency by phrase lists."""

    def __init__(self) -> None:
        for code in LANGUAGES:  # read every list now, not on the first message of a language
            profile(code)

    def classify(self, text: str) -> Classification:
        """Classify one text (its first :data:`MAX_CHARS` characters); ``und`` texts are scored with the English
        lists."""
        text = text[:MAX_CHARS]
        words = tokens(text)
        language = identify(text, words)
        lists = profile(language if language != UNDETERMINED else "en")
        result = score(text, words, lists)
        sentiment = _label(result.compound, lists.negative_below, lists.positive_above)
        urgent = urgent_words(words, lists)
        return Classification(
            language=language,
            sentiment=sentiment,
            score=result.compound,
            urgency=Urgency.HIGH if urgent else Urgency.NORMAL,
            reasons=(*_sentiment_reasons(result, sentiment), *urgent),
        )


def _label(compound: float, negative_below: float, positive_above: float) -> Sentiment:
    if compound <= negative_below:
        return Sentiment.NEGATIVE
    return Sentiment.POSITIVE if compound >= positive_above else Sentiment.NEUTRAL


def _sentiment_reasons(result: Score, sentiment: Sentiment) -> list[str]:
    """The words on the side that won (both sides for a neutral verdict), strongest first."""
    words = sorted(result.words, key=lambda item: -abs(item[1]))
    if sentiment is Sentiment.NEGATIVE:
        words = [w for w in words if w[1] < 0]
    elif sentiment is Sentiment.POSITIVE:
        words = [w for w in words if w[1] > 0]
    return [f"{'positive' if value > 0 else 'negative'}: {word}" for word, value in words[:5]]
