#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (Playwright drives /usr/bin/chromium; it downloads no
# browser of its own). Installed with apt-get when missing: as root (CI on this machine) or, for a CI runner
# that is not root but has passwordless sudo (GitHub's `runner`), through `sudo -n`; otherwise says how.
# Measured on Debian 12 (bookworm): 2 min 24 s, 114 packages, with the package lists already fresh.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    # -n: fail rather than wait for a password nobody will type. sudo resets the environment, hence `env`.
    as_root() { sudo -n env DEBIAN_FRONTEND=noninteractive "$@"; }
else
    echo "Chromium is missing ($CHROMIUM): run 'sudo apt-get install chromium' for the dashboard's browser test" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "Chromium is missing ($CHROMIUM) and there is no apt-get: install Chromium for the dashboard's browser test" >&2
    exit 1
fi
echo "== installing chromium (the dashboard's browser test)"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version
