"""Sentiment, language and speed of the classifier on a labelled multilingual sample of social posts.

    .venv/bin/python -m bench.classify DATA [--split val|train] [--tune]

DATA is a folder with one sub-folder per language holding ``{split}_text.txt`` and ``{split}_labels.txt``
(0 negative, 1 neutral, 2 positive), as the XLM-T sentiment set is laid out; default ``$SOCIALDESK_SENTIMENT_DATA``.
The set is for research and is not in the repository (nothing here reads outside it, see
tests/test_self_contained.py): on this project's machines pass the shared fixtures' ``sentiment`` folder.
Without data the benchmark says so and exits 0.

``--tune`` searches, per language, the two score thresholds on the **train** split (never on the split
reported) for two operating points, and reports the split given (val) at both: ``f1``, the best macro-F1
(what ships in ``bridge/classify/data/<lang>.toml``), and ``recall``, the best macro-F1 with negative
recall ≥ 0.70 (the issue's other goal).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import PYTHON, background_busy, machine, percentile, status_kb, table, wait_quiet, write_results

DEFAULT_DATA = os.environ.get("SOCIALDESK_SENTIMENT_DATA", "")
FOLDERS = {
    "arabic": "ar", "english": "en", "french": "fr", "german": "de", "hindi": "hi", "italian": "it",
    "portuguese": "pt", "spanish": "es", "russian": "ru", "persian": "fa", "slovenian": "sl",
}  # fmt: skip
LABELS = ("negative", "neutral", "positive")
NEGATIVE_RECALL_GOAL = 0.70


def read_split(folder: Path, split: str) -> tuple[list[str], list[str]]:
    """The texts and their labels (as sentiment names) of one language's split."""
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [LABELS[int(x)] for x in (folder / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise SystemExit(f"{folder}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def f1_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Per-class F1 and recall, macro-F1, accuracy."""
    out: dict[str, float] = {}
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label != g)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label != p)
        precision = tp / (tp + fp) if tp + fp else 0.0
        out[f"recall_{label}"] = tp / (tp + fn) if tp + fn else 0.0
        r = out[f"recall_{label}"]
        out[f"f1_{label}"] = 2 * precision * r / (precision + r) if precision + r else 0.0
    out["macro_f1"] = sum(out[f"f1_{label}"] for label in LABELS) / len(LABELS)
    out["accuracy"] = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / len(gold)
    return out


def label(score: float, negative_below: float, positive_above: float) -> str:
    if score <= negative_below:
        return "negative"
    return "positive" if score >= positive_above else "neutral"


def tune(gold: Sequence[str], scores: Sequence[float], *, min_negative_recall: float) -> tuple[float, float]:
    """The thresholds with the best macro-F1 among those meeting ``min_negative_recall`` (else the best)."""
    grid = [round(-0.6 + 0.025 * i, 3) for i in range(57)]
    best: tuple[tuple[bool, float], float, float] | None = None
    for neg, pos in itertools.combinations(grid, 2):
        m = f1_scores(gold, [label(s, neg, pos) for s in scores])
        key = (m["recall_negative"] >= min_negative_recall, m["macro_f1"])
        if best is None or key > best[0]:
            best = (key, neg, pos)
    assert best is not None
    return best[1], best[2]


def tuned_rows(classifier: Any, folder: Path, split: str) -> dict[str, Any]:
    """Thresholds tuned on ``folder``'s train split, and ``split`` scored at each operating point."""
    train_texts, train_gold = read_split(folder, "train")
    train_scores = [classifier.classify(t).score for t in train_texts]
    texts, gold = read_split(folder, split)
    scores = [classifier.classify(t).score for t in texts]
    out: dict[str, Any] = {}
    for name, goal in (("f1", 0.0), ("recall", NEGATIVE_RECALL_GOAL)):
        neg, pos = tune(train_gold, train_scores, min_negative_recall=goal)
        out[name] = {"negative": neg, "positive": pos, **f1_scores(gold, [label(s, neg, pos) for s in scores])}
    return out


def run_language(classifier: Any, folder: Path, split: str, do_tune: bool) -> dict[str, Any]:
    code = FOLDERS[folder.name]
    texts, gold = read_split(folder, split)
    results = []
    times = []
    cpu_start = time.process_time()
    for text in texts:
        start = time.perf_counter()
        results.append(classifier.classify(text))
        times.append(time.perf_counter() - start)
    cpu_ms = 1000 * (time.process_time() - cpu_start) / len(texts)  # unlike wall time, not the scheduler's
    row: dict[str, Any] = {"language": code, "n": len(texts), "cpu_ms_mean": cpu_ms}
    row.update(f1_scores(gold, [r.sentiment.value for r in results]))
    row["language_id"] = sum(1 for r in results if r.language == code) / len(results)
    row["ms_mean"] = 1000 * sum(times) / len(times)
    row["ms_p50"] = 1000 * (percentile(times, 50) or 0.0)
    row["ms_p99"] = 1000 * (percentile(times, 99) or 0.0)
    if do_tune:
        row["tuned"] = tuned_rows(classifier, folder, split)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=Path(DEFAULT_DATA) if DEFAULT_DATA else None)
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--tune", action="store_true", help="search the thresholds per language (use on train)")
    parser.add_argument("--out", default="classify", help="results/<OUT>.json")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="S", help="wait up to S s for an idle machine")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.data.glob("*") if p.name in FOLDERS) if args.data and args.data.is_dir() else []
    if not folders:
        print(f"no labelled data in {args.data or 'DATA (not given)'}: skipped (see bench/README.md)")
        return 0
    wait_quiet(args.wait_quiet)
    rss_before = status_kb(os.getpid(), "VmRSS")
    from bridge.classify.default import LexiconClassifier

    start = time.perf_counter()
    classifier = LexiconClassifier()
    load_s = time.perf_counter() - start
    rows = [run_language(classifier, f, args.split, args.tune) for f in folders]
    report(rows, args, load_s, rss_before)
    return 0


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load_s: float, rss_before: int | None) -> None:
    headers = [
        "lang",
        "n",
        "macro-F1",
        "F1 neg",
        "F1 neu",
        "F1 pos",
        "recall neg",
        "lang id",
        "cpu ms",
        "ms/text",
        "p50 ms",
        "p99 ms",
    ]
    body: list[list[Any]] = [
        [r["language"], r["n"], r["macro_f1"], r["f1_negative"], r["f1_neutral"], r["f1_positive"],
         r["recall_negative"], r["language_id"], r["cpu_ms_mean"], r["ms_mean"], r["ms_p50"], r["ms_p99"]]
        for r in rows
    ]  # fmt: skip
    keys = ("macro_f1", "recall_negative", "language_id", "cpu_ms_mean", "ms_mean")
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in keys}
    body.append(["mean", sum(r["n"] for r in rows), mean["macro_f1"], "", "", "", mean["recall_negative"],
                 mean["language_id"], mean["cpu_ms_mean"], mean["ms_mean"], "", ""])  # fmt: skip
    print(table(headers, [[round(c, 3) if isinstance(c, float) else c for c in row] for row in body]))
    rss = status_kb(os.getpid(), "VmHWM")
    alone = classifier_rss()
    print(f"split {args.split}; lists loaded in {load_s:.2f} s; this process's peak RSS {(rss or 0) / 1024:.1f} MiB "
          f"(before import {(rss_before or 0) / 1024:.1f} MiB); a process with only the classifier: "
          f"{alone['classifier_kib'] / 1024:.1f} MiB, bare Python {alone['python_kib'] / 1024:.1f} MiB; "
          f"other work on the machine: {background_busy():.0%} busy")  # fmt: skip
    if any("tuned" in r for r in rows):
        print_tuned(rows, args.split)
    write_results(args.out, {"machine": machine(), "split": args.split, "data": str(args.data), "rows": rows,
                             "mean": mean, "peak_rss_kib": rss, "load_s": load_s, "alone": alone})  # fmt: skip


