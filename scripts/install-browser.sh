#!/usr/bin/env bash
# Debian's Chromium and its WebDriver, for the dashboard's browser test
# (tests/integration/test_dashboard.py drives /usr/bin/chromium through /usr/bin/chromedriver).
# Idempotent: installs only what is missing; installing needs root (apt-get).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
  echo "browser present: $(/usr/bin/chromium --version 2>/dev/null || echo chromium), $(/usr/bin/chromedriver --version 2>/dev/null | head -n1)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "installing ${need[*]} needs root (apt-get); run as root or install them yourself" >&2
  exit 1
fi
echo "installing ${need[*]} from Debian"
apt-get update -qq
# chromium-driver must match chromium's exact version: install both together.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromedriver --version
