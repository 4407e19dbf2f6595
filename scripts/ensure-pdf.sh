#!/usr/bin/env bash
# The yearly bulletin's PDF is made by WeasyPrint, which needs Pango from the system, and
# Chinese needs a CJK font; install Debian's packages when missing. Needs root or sudo.
set -euo pipefail
PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "the PDF needs ${missing[*]}: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "Installing ${missing[*]} for the bulletin's PDF…"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
