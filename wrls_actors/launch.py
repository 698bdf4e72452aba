"""The ``wrls-actors`` command as a process starts it (``python -m wrls_actors`` too).

A process of this service imports a few hundred modules before it does
anything (SQLAlchemy, Dramatiq, pika, the jobs) and keeps them to its end.
Python's collector walked them again and again while they were being
imported: 40 ms of the 250 ms a worker took to load. So collection is off
until the service is loaded; then everything made so far is frozen
(``gc.freeze``), and the worker processes Dramatiq forks from this one never
walk it in their own collections either.
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn


def run() -> NoReturn:
    gc.disable()
    from .cli import main

    sys.exit(main(loaded=_settle))


def _settle() -> None:
    gc.freeze()
    gc.enable()
