#!/usr/bin/env bash
# Install Debian's headless-capable Chromium, which tests/pipeline/test_report.py uses to render
# report.html and take a screenshot (it skips when Chromium is absent). Idempotent: exits at once when
# /usr/bin/chromium is already there. Needs root (or sudo) and the Debian package mirrors.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to apt-get install chromium" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
