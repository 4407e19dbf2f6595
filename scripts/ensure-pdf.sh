#!/usr/bin/env bash
# The yearly bulletin's PDF is made by WeasyPrint, which needs Pango from the system, and
# Chinese needs a CJK font; install Debian's packages when missing.
set -euo pipefail
exec bash "$(dirname "$0")/apt-ensure.sh" libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk
