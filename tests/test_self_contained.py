"""The repository runs its tests wherever it is cloned: nothing is read from outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"""parents\[[2-9]\]|ROOT\.parent\b|["']\.\./|["']shared["']\s*/""")


def test_no_test_bench_or_simulator_reads_a_folder_outside_the_repository() -> None:
    sources = [p for folder in ("tests", "bench", "sandbox", "scripts") for p in (ROOT / folder).rglob("*.py")]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_every_fixture_the_tests_name_is_in_the_repository() -> None:
    named = {
        m
        for p in (ROOT / "tests").glob("*.py")
        for m in re.findall(
            r'"((?:meta|x|zendesk|freshdesk|salesforce|telegram|specs)/[\w./-]+\.(?:json|txt|xml|yml))"',
            p.read_text(encoding="utf-8"),
        )
    }
    assert named, "the pattern no longer finds fixture names"
    assert sorted(n for n in named if not (ROOT / "tests" / "fixtures" / n).is_file()) == []
