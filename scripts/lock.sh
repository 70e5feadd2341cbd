#!/usr/bin/env bash
# Rebuild constraints.txt, the exact versions CI installs (scripts/test.sh: pip install -c constraints.txt):
# what a fresh venv resolves for '.[dev]' today. Run it after changing a dependency in pyproject.toml (or
# to take newer releases), then run the tests and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[dev]'
{
    echo "# The versions CI installs (bash scripts/test.sh). Made by bash scripts/lock.sh from pyproject.toml: do not edit."
    # --all keeps pip itself; setuptools and wheel are left out: the build backend comes from
    # [build-system] (a venv's own copy is not used to build, and a pin of it would clash there).
    "$venv/bin/python" -m pip freeze --all --exclude-editable | grep -v -E '^(setuptools|wheel)=='
} >constraints.txt.new
mv constraints.txt.new constraints.txt
echo "constraints.txt: $(grep -c '==' constraints.txt) pins"
