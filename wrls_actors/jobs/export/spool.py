"""Each table's CSV, from ``COPY ... TO STDOUT`` compressed into an unnamed temporary file, one table ahead.

A tar member's size comes before its bytes, so a table is spooled to disk
first, never held in memory; it is compressed on its way there, as the rows
come (gzip_pieces.py), so gzip works while PostgreSQL does. One thread runs
the COPYs while the caller puts the table before into the tarball and
uploads it: at most two tables are on disk at once, and the files vanish when
closed (or when the process dies).
"""

from __future__ import annotations

import dataclasses
import io
import queue
import tarfile
import tempfile
import threading
from collections.abc import Generator
from pathlib import Path
from typing import IO

from .csv_rules import Column, build_copy, build_header
from .gzip_pieces import PieceWriter

_DONE = object()
# zlib is handed chunks this big (psycopg2 writes one row at a time) and lets go of the GIL while it compresses.
_CHUNK = 1 << 20


@dataclasses.dataclass
class Spooled:
    table: str
    file: IO[bytes]  # the compressed piece: the CSV, then the zeros filling its last tar block
    size: int  # bytes of CSV
    rows: int
    crc: int  # CRC-32 of the piece's bytes, uncompressed
    length: int  # the piece's bytes, uncompressed


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
        piece = PieceWriter(file)
        buffered = io.BufferedWriter(piece, _CHUNK)
        buffered.write(build_header(columns))
        with connection.cursor() as cursor:
            cursor.copy_expert(build_copy(schema, table, columns), buffered)
            rows = cursor.rowcount
        buffered.flush()
        size = piece.length
        # The member's last block is filled with zeros here, so the caller only puts a header before the piece.
        buffered.write(bytes(-size % tarfile.BLOCKSIZE))
        buffered.flush()
        piece.end()
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return Spooled(table, file, size, rows, piece.crc, piece.length)
