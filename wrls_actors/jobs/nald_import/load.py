"""Load NALD.zip's CSV files into a fresh ``import_temp`` schema with COPY.

Each file streams from the archive straight into COPY (memory stays flat,
nothing is unpacked to disk). While it flows, its records are counted on our
side, so the table's row count can be checked against the file afterwards.
A COPY error names the file and line, and ends the load: the caller never
swaps a partial schema in (the legacy ran psql without ON_ERROR_STOP and
swapped in whatever it got).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePath

import psycopg2
from sqlalchemy import Engine

from ...model.nald import BY_NAME, NALD_TABLES, SKIPPED_FILES
from .archive import BadExtract, InnerArchive, LimitedReader

logger = logging.getLogger(__name__)

TEMP_SCHEMA = "import_temp"
COPY_CHUNK = 1 << 20
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE = re.compile(r"line (\d+)")


@dataclasses.dataclass(frozen=True)
class LoadedTable:
    name: str
    file: str
    columns: tuple[str, ...]
    rows: int
    seconds: float


class CountingReader:
    """What COPY reads: the member's bytes, with the records counted as they pass.

    A newline ends a record unless it is inside double quotes; quotes are
    tracked across chunks (``""`` inside a quoted value toggles twice).
    """

    def __init__(self, source: LimitedReader) -> None:
        self.source = source
        self.newlines = 0
        self.in_quotes = False
        self.last = b""
        self.pending = b""

    def header(self) -> bytes:
        """The first line (read ahead and given back to COPY, which skips it itself)."""
        while b"\n" not in self.pending:
            chunk = self.source.read(COPY_CHUNK)
            if not chunk:
                break
            self.pending += chunk
        return self.pending.split(b"\n", 1)[0]

    def read(self, size: int = COPY_CHUNK) -> bytes:
        if self.pending:
            chunk, self.pending = self.pending, b""
        else:
            chunk = self.source.read(size)
        if chunk:
            self._count(chunk)
            self.last = chunk[-1:]
        return chunk

    def _count(self, chunk: bytes) -> None:
        if not self.in_quotes and b'"' not in chunk:
            self.newlines += chunk.count(b"\n")
            return
        parts = chunk.split(b'"')
        self.newlines += sum(part.count(b"\n") for part in parts[1 if self.in_quotes else 0::2])
        if (len(parts) - 1) % 2:
            self.in_quotes = not self.in_quotes

    @property
    def records(self) -> int:
        """Lines of the file, header included (a last line without a newline counts)."""
        return self.newlines + (1 if self.last and self.last != b"\n" else 0)


def parse_header(file: str, raw: bytes) -> tuple[str, ...]:
    try:
        text = raw.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as e:
        raise BadExtract(f"{file} line 1: the header is not UTF-8 ({e})") from None
    columns = tuple(next(csv.reader(io.StringIO(text)), []))
    if not columns or columns == ("",):
        raise BadExtract(f"{file} line 1: no header (the file is empty)")
    bad = [c for c in columns if not _NAME.match(c)]
    if bad:
        raise BadExtract(f"{file} line 1: not a column name: {', '.join(repr(c) for c in bad)}")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise BadExtract(f"{file} line 1: columns repeated: {', '.join(repeated)}")
    return columns


def tables_in(archive: InnerArchive) -> dict[str, zipfile.ZipInfo]:
    """Table name to member: every ``.txt`` file but the audit copies; refuses a missing required table."""
    tables = {}
    for name, member in archive.files().items():
        if name in SKIPPED_FILES or not name.lower().endswith(".txt"):
            continue
        table = name[:-4]
        if not _NAME.match(table):
            raise BadExtract(f"{archive.path.name}: {name!r} is not a table file name")
        tables[table] = member
    missing = [t.file_name for t in NALD_TABLES if t.name not in tables]
    if missing:
        raise BadExtract(f"{archive.path.name} lacks required tables: {', '.join(missing)}")
    return tables


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_error(file: str, error: psycopg2.Error) -> BadExtract:
    diag = error.diag
    line = _LINE.search(diag.context or "")
    where = f"{file} line {line.group(1)}" if line else file
    return BadExtract(f"{where}: {diag.message_primary or str(error).strip()}")


def load_table(engine: Engine, archive: InnerArchive, table: str, member: zipfile.ZipInfo) -> LoadedTable:
    """Create ``import_temp.<table>`` from the file's header and COPY the file in, in one transaction."""
    started = time.monotonic()
    file = PurePath(member.filename).name
    with archive.open(member) as source:
        reader = CountingReader(source)
        columns = parse_header(file, reader.header())
        required = BY_NAME.get(table)
        if required is not None:
            missing = [c for c in required.columns if c not in columns]
            if missing:
                raise BadExtract(f"{file} line 1: the header lacks columns {', '.join(missing)}")
        qualified = f"{TEMP_SCHEMA}.{_quote(table)}"
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"CREATE TABLE {qualified} ({', '.join(f'{_quote(c)} varchar' for c in columns)})")
            try:
                # FREEZE: the table is new in this transaction, so rows need no later visibility work.
                cursor.copy_expert(f"COPY {qualified} FROM STDIN WITH (FORMAT csv, HEADER true, FREEZE true)",
                                   reader, size=COPY_CHUNK)
            except psycopg2.Error as e:
                raw.rollback()
                raise _copy_error(file, e) from None
            loaded = cursor.rowcount
            raw.commit()
        finally:
            raw.close()
    expected = max(reader.records - 1, 0)
    if loaded != expected:
        raise BadExtract(f"{file}: {expected:,} data rows in the file but {loaded:,} loaded")
    return LoadedTable(table, file, columns, loaded, time.monotonic() - started)


def create_temp_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {TEMP_SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {TEMP_SCHEMA}")


def load_all(engine: Engine, archive: InnerArchive, threads: int = 2) -> list[LoadedTable]:
    """Load every table, biggest first, ``threads`` at a time; the first error stops the rest."""
    tables = tables_in(archive)
    create_temp_schema(engine)
    order = sorted(tables.items(), key=lambda item: -item[1].file_size)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nald-load") as pool:
        futures = [pool.submit(load_table, engine, archive, table, member) for table, member in order]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def index_and_analyse(engine: Engine, tables: list[LoadedTable], threads: int = 2) -> None:
    """The key columns' indexes (model/nald.py), then fresh statistics for the planner."""

    def build(table: LoadedTable) -> None:
        nald = BY_NAME.get(table.name)
        with engine.begin() as connection:
            for n, columns in enumerate(nald.indexes if nald else ()):
                connection.exec_driver_sql(
                    f"CREATE INDEX {_quote(f'{table.name}_{n}'.lower())} ON {TEMP_SCHEMA}.{_quote(table.name)} "
                    f"({', '.join(_quote(c) for c in columns)})")
            connection.exec_driver_sql(f"ANALYZE {TEMP_SCHEMA}.{_quote(table.name)}")

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nald-index") as pool:
        list(pool.map(build, sorted(tables, key=lambda t: -t.rows)))


def verify(engine: Engine, tables: list[LoadedTable]) -> None:
    """Every table present with the file's row count, read back from the database."""
    with engine.connect() as connection:
        for table in tables:
            count = connection.exec_driver_sql(
                f"SELECT count(*) FROM {TEMP_SCHEMA}.{_quote(table.name)}").scalar_one()
            if count != table.rows:
                raise BadExtract(f"{table.file}: {table.rows:,} data rows in the file but {count:,} in "
                                 f"{TEMP_SCHEMA}.{table.name}")
