#!/usr/bin/env bash
# Make sure a Chromium for the Playwright browser tests is installed.
# Installs Debian's `chromium` package when it is missing and we are root on Debian.
# Elsewhere it says loudly that browser tests will be skipped (never under CI: there they fail).
set -euo pipefail
browser="${IG_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$browser" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests (apt-get) …"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  [ -x "$browser" ] && exit 0
fi
banner="################################################################################"
echo "$banner" >&2
echo "# NO CHROMIUM at $browser: the browser tests will be SKIPPED." >&2
echo "# Install Debian's 'chromium' package (as root: apt-get install chromium)," >&2
echo "# or point IG_CHROMIUM at a Chromium binary." >&2
echo "$banner" >&2
if [ -n "${CI:-}" ]; then
  echo "CI is set: a missing browser is an error here." >&2
  exit 1
fi
