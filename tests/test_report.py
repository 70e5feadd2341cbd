"""``socialdesk report``: report.html (one offline file with inline SVG charts) and episodes.csv whose rows
recompute the figures; a bad option is one line naming it. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge import config as config_module
from bridge import figcsv, logs, messages, report
from bridge.events import AuthorKind
from bridge.figbuild import stats
from bridge.figmodel import Figures, Slice, month
from bridge.figquery import compute
from bridge.store import Store
from sandbox.stack import to_toml
from tests.conftest import raw_config
from tests.figfacts import any_store, store_facts
from tests.support import socialdesk
from tests.test_figbuild import BERLIN, DAY, HOUR, MIN, T0, at, msg, reply

__all__ = ["any_store"]
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def facts() -> tuple[list[Any], list[Any]]:
    """Thirty days of a Facebook page and an X account: answered fast or slow, by bots, failing, continuing."""
    messages, replies = [], []
    for i in range(30):
        key, start = f"fb{i}", T0 + i * DAY - DAY
        channel = "acme-facebook" if i % 3 else "acme-x"
        mood = ("negative", "positive", None)[i % 3]
        messages += [msg(start, thread=key, channel=channel, opens=True, sentiment=mood,
                         no_answer=i % 7 == 0, solved=start + (i + 1) * HOUR, lag=i),
                     msg(start + (i + 1) * MIN, thread=key, channel=channel, lag=2 * i)]  # fmt: skip
        kind = AuthorKind.BOT if i % 5 == 0 else AuthorKind.HUMAN
        if i % 4:
            replies.append(reply(start + i * 7 * MIN, start + i * 7 * MIN + 30, thread=key, kind=kind))
        if i % 5 == 0 and i % 10:
            replies.append(reply(start + 3 * HOUR, start + 3 * HOUR + 5, thread=key))  # handed off
        if i % 6 == 0:
            replies.append(reply(start + MIN, None, thread=key, status="failed", error=f"refused {i % 2}"))
    messages.append(msg(at(2026, 10, 31, 23, 50), thread="oct", opens=True))  # 00:50 in Berlin: November
    messages.append(msg(at(2026, 11, 1, 0, 5), thread="oct"))
    return messages, replies


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:  # as the csv module asks: a cell's own \r kept
        return list(csv.DictReader(f))


def recomputed(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The episode and volume figures, from the CSV alone."""
    eps = [r for r in rows if r["continued"] == "no"]
    needing = [r for r in eps if r["needs_answer"] == "yes"]

    def seconds(column: str) -> Any:
        return stats(float(r[column]) for r in eps if r[column])

    return {
        "messages": sum(int(r["messages"]) for r in rows), "episodes": len(eps), "needing_answer": len(needing),
        "answered": sum(r["answered_by"] == "person" for r in needing),
        "first_response": seconds("first_response_s"), "first_response_business": seconds("first_response_business_s"),
        "resolution": seconds("resolution_s"), "acknowledged": sum(r["acknowledged"] == "yes" for r in eps),
        "bot_only": sum(r["answered_by"] == "bot" for r in eps),
        "handed_off": sum(r["handed_off"] == "yes" for r in eps),
        "sentiment": {k.removeprefix("sentiment_"): n for k in rows[0] if k.startswith("sentiment_")
                      if (n := sum(int(r[k]) for r in rows))},
        "failures": dict(Counter(f for r in rows if r["failure_reasons"] for f in r["failure_reasons"].split(" | "))),
        "responses": sum(int(r["responses"]) for r in rows),
        "response_mean": sum(float(r["response_sum_s"]) for r in rows) / sum(int(r["responses"]) for r in rows),
    }  # fmt: skip


def shown(s: Slice) -> dict[str, Any]:
    """The same figures as the report computed them."""
    return {
        "messages": s.messages, "episodes": s.episodes, "needing_answer": s.needing_answer, "answered": s.answered,
        "first_response": s.first_response, "first_response_business": s.first_response_business,
        "resolution": s.resolution, "acknowledged": s.acknowledged, "bot_only": s.bot_only,
        "handed_off": s.handed_off, "sentiment": s.sentiment, "failures": s.failures, "responses": s.response.count,
        "response_mean": pytest.approx(s.response.mean),
    }  # fmt: skip


