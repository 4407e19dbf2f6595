#!/usr/bin/env bash
# Browser tests drive Debian's Chromium; install it (and a CJK font, so Chinese pages render
# in screenshots) when missing. Needs root or sudo.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium is missing and cannot be installed without root: apt-get install chromium" >&2
    exit 1
  fi
fi
echo "Installing Debian's chromium and fonts-noto-cjk for the browser tests…"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
