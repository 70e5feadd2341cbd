"""The report's ``episodes.csv``: one row per episode (and per continued part of an earlier one), whose
columns add up to the report's episode and volume figures (``tests/test_report.py`` recomputes them).

Durations are seconds, written exactly (``repr``); times are ISO 8601 in the period's time zone. Per-message
figures that are not sums (the median response, ingest lag's p90) cannot be recomputed from episode rows;
their sums are there, so their means can.

``thread_key`` is the thread as the log lines name it (:func:`bridge.messages.key_shown`), not as stored: a
report is made to be passed on, and a WhatsApp thread key ends in the customer's phone number (an own channel's
id can be an email or a phone). Those are the customer's pseudonym instead, the same in every row of the thread
and in ``serve``'s and ``worker``'s logs (keyed with the helpdesk credential), so rows still group by thread and
an operator can follow a row to the log lines that name its ticket. Other platforms' keys are written as stored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from bridge import messages
from bridge.classify.model import Sentiment
from bridge.figbuild import UNCLASSIFIED
from bridge.figmodel import EpisodeRow, Figures
from bridge.figures import bucket

COLUMNS = (
    "thread_key", "channel", "platform", "started_at", "date", "continued", "messages", "needs_answer",
    "answered_by", "first_response_s", "first_response_business_s", "first_response_bucket", "acknowledged",
    "handed_off", "responses", "response_sum_s", "response_business_sum_s", "resolution_s", "failed_replies",
    "failure_reasons", "ingest_lag_sum_s",
)  # fmt: skip
SENTIMENT_PREFIX = "sentiment_"
REASON_SEPARATOR = " | "
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs such a cell as a formula (OWASP CSV injection)


def sentiments(rows: Iterable[EpisodeRow]) -> list[str]:
    """The sentiment columns: the classifier's labels and "unclassified", then any other label found."""
    known = [s.value for s in Sentiment] + [UNCLASSIFIED]
    return known + sorted({label for r in rows for label in r.sentiment} - set(known))


def write(figures: Figures, path: Path) -> Path:
    labels = sentiments(figures.episodes)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow([*COLUMNS, *(SENTIMENT_PREFIX + label for label in labels)])
        for row in figures.episodes:
            out.writerow(_cells(row, figures, labels))
    return path


def _cells(r: EpisodeRow, figures: Figures, labels: Sequence[str]) -> list[str]:
    started = datetime.fromtimestamp(r.started_at, figures.period.tz).isoformat()
    frt, thread = r.first_response, messages.key_shown(r.thread_key)  # the customer by pseudonym, as logged
    return [
        _text(thread), _text(r.channel), _text(r.platform), started, r.day.isoformat(), _flag(r.continued),
        str(r.messages), _flag(r.needs_answer), _text(r.answered_by), _seconds(frt),
        _seconds(r.first_response_business), "" if frt is None else bucket(frt), _flag(r.acknowledged),
        _flag(r.handed_off), str(r.responses), repr(r.response_sum), repr(r.response_business_sum),
        _seconds(r.resolution), str(len(r.failures)), _text(REASON_SEPARATOR.join(r.failures)),
        repr(r.ingest_lag_sum), *(str(r.sentiment.get(s, 0)) for s in labels),
    ]  # fmt: skip


def _text(value: str) -> str:
    """A text cell (an own-channel thread key comes from the caller, a failure reason is a vendor's words) that
    a spreadsheet shows as text: one starting a formula gets a leading ``'``. Number cells are never prefixed."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def _seconds(value: float | None) -> str:
    return "" if value is None else repr(value)
