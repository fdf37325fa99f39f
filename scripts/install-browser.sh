#!/usr/bin/env bash
# Debian's Chromium and its WebDriver, for the dashboard's browser test
# (tests/integration/test_dashboard.py drives /usr/bin/chromium through /usr/bin/chromedriver),
# and NSS's certutil (libnss3-tools), with which the HTTPS tests make Chromium trust a test CA.
# Idempotent: installs only what is missing; installing needs root (apt-get).
set -euo pipefail
need=()
# chromium-driver must match chromium's exact version: either missing installs both together.
{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || need+=(chromium chromium-driver)
[ -x /usr/bin/certutil ] || need+=(libnss3-tools)
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
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
/usr/bin/chromedriver --version
