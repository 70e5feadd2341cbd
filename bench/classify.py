"""Sentiment, language and speed of the classifier on a labelled multilingual sample of social posts.

    .venv/bin/python -m bench.classify [DATA] [--split val|train] [--tune]

DATA is a folder with one sub-folder per language holding ``{split}_text.txt`` and ``{split}_labels.txt``
(0 negative, 1 neutral, 2 positive), as the XLM-T sentiment set is laid out; default ``$SOCIALDESK_SENTIMENT_DATA``.
The set is for research and is not in the repository (nothing here reads outside it, see
tests/test_self_contained.py): on this project's machines pass the shared fixtures' ``sentiment`` folder.
Without data the benchmark says so and exits 0. ``--tune`` searches, per language, the two score thresholds that give
the best macro-F1 with negative recall ≥ 0.70 (on the split given: tune on train, report on val).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import machine, percentile, status_kb, table, write_results

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


def tune(gold: Sequence[str], scores: Sequence[float]) -> tuple[float, float, dict[str, float]]:
    """The thresholds with the best macro-F1 among those meeting the negative-recall goal (else the best)."""
    grid = [round(-0.6 + 0.025 * i, 3) for i in range(57)]
    best: tuple[tuple[bool, float], float, float, dict[str, float]] | None = None
    for neg, pos in itertools.combinations(grid, 2):
        m = f1_scores(gold, [label(s, neg, pos) for s in scores])
        key = (m["recall_negative"] >= NEGATIVE_RECALL_GOAL, m["macro_f1"])
        if best is None or key > best[0]:
            best = (key, neg, pos, m)
    assert best is not None
    return best[1], best[2], best[3]


def run_language(classifier: Any, code: str, texts: list[str], gold: list[str], do_tune: bool) -> dict[str, Any]:
    results = []
    times = []
    for text in texts:
        start = time.perf_counter()
        results.append(classifier.classify(text))
        times.append(time.perf_counter() - start)
    row: dict[str, Any] = {"language": code, "n": len(texts)}
    row.update(f1_scores(gold, [r.sentiment.value for r in results]))
    row["language_id"] = sum(1 for r in results if r.language == code) / len(results)
    row["ms_mean"] = 1000 * sum(times) / len(times)
    row["ms_p99"] = 1000 * (percentile(times, 99) or 0.0)
    if do_tune:
        row["tuned"] = tune(gold, [r.score for r in results])
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=Path(DEFAULT_DATA) if DEFAULT_DATA else None)
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--tune", action="store_true", help="search the thresholds per language (use on train)")
    parser.add_argument("--out", default="classify", help="results/<OUT>.json")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.data.glob("*") if p.name in FOLDERS) if args.data and args.data.is_dir() else []
    if not folders:
        print(f"no labelled data in {args.data or 'DATA (not given)'}: skipped (see bench/README.md)")
        return 0
    rss_before = status_kb(os.getpid(), "VmRSS")
    from bridge.classify.default import LexiconClassifier

    start = time.perf_counter()
    classifier = LexiconClassifier()
    load_s = time.perf_counter() - start
    rows = [run_language(classifier, FOLDERS[f.name], *read_split(f, args.split), args.tune) for f in folders]
    report(rows, args, load_s, rss_before)
    return 0


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load_s: float, rss_before: int | None) -> None:
    headers = ["lang", "n", "macro-F1", "F1 neg", "F1 neu", "F1 pos", "recall neg", "lang id", "ms/text", "p99 ms"]
    body: list[list[Any]] = [
        [r["language"], r["n"], r["macro_f1"], r["f1_negative"], r["f1_neutral"], r["f1_positive"],
         r["recall_negative"], r["language_id"], r["ms_mean"], r["ms_p99"]]
        for r in rows
    ]  # fmt: skip
    mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("macro_f1", "recall_negative", "language_id", "ms_mean")}
    body.append(["mean", sum(r["n"] for r in rows), mean["macro_f1"], "", "", "", mean["recall_negative"],
                 mean["language_id"], mean["ms_mean"], ""])  # fmt: skip
    print(table(headers, [[round(c, 3) if isinstance(c, float) else c for c in row] for row in body]))
    rss = status_kb(os.getpid(), "VmHWM")
    print(f"split {args.split}; lists loaded in {load_s:.2f} s; peak RSS {(rss or 0) / 1024:.1f} MiB "
          f"(before import {(rss_before or 0) / 1024:.1f} MiB)")  # fmt: skip
    for r in rows:
        if "tuned" in r:
            neg, pos, m = r["tuned"]
            print(f"  {r['language']}: negative = {neg}, positive = {pos} -> macro-F1 {m['macro_f1']:.3f}, "
                  f"recall neg {m['recall_negative']:.3f}")  # fmt: skip
    write_results(args.out, {"machine": machine(), "split": args.split, "data": str(args.data), "rows": rows,
                             "mean": mean, "peak_rss_kib": rss, "load_s": load_s})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
