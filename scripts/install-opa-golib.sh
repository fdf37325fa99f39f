#!/usr/bin/env bash
# OPA's own Go evaluator for the test suite: the opa-golib-python-bindings wheel (OPA's
# v1/rego built as a c-shared library, used through ctypes as `opa_bindings`).
#
# Its metadata asks for Python >= 3.14, but the wheel is py3-none-manylinux and works on the
# venv's 3.11, so it is downloaded for 3.14 into a cache under the venv and installed with
# --no-deps --ignore-requires-python. Idempotent: nothing happens when `import opa_bindings`
# already works; a wheel already in the cache is installed without asking the registry.
# tests/opa_standin/build.py copies the cached wheel into the stand-in image.
#
#   VENV=.venv OPA_GOLIB_VERSION=0.4.4 bash scripts/install-opa-golib.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
VERSION="${OPA_GOLIB_VERSION:-0.4.4}"
PY="$VENV/bin/python"
CACHE="$VENV/cache/opa-golib"
# sha256 of the pinned version's wheels (an alpha package installed past pip's Python check:
# the file must be the one pinned here). Another OPA_GOLIB_VERSION is installed unchecked.
KNOWN_SHA256="
d411c901e14b8c7c3023e23e4a944f4cf429c1d31baf80e959e57d11efbfd24a  opa_golib_python_bindings-0.4.4-py3-none-manylinux_2_34_x86_64.whl
2becc213edd9bec00e366162889effd29becf0bf0adacfa9c2b43f4b9368f5f2  opa_golib_python_bindings-0.4.4-py3-none-manylinux_2_34_aarch64.whl
"

if [ ! -x "$PY" ]; then
  echo "install-opa-golib: no virtualenv at $VENV (run \`make setup\` first)" >&2
  exit 1
fi
if "$PY" -c 'import opa_bindings' >/dev/null 2>&1; then
  echo "opa-golib-python-bindings present"
  exit 0
fi

case "$(uname -m)" in
  x86_64 | amd64) ARCH=x86_64 ;;
  aarch64 | arm64) ARCH=aarch64 ;;
  *) echo "install-opa-golib: no opa-golib-python-bindings wheel for $(uname -m)" >&2; exit 1 ;;
esac

mkdir -p "$CACHE"
find_wheel() {
  ls "$CACHE"/opa_golib_python_bindings-"$VERSION"-py3-none-*_"$ARCH".whl 2>/dev/null | head -n 1 || true
}
download() {
  echo "downloading opa-golib-python-bindings $VERSION"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.14 \
    --dest "$CACHE" "opa-golib-python-bindings==$VERSION"
}
# Prints nothing when the wheel is the reviewed one (or its version has no known hash), else why not.
hash_problem() {
  local name expected actual
  name="$(basename "$1")"
  expected="$(printf '%s\n' "$KNOWN_SHA256" | awk -v n="$name" '$2 == n {print $1}')"
  if [ -z "$expected" ]; then
    [ "$VERSION" != "0.4.4" ] || echo "no known sha256 for $name"
    return 0
  fi
  actual="$(sha256sum "$1" | awk '{print $1}')"
  [ "$actual" = "$expected" ] || echo "$name has sha256 $actual, expected $expected"
}

wheel="$(find_wheel)"
if [ -n "$wheel" ] && [ -n "$(hash_problem "$wheel")" ]; then
  echo "install-opa-golib: cached $(hash_problem "$wheel"); downloading it again" >&2
  rm -f "$wheel"
  wheel=""
fi
if [ -z "$wheel" ]; then
  download
  wheel="$(find_wheel)"
fi
if [ -z "$wheel" ]; then
  echo "install-opa-golib: no opa-golib-python-bindings $VERSION wheel for $ARCH in $CACHE" >&2
  exit 1
fi
problem="$(hash_problem "$wheel")"
if [ -n "$problem" ]; then
  rm -f "$wheel"
  echo "install-opa-golib: $problem; removed it from the cache" >&2
  exit 1
fi
echo "installing $(basename "$wheel")"
"$PY" -m pip install -q --no-deps --ignore-requires-python "$wheel"
"$PY" -c 'from opa_bindings import OpaEngine; OpaEngine().close()'
echo "opa-golib-python-bindings installed"
