#!/usr/bin/env bash
# Set up and run the whole test suite: lint, types, tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# A venv whose creation was interrupted has a python but no pip: made again rather than failing for ever.
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    rm -rf .venv
    "$PYTHON" -m venv .venv
fi
# The versions tested, not whatever is newest today: constraints.txt (refreshed by scripts/lock.sh).
.venv/bin/python -m pip install --quiet --upgrade pip -c constraints.txt
.venv/bin/python -m pip install --quiet -e '.[dev]' -c constraints.txt

# Scale-mode tests need PostgreSQL and Redis on 127.0.0.1. In CI they must run, so start them if
# they are installed but down; elsewhere those tests skip with a message saying what to start.
bash scripts/services.sh || { [ "${CI:-}" != "true" ] || exit 1; }

# The dashboard's browser test (tests/test_dashboard_browser.py) drives Debian's Chromium: installed here when
# missing (as root, as CI runs); in CI that test fails without it, elsewhere it skips saying so.
bash scripts/browser.sh || { [ "${CI:-}" != "true" ] || exit 1; }

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
