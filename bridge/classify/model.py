"""What a classifier says about one text, and the port every classifier implements.

The JSON form (:meth:`Classification.to_json`) is the contract of ``socialdesk classify``, of an
operator's HTTP endpoint and of a Python plug-in: ``{"language": "en", "sentiment": "negative",
"score": -0.62, "urgency": "high", "reasons": ["negative: terrible", "legal: lawyer"]}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from bridge.errors import PermanentError

#: Languages the default classifier knows (ISO 639-1); ``und`` when it cannot tell.
LANGUAGES = ("ar", "de", "en", "es", "fa", "fr", "hi", "it", "pt", "ru", "sl")
UNDETERMINED = "und"


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Urgency(StrEnum):
    HIGH = "high"
    NORMAL = "normal"


@dataclass(frozen=True, slots=True)
class Classification:
    """Language (ISO 639-1 or ``und``), sentiment with a score in [-1, 1], urgency, and the words that decided."""

    language: str
    sentiment: Sentiment
    score: float
    urgency: Urgency = Urgency.NORMAL
    reasons: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """The one JSON shape, shared by the CLI, the HTTP slot and the explanations on tickets."""
        return {
            "language": self.language,
            "sentiment": self.sentiment.value,
            "score": round(self.score, 4),
            "urgency": self.urgency.value,
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_json(cls, data: object, *, source: str = "classifier") -> Classification:
        """Validate what a plug-in or an endpoint returned; a bad shape is a :class:`PermanentError`."""
        if not isinstance(data, Mapping):
            raise PermanentError("answer is not a JSON object", platform=source)
        try:
            return cls(
                language=_language(data.get("language", UNDETERMINED)),
                sentiment=Sentiment(data["sentiment"]),
                score=_score(data.get("score", 0.0)),
                urgency=Urgency(data.get("urgency", Urgency.NORMAL.value)),
                reasons=_reasons(data.get("reasons", [])),
            )
        except (KeyError, ValueError, TypeError) as e:
            raise PermanentError(f"answer is not a classification: {e}", platform=source) from None


def _language(value: object) -> str:
    if not isinstance(value, str) or not 2 <= len(value) <= 35:
        raise ValueError("language must be a language tag")
    return value


def _score(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("score must be a number")
    return max(-1.0, min(1.0, float(value)))


def _reasons(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise ValueError("reasons must be a list of strings")
    return tuple(value)


@runtime_checkable
class Classifier(Protocol):
    """The port: rules, the dashboard and the benchmark all call this, whatever sits behind it."""

    def classify(self, text: str) -> Classification:
        """Classify one text (one post or message)."""
        ...
