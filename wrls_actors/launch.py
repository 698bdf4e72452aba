"""The ``wrls-actors`` command as a process starts it (``python -m wrls_actors`` too).

A process of this service imports a few hundred modules before it does
anything (SQLAlchemy, Dramatiq, pika, the jobs) and keeps them to its end.
Python's collector walked them again and again while they were being
imported: 40 ms of the 250 ms a worker took to load. So collection is off
until the service is loaded; then everything made so far is frozen
(``gc.freeze``), and the worker processes Dramatiq forks from this one never
walk it in their own collections either.

The youngest generation is then collected every ``YOUNG_COLLECTION``
allocations instead of Python's 700: a worker allocates a few hundred objects
for every message, most of them freed by their counts at once, and
collecting every few messages cost the workers 5 % of their CPU on no-op
fan-out children (bench/README.md).
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn

YOUNG_COLLECTION = 20_000


def run() -> NoReturn:
    gc.disable()
    from .cli import main

    sys.exit(main(loaded=_settle))


def _settle() -> None:
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION, older, oldest)
    gc.enable()