_ALONE = """
import sys
if sys.argv[1] == "classifier":
    from bridge.classify.default import LexiconClassifier
    c = LexiconClassifier()
    for text in ["not good, still waiting 😡", "merci beaucoup", "хорошо", "بسیار عالی", "هذا رائع"] * 200:
        c.classify(text)
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def classifier_rss() -> dict[str, int]:
    """Peak RSS (KiB, VmHWM: ru_maxrss would keep the parent's across exec) of a fresh Python that loads
    the classifier and classifies, and of a bare one."""

    def peak(what: str) -> int:
        return int(subprocess.run([PYTHON, "-c", _ALONE, what], capture_output=True, text=True, check=True).stdout)

    return {"classifier_kib": peak("classifier"), "python_kib": peak("python")}


def print_tuned(rows: list[dict[str, Any]], split: str) -> None:
    """Each operating point's thresholds (tuned on train) and its figures on ``split``."""
    for point in ("f1", "recall"):
        print(f"\nthresholds tuned on train for {point!r}, figures on {split}:")
        body = [[r["language"], r["tuned"][point]["negative"], r["tuned"][point]["positive"],
                 r["tuned"][point]["macro_f1"], r["tuned"][point]["recall_negative"]] for r in rows]  # fmt: skip
        n = len(body)
        body.append(["mean", "", "", sum(b[3] for b in body) / n, sum(b[4] for b in body) / n])
        print(table(["lang", "negative <=", "positive >=", "macro-F1", "recall neg"],
                    [[round(c, 3) if isinstance(c, float) else c for c in row] for row in body]))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
