"""Each NALD import's private folder in ``WRLS_WORK_DIR``, and the sweep of folders left behind.

A run holds an exclusive ``flock`` on its folder for as long as it works in
it. The kernel releases the lock when the process ends, however it ends (a
SIGKILL or the time limit's kill gives no chance to clean up), so a
``nald-*`` folder whose lock can be taken belongs to no living run: the next
run removes it, whole extract and all.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "nald-"


def _lock(folder: Path, blocking: bool) -> int | None:
    """An open descriptor of the folder holding its exclusive lock, or None if a living process holds it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def sweep(parent: Path) -> list[Path]:
    """Remove the ``nald-*`` folders of ``parent`` that no living process holds; returns them."""
    removed = []
    for folder in sorted(parent.glob(f"{PREFIX}*")):
        if folder.is_symlink() or not folder.is_dir():
            continue
        try:
            fd = _lock(folder, blocking=False)
        except FileNotFoundError:  # removed meanwhile by its own run
            continue
        if fd is None:
            continue
        try:
            shutil.rmtree(folder)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def work_folder(parent: Path | None) -> Iterator[Path]:
    """A fresh ``nald-*`` folder in ``parent`` (default: the system's), locked while in use, removed after.

    Sweeps stale folders first. Two runs must not be between sweep and lock at
    once (the sweep could take a folder just made): the caller holds the load lock.
    """
    parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    for folder in sweep(parent):
        logger.warning("removed %s, left by an import that was killed", folder)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    fd = _lock(folder, blocking=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)  # type: ignore[arg-type]
