#!/usr/bin/env bash
# Tools the tests use beyond Python packages, each set up on its own (one that
# cannot be had never stops the others). Where one is missing its tests skip
# locally and fail under CI; this script never fails `make test` by itself.
# - promtool checks and unit-tests config/prometheus/alerts.yml. Copied into the
#   virtual environment's bin folder from Debian's `prometheus` package,
#   unpacked rather than installed: installing the package would also start a
#   Prometheus server on the machine.
# - Chromium (Debian's package, /usr/bin/chromium) drives the console's browser
#   tests through Playwright. Playwright's own browser download is never used:
#   only the package registries are reachable.
# - axe-core (the npm registry's tarball, version and checksum pinned here)
#   checks the console's pages for accessibility, run inside that browser.
# Usage: scripts/tools.sh [VENV]   (default .venv)
set -u

venv="${1:-.venv}"
bin="$venv/bin"

# axe-core: a new version needs its sha512 from the registry's `dist.integrity`.
AXE_VERSION=4.14.1
AXE_SHA512=FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==

is_root() { [ "$(id -u)" = 0 ]; }

install_promtool() {
  if command -v promtool >/dev/null 2>&1 || [ -x "$bin/promtool" ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "tools: promtool is missing and this is not a Debian-like system; install Prometheus' promtool" \
         "(the alert-rule tests skip, or fail under CI)" >&2
    return 0
  fi
  local work deb
  work="$(mktemp -d)"
  fetch() { (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1); }
  echo "tools: installing promtool into $bin (from Debian's prometheus package)"
  # The package lists may be missing or stale (a fresh container): refresh them when allowed to.
  if ! fetch && is_root; then
    apt-get update -qq >/dev/null 2>&1 && fetch
  fi
  deb="$(ls "$work"/prometheus_*.deb 2>/dev/null | head -n1)"
  if [ -z "$deb" ]; then
    echo "tools: could not download Debian's prometheus package; install promtool by hand" \
         "(the alert-rule tests skip, or fail under CI)" >&2
    rm -rf "$work"
    return 0
  fi
  dpkg-deb -x "$deb" "$work/root"
  mkdir -p "$bin"
  install -m 755 "$work/root/usr/bin/promtool" "$bin/promtool"
  "$bin/promtool" --version | head -n1
  rm -rf "$work"
}

install_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1 || ! is_root; then
    echo "tools: /usr/bin/chromium is missing; install Debian's chromium package as root" \
         "(apt-get install --no-install-recommends chromium); the browser tests skip, or fail under CI" >&2
    return 0
  fi
  echo "tools: installing Debian's chromium (for the console's browser tests)"
  local install="apt-get install -y -qq --no-install-recommends chromium fonts-liberation"
  # As for promtool: the lists may be missing or stale, and a failed install is retried after a refresh.
  if ! DEBIAN_FRONTEND=noninteractive $install >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1
    if ! DEBIAN_FRONTEND=noninteractive $install >/dev/null; then
      echo "tools: could not install Debian's chromium; the browser tests skip, or fail under CI" >&2
      return 0
    fi
  fi
  /usr/bin/chromium --version
}

install_axe() {
  local dest="$venv/share/axe-core"
  if [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$AXE_VERSION" ] && [ -s "$dest/axe.min.js" ]; then
    return 0
  fi
  echo "tools: fetching axe-core $AXE_VERSION into $dest (from the npm registry)"
  # The virtual environment's Python: curl may be absent on a fresh machine, Python never is here.
  if ! "$bin/python" - "$AXE_VERSION" "$AXE_SHA512" "$dest" <<'EOF'
import base64, hashlib, io, sys, tarfile, urllib.request
from pathlib import Path

version, sha512, dest = sys.argv[1], sys.argv[2], Path(sys.argv[3])
url = f"https://registry.npmjs.org/axe-core/-/axe-core-{version}.tgz"
try:
    with urllib.request.urlopen(url, timeout=60) as answer:
        tarball = answer.read()
except OSError as error:
    sys.exit(f"tools: could not download {url}: {error}")
got = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
if got != sha512:
    sys.exit(f"tools: axe-core {version} from {url} has sha512 {got}, not the pinned {sha512}; nothing kept")
with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
    script = archive.extractfile("package/axe.min.js").read()
dest.mkdir(parents=True, exist_ok=True)
(dest / "axe.min.js").write_bytes(script)
(dest / "VERSION").write_text(version)
EOF
  then
    echo "tools: axe-core is missing; the browser tests skip, or fail under CI" >&2
  fi
}

install_promtool
install_chromium
install_axe
exit 0
