#!/usr/bin/env bash
# Browser tests drive Debian's Chromium; install it (and a CJK font, so Chinese pages render
# in screenshots) when missing. Needs root or sudo.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && [ -d /usr/share/fonts/opentype/noto ]; then
  exit 0
fi
echo "The browser tests need Debian's chromium and fonts-noto-cjk."
exec bash "$(dirname "$0")/apt-ensure.sh" chromium fonts-noto-cjk
