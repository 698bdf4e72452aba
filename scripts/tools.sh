#!/usr/bin/env bash
# Tools the tests use beyond Python packages: promtool (checks and unit-tests
# config/prometheus/alerts.yml). Installed into the virtual environment's bin
# folder from Debian's `prometheus` package, unpacked rather than installed:
# installing the package would also start a Prometheus server on the machine.
# Where that is not possible the test skips locally and fails under CI.
# Usage: scripts/tools.sh [VENV]   (default .venv)
set -u

bin="${1:-.venv}/bin"

if command -v promtool >/dev/null 2>&1 || [ -x "$bin/promtool" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "tools: promtool is missing and this is not a Debian-like system; install Prometheus' promtool" \
       "(the alert-rule tests skip, or fail under CI)" >&2
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch() { (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1); }
echo "tools: installing promtool into $bin (from Debian's prometheus package)"
# The package lists may be missing or stale (a fresh container): refresh them when allowed to.
if ! fetch && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null 2>&1 && fetch
fi
deb="$(ls "$work"/prometheus_*.deb 2>/dev/null | head -n1)"
if [ -z "$deb" ]; then
  echo "tools: could not download Debian's prometheus package; install promtool by hand" \
       "(the alert-rule tests skip, or fail under CI)" >&2
  exit 0
fi
dpkg-deb -x "$deb" "$work/root"
mkdir -p "$bin"
install -m 755 "$work/root/usr/bin/promtool" "$bin/promtool"
"$bin/promtool" --version | head -n1
