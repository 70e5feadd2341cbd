"""Sentiment, urgency and language of a social post, behind one port (:class:`Classifier`).

``build_classifier(settings)`` gives the default offline classifier (:mod:`bridge.classify.default`)
or an operator's own model (a Python factory or an HTTP endpoint, :mod:`bridge.classify.plugins`).
"""

from __future__ import annotations

from bridge.classify.model import Classification, Classifier, Sentiment, Urgency

__all__ = ["Classification", "Classifier", "Sentiment", "Urgency"]
