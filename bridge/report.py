"""``socialdesk report``: one month's service figures as ``report.html`` (one file, inline SVG charts, readable
offline), ``episodes.csv`` (one row per episode, :mod:`bridge.figcsv`) and ``figures.json`` in a folder.

Every view states the period, its time zone and the attribution rule (by the date of the customer's message);
no customer's words appear, only counts and times.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from bridge import badge, figcsv, figjson, messages, svgchart
from bridge.config import Config
from bridge.figmodel import Badge, Figures, PeriodError, Slice, Stats, month, timezone
from bridge.figquery import calendars_for, compute
from bridge.store import Store

HTML_NAME, CSV_NAME, JSON_NAME = "report.html", "episodes.csv", "figures.json"
STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
         ".note{color:#555;font-size:90%}.warn{color:#8a4b00}")  # fmt: skip


class OptionError(ValueError):
    """A bad command-line value: ``option`` names it, the message says what is accepted."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def monthly(
    config: Config, store: Store, *, month_text: str, channel: str | None, tz_name: str, out: Path, now: datetime
) -> list[Path]:
    """The report of one month (in ``tz_name``) for one channel or all; the badge estimate is for the 7 days
    before the month's end (or now, for the current month)."""
    try:
        tz = timezone(tz_name)
    except PeriodError as e:
        raise OptionError("--tz", str(e)) from None
    try:
        period = month(month_text, tz)
    except PeriodError as e:
        raise OptionError("--month", str(e)) from None
    names = [c.name for c in config.channels]
    if channel is not None and channel not in names:
        raise OptionError("--channel", messages.unknown_channel(channel, names))
    figures = compute(store, period, channel, calendars_for(config, store))
    pages = [(c.name, c.platform) for c in config.channels if channel in (None, c.name)]
    estimates = badge.badges(store, pages, min(now.timestamp(), period.until))
    return write(figures, out, estimates, now=now)


def write(figures: Figures, out: Path, badges: Sequence[Badge] = (), *, now: datetime | None = None) -> list[Path]:
    """Write the page, the CSV and the figures as JSON into ``out`` (made if missing); return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    page, data = out / HTML_NAME, out / JSON_NAME
    page.write_text(html(figures, badges, now or datetime.now(UTC)), encoding="utf-8")
    figures_json = {**figjson.as_dict(figures), "badges": figjson.badges(list(badges))}
    data.write_text(json.dumps(figures_json, indent=1), encoding="utf-8")
    return [page, figcsv.write(figures, out / CSV_NAME), data]


def duration(seconds: float | None) -> str:
    """A human reading of seconds: "45s", "12m 30s", "3h 05m", "2d 04h"; "–" for none."""
    if seconds is None:
        return "–"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f} %"


def html(figures: Figures, badges: Sequence[Badge], now: datetime) -> str:
    """The whole page."""
    title = f"Service figures, {figures.period.label()}" + (f", {figures.channel}" if figures.channel else "")
    slices = [figures.total, *figures.channels.values(), *figures.platforms.values()]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
        f'<p class="note">Attribution: {escape(figures.attribution)}. Business time per channel: '
        f"{escape(_calendars(figures))}. Generated {now.isoformat(timespec='seconds')}. One row per episode in "
        f"{CSV_NAME}.</p>"
        f"<h2>Summary</h2>{_summary(slices)}<h2>First response</h2>{_buckets(slices)}"
        f"<h2>Over time</h2>{_charts(figures)}<h2>Sentiment and failed replies</h2>{_mix(figures.total)}"
        f"{_badges(badges)}</body></html>"
    )


def _calendars(figures: Figures) -> str:
    return ", ".join(f"{c}: {label}" for c, label in figures.calendars.items()) or "none"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


SUMMARY = ("", "messages", "episodes", "needing an answer", "answered by a person", "response rate",
           "first response median", "p90", "business median", "business p90", "response mean", "response median",
           "resolution median", "acknowledged", "answered by bot", "bot only", "handed off", "ingest lag median",
           "ingest lag p90")  # fmt: skip


def _summary(slices: Sequence[Slice]) -> str:
    rows = [
        [s.name, str(s.messages), str(s.episodes), str(s.needing_answer), str(s.answered), percent(s.response_rate),
         duration(s.first_response.median), duration(s.first_response.p90),
         duration(s.first_response_business.median), duration(s.first_response_business.p90),
         duration(s.response.mean), duration(s.response.median), duration(s.resolution.median), str(s.acknowledged),
         str(s.bot_answered), str(s.bot_only), str(s.handed_off), _ms(s.ingest_lag.median), _ms(s.ingest_lag.p90)]
        for s in slices
    ]  # fmt: skip
    return _table(SUMMARY, rows)


def _ms(seconds: float | None) -> str:
    """Ingest lag: milliseconds while it is short, then as a duration."""
    if seconds is None or seconds >= 10:
        return duration(seconds)
    return f"{seconds * 1000:.0f} ms"


def _buckets(slices: Sequence[Slice]) -> str:
    names = list(slices[0].first_response.buckets)
    rows = [[f"{s.name} ({kind})", *(str(stats.buckets[n]) for n in names)]
            for s in slices for kind, stats in _kinds(s)]  # fmt: skip
    return _table(["episodes answered by a person", *names], rows)


def _kinds(s: Slice) -> list[tuple[str, Stats]]:
    return [("calendar", s.first_response), ("business", s.first_response_business)]


def _charts(figures: Figures) -> str:
    labels = [d.day.isoformat() for d in figures.days]
    volume = svgchart.bars("Volume per day", labels, {"messages": [d.messages for d in figures.days],
                                                      "episodes": [d.episodes for d in figures.days]})  # fmt: skip
    times = svgchart.lines(
        "First response per day (minutes)", labels,
        {"median": [d.median_first_response for d in figures.days],
         "p90": [d.p90_first_response for d in figures.days]},
    )  # fmt: skip
    return volume + times


def _mix(total: Slice) -> str:
    sentiment = _table(["sentiment", "messages"], [[k, str(v)] for k, v in sorted(total.sentiment.items())])
    failures = _table(["failed reply: reason", "replies"], [[k, str(v)] for k, v in total.failures.items()])
    return sentiment + failures


def _badges(badges: Sequence[Badge]) -> str:
    if not badges:
        return ""
    rows = [[b.channel, str(b.counted), percent(b.response_rate), duration(b.median_response),
             percent(b.response_rate_with_automated), duration(b.median_response_with_automated),
             "yes" if b.very_responsive else "no"] for b in badges]  # fmt: skip
    head = ["page", "messages counted", "response rate", "median", "rate with automated", "median with automated",
            "very responsive"]  # fmt: skip
    warning = f'<p class="warn">{escape(badges[0].warning)}</p>'
    return f"<h2>Facebook badge estimate (last 7 days)</h2>{_table(head, rows)}{warning}"
