#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (Playwright drives /usr/bin/chromium; it downloads no
# browser of its own). Installed with apt-get when missing and this runs as root (CI); otherwise says how.
# Measured on Debian 12 (bookworm): 2 min 24 s, 114 packages, with the package lists already fresh.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "Chromium is missing ($CHROMIUM): run 'sudo apt-get install chromium' for the dashboard's browser test" >&2
    exit 1
fi
echo "== installing chromium (the dashboard's browser test)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version
