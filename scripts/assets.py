#!/usr/bin/env python3
"""Fetches the console's pinned third-party browser assets from the npm registry, checked against their hashes.

    python scripts/assets.py            # into wrls_actors/runtime/console/static/vendor/

The files are not in git (they are other projects' code): `make run`, `make tools`
and the Dockerfile fetch them. A file whose stamp (`<file>.integrity`) records
the pinned hash is kept, so a second run does no network. Without them the
console still works: every page is readable and every form posts without
JavaScript; a running run's page reloads itself instead of refreshing in part,
and the API logs a warning at start.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "wrls_actors" / "runtime" / "console" / "static" / "vendor"

# name in the package's tarball -> (where it goes, tarball URL, the registry's sha512 integrity of the tarball)
ASSETS = {
    "package/dist/htmx.min.js": (
        "htmx.min.js",
        "https://registry.npmjs.org/htmx.org/-/htmx.org-2.0.11.tgz",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
    ),
}


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(member: str, target: str, url: str, integrity: str) -> None:
    path = VENDOR / target
    stamp = path.with_suffix(path.suffix + ".integrity")
    if path.exists() and stamp.exists() and stamp.read_text().strip() == integrity:
        return
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - a pinned https URL
        data = response.read()
    if _integrity(data) != integrity:
        raise SystemExit(f"assets: {url} does not match its pinned hash; not installed")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        extracted = archive.extractfile(member)
        if extracted is None:
            raise SystemExit(f"assets: {member} is not in {url}")
        content = extracted.read()
    VENDOR.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stamp.write_text(integrity + "\n")
    print(f"assets: {target} from {url}")


def main() -> None:
    try:
        for member, (target, url, integrity) in ASSETS.items():
            fetch(member, target, url, integrity)
    except OSError as e:
        print(
            f"assets: could not fetch the console's assets ({e}); the console works without live refresh",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