def test_the_csv_adds_up_to_the_reports_figures(any_store: Store, tmp_path: Path) -> None:
    messages, replies = facts()
    store_facts(any_store, messages, replies)
    cfg = config_module.parse(raw_config(), env={})
    html_path, csv_path, json_path = report.monthly(
        cfg, any_store, month_text="2026-11", channel=None, tz_name="Europe/Berlin", out=tmp_path / "out", now=NOW
    )
    figures: Figures = compute(any_store, month("2026-11", BERLIN))
    rows = read_csv(csv_path)
    assert recomputed(rows) == shown(figures.total)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["total"] == json.loads(json.dumps(asdict(figures.total))) and data["badges"][0]["channel"]
    for name, part in figures.channels.items():
        assert recomputed([r for r in rows if r["channel"] == name]) == shown(part)
    total = figures.total
    assert (total.episodes, total.bot_only, total.handed_off) == (31, 1, 3) and total.failures
    assert [r["date"] for r in rows][:2] == ["2026-11-01", "2026-11-01"]  # the October-UTC thread is Berlin's 1st
    page = html_path.read_text(encoding="utf-8")
    assert (
        page.count("<svg") == 2
        and "<script" not in page
        and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "Europe/Berlin" in page and "date of the customer" in page and f"<td>{total.episodes}</td>" in page
    assert report.percent(total.response_rate) in page and report.duration(total.first_response.median) in page


def test_a_whatsapp_customers_number_is_in_no_file_of_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report is passed on (a team lead mails it); a WhatsApp thread key, whatsapp:<number id>:chat:<wa_id>,
    ends in the customer's phone number. episodes.csv names the thread as the log lines do, by the customer's
    pseudonym keyed with the helpdesk credential (the CLI keys it as serve and worker do): one per customer, the
    same in every row of the thread. report.html and figures.json name no thread at all."""
    monkeypatch.setattr(messages, "_pseudonym_key", messages._pseudonym_key)  # put back after the test
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db")
    raw["channels"].append({"name": "acme-whatsapp", "platform": "whatsapp", "account_id": "106540352242922",
                            "access_token": "t", "app_secret": "s", "verify_token": "v"})  # fmt: skip
    (tmp_path / "socialdesk.toml").write_text(to_toml(raw), encoding="utf-8")
    hank, sheena = (f"whatsapp:106540352242922:chat:{wa_id}" for wa_id in ("15551234567", "16505551234"))
    store_facts(Store.from_url(f"sqlite:///{tmp_path}/store.db"),
                [msg(T0, thread=hank, channel="acme-whatsapp", opens=True),
                 msg(T0 + DAY, thread=hank, channel="acme-whatsapp", opens=True),
                 msg(T0 + HOUR, thread=sheena, channel="acme-whatsapp", opens=True)],
                [reply(T0 + MIN, None, thread=hank, status="failed", error="window closed")])  # fmt: skip
    done = socialdesk("report", "--config", str(tmp_path / "socialdesk.toml"), "--month", "2026-11",
                      "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    texts = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir()}
    assert sorted(texts) == ["episodes.csv", "figures.json", "report.html"]
    assert [(name, n) for name, text in texts.items() for n in ("5551234567", "6505551234") if n in text] == []
    logs.use_pseudonyms(config_module.parse(raw, env={}))  # as the worker's and serve's log lines show them
    rows = read_csv(tmp_path / "out" / "episodes.csv")
    assert Counter(r["thread_key"] for r in rows) == {messages.key_shown(hank): 2, messages.key_shown(sheena): 1}
    assert [r["failed_replies"] for r in rows if r["thread_key"] == messages.key_shown(hank)] == ["1", "0"]


def test_the_help_names_every_file_the_report_writes() -> None:
    """`socialdesk report --help` named report.html and episodes.csv; the command writes figures.json too (the
    test above lists the folder)."""
    helped = " ".join(socialdesk("report", "--help").stdout.split())
    assert [name for name in ("report.html", "figures.json", "episodes.csv") if name not in helped] == []
    assert "folder for report.html, figures.json and episodes.csv" in helped


def test_a_text_cell_that_would_run_as_a_formula_is_quoted(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/store.db")
    keys = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain"]
    store_facts(store, [msg(T0 + i * DAY, thread=k, opens=True) for i, k in enumerate(keys)],
                [reply(T0 + MIN, None, thread=keys[0], status="failed", error="=cmd /C calc!A0")])  # fmt: skip
    figures = compute(store, month("2026-11", BERLIN))
    rows = read_csv(figcsv.write(figures, tmp_path / "episodes.csv"))
    assert [r["thread_key"] for r in rows] == ["'" + k for k in keys[:-1]] + ["plain"]
    assert rows[0]["failure_reasons"] == "'=cmd /C calc!A0" and rows[0]["failed_replies"] == "1"
    assert [r["messages"] for r in rows] == ["1"] * len(keys) and figures.total.episodes == len(keys)


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [("--month", "2026-13", "--month: '2026-13' is not a month"), ("--month", "9999-12", "--month: '9999-12' reaches"),
     ("--tz", "Mars/Base", "--tz: 'Mars/Base'"),
     ("--channel", "nope", "--channel: 'nope' is not a configured channel")],
)  # fmt: skip
def test_a_bad_option_is_one_line_naming_it(tmp_path: Path, option: str, value: str, named: str) -> None:
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=f"sqlite:///{tmp_path}/store.db")), encoding="utf-8")
    args = {"--month": "2026-11", "--tz": "UTC", "--channel": "acme-facebook", option: value}
    done = socialdesk("report", "--config", str(path), "--out", str(tmp_path / "out"),
                      *(x for pair in args.items() for x in pair))  # fmt: skip
    assert done.returncode == 1 and named in done.stderr and len(done.stderr.strip().splitlines()) == 1
    good = {**args, option: {"--month": "2026-11", "--tz": "Europe/Berlin", "--channel": "acme-facebook"}[option]}
    ok = socialdesk("report", "--config", str(path), "--out", str(tmp_path / "out"),
                    *(x for pair in good.items() for x in pair))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["episodes.csv", "figures.json", "report.html"]


def test_durations_read_as_people_say_them() -> None:
    assert [report.duration(s) for s in (None, 45, 750, 3 * HOUR + 300, 2 * DAY + 4 * HOUR)] == [
        "–", "45s", "12m 30s", "3h 05m", "2d 04h"
    ]  # fmt: skip


def test_an_out_folder_that_cannot_be_made_is_one_line_naming_the_option(tmp_path: Path) -> None:
    """Before: 'Error: NotADirectoryError: [Errno 20] Not a directory: ...'."""
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=f"sqlite:///{tmp_path}/store.db")), encoding="utf-8")
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "report"
    done = socialdesk("report", "--config", str(path), "--month", "2026-11", "--out", str(out))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"Error: --out {out}: cannot write the report there (Not a directory)"
