#!/usr/bin/env bash
# Debian packages the test suite drives for real: nginx (nginx -t on rendered configs),
# openssh-server (sshd as the remote Docker hosts) and pebble (Let's Encrypt's test ACME CA,
# the CA of the HTTPS tests). Installs only what is missing.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v pebble >/dev/null 2>&1 || need+=(pebble)
if [ ${#need[@]} -eq 0 ]; then
  echo "test dependencies present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "installing ${need[*]} needs root (apt-get); run as root or install them yourself" >&2
  exit 1
fi
echo "installing ${need[*]} from Debian"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
