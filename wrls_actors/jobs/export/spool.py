"""Each table's CSV, from ``COPY ... TO STDOUT`` into an unnamed temporary file, one table ahead of the tarball.

A tar member's size comes before its bytes, so a table is spooled to disk
first, never held in memory. One thread runs the COPYs while the caller
compresses and uploads the table before: at most two tables are on disk at
once, and the files vanish when closed (or when the process dies).
"""

from __future__ import annotations

import dataclasses
import queue
import tempfile
import threading
from collections.abc import Generator
from pathlib import Path
from typing import IO

from .csv_rules import Column, build_copy, build_header

_DONE = object()


@dataclasses.dataclass
class Spooled:
    table: str
    file: IO[bytes]
    size: int
    rows: int


def spool_tables(
    connection, schema: str, tables: dict[str, list[Column]], folder: Path | None
) -> Generator[Spooled, None, None]:
    """Yield each table spooled, in order; the caller closes each file. Errors of the COPY thread are raised here."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def copy_all() -> None:
        try:
            for table, columns in tables.items():
                if stop.is_set():
                    return
                spooled = _copy(connection, schema, table, columns, folder)
                ready.put(spooled)
                if stop.is_set():
                    spooled.file.close()
            ready.put(_DONE)
        except BaseException as e:  # handed to the caller, which raises it
            ready.put(e)

    thread = threading.Thread(target=copy_all, name=f"export-{schema}-copy", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        if thread.is_alive():
            connection.cancel()  # a COPY still running ends with an error the thread hands over, unread
        while thread.is_alive():
            try:
                item = ready.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, Spooled):
                item.file.close()
        thread.join()
        while not ready.empty():
            if isinstance(item := ready.get(), Spooled):
                item.file.close()


def _copy(connection, schema: str, table: str, columns: list[Column], folder: Path | None) -> Spooled:
    file = tempfile.TemporaryFile(dir=folder, prefix=f"export-{schema}-")
    try:
        file.write(build_header(columns))
        with connection.cursor() as cursor:
            cursor.copy_expert(build_copy(schema, table, columns), file)
            rows = cursor.rowcount
        size = file.tell()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return Spooled(table, file, size, rows)
