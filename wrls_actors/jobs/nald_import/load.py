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
# A real header is a few hundred bytes; a first line past this is not a header (a zip bomb of
# zeros has no newline at all), so reading it stops here rather than at the member's end.
MAX_HEADER_BYTES = 64 << 10
# A NALD row is at most a few kilobytes; PostgreSQL would buffer a record of up to 1 GB (twice
# over) before refusing it, so a longer one is refused here as it flows.
MAX_RECORD_BYTES = 16 << 20
# PostgreSQL's limits: identifiers are cut to 63 bytes (two long names would collide), and a
# table has at most 1,600 columns.
MAX_NAME_BYTES = 63
MAX_COLUMNS = 1600
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
    tracked across chunks (``""`` inside a quoted value toggles twice). Every
    byte is looked at once, and nothing is kept but the header's read-ahead.
    An error of the source is kept in ``error``: COPY only passes on its text.
    """

    def __init__(self, source: LimitedReader, file: str, max_record: int = MAX_RECORD_BYTES) -> None:
        self.source = source
        self.file = file
        self.max_record = max_record
        self.newlines = 0
        self.in_quotes = False
        self.last = b""
        self.pending = b""
        self.record = 0  # bytes of the record being read, so far
        self.error: BaseException | None = None

    def header(self) -> bytes:
        """The first line (read ahead and given back to COPY, which skips it itself).

        Reads at most ``MAX_HEADER_BYTES`` + 1 bytes of the source.
        """
        chunks, size, found = [], 0, False
        while not found and size <= MAX_HEADER_BYTES:
            chunk = self._source_read(MAX_HEADER_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            found = b"\n" in chunk
        self.pending = b"".join(chunks)
        line, newline, _ = self.pending.partition(b"\n")
        if not newline and size > MAX_HEADER_BYTES:
            raise BadExtract(
                f"{self.file} line 1: no end of line in the first {MAX_HEADER_BYTES:,} bytes "
                "(a header is a few hundred)"
            )
        if not newline and line:
            raise BadExtract(f"{self.file} line 1: the file ends without a newline (cut short?)")
        return line

    def read(self, size: int = COPY_CHUNK) -> bytes:
        try:
            if self.pending:
                chunk, self.pending = self.pending, b""
            else:
                chunk = self._source_read(size)
            if chunk:
                self._count(chunk)
                self.last = chunk[-1:]
            return chunk
        except BaseException as e:
            self.error = e
            raise

    def _source_read(self, size: int) -> bytes:
        try:
            return self.source.read(size)
        except BadExtract as e:
            if not self.newlines:  # still reading ahead for the header: no line known yet
                raise
            raise BadExtract(f"{e}, after line {self.newlines:,}") from None

    def _count(self, chunk: bytes) -> None:
        if len(chunk) > self.max_record:  # never with the default bound: a chunk is 1 MiB at most
            for start in range(0, len(chunk), self.max_record):
                self._count(chunk[start : start + self.max_record])
            return
        if not self.in_quotes and b'"' not in chunk:
            first = chunk.find(b"\n")
            if first >= 0:
                self._check_record(self.record + first)  # the record the chunk ends
                self.newlines += chunk.count(b"\n")
                self.record = len(chunk) - 1 - chunk.rfind(b"\n")
            else:
                self.record += len(chunk)
        else:
            parts = chunk.split(b'"')
            outside = 1 if self.in_quotes else 0  # parts outside quotes: every other one, from here
            ends = [i for i in range(outside, len(parts), 2) if b"\n" in parts[i]]
            if ends:
                first = sum(len(part) + 1 for part in parts[: ends[0]]) + parts[ends[0]].index(b"\n")
                self._check_record(self.record + first)
                self.newlines += sum(parts[i].count(b"\n") for i in ends)
                last = ends[-1]
                self.record = (
                    sum(len(part) + 1 for part in parts[last + 1 :]) + len(parts[last]) - 1 - parts[last].rfind(b"\n")
                )
            else:
                self.record += len(chunk)
            if (len(parts) - 1) % 2:
                self.in_quotes = not self.in_quotes
        # Records inside the chunk are shorter than it, so within the bound; the one it leaves open may grow on.
        self._check_record(self.record)

    def _check_record(self, size: int) -> None:
        if size > self.max_record:
            raise BadExtract(
                f"{self.file} line {self.newlines + 1}: a record longer than {self.max_record:,} bytes "
                "(a NALD row is a few kilobytes)"
            )

    @property
    def records(self) -> int:
        """Lines of the file, header included (a last line without a newline counts)."""
        return self.newlines + (1 if self.last and self.last != b"\n" else 0)


def parse_header(file: str, raw: bytes) -> tuple[str, ...]:
    try:
        text = raw.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError as e:
        raise BadExtract(f"{file} line 1: the header is not UTF-8 ({e})") from None
    try:
        columns = tuple(next(csv.reader(io.StringIO(text), strict=True), []))
    except csv.Error as e:
        raise BadExtract(f"{file} line 1: the header is not a CSV line ({e})") from None
    if not columns or columns == ("",):
        raise BadExtract(f"{file} line 1: no header (the file is empty)")
    if len(columns) > MAX_COLUMNS:
        raise BadExtract(f"{file} line 1: {len(columns):,} columns, more than PostgreSQL's {MAX_COLUMNS:,}")
    bad = [c for c in columns if not _NAME.fullmatch(c) or len(c) > MAX_NAME_BYTES]
    if bad:
        raise BadExtract(f"{file} line 1: not a column name: {', '.join(repr(c[:80]) for c in bad[:5])}")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise BadExtract(f"{file} line 1: columns repeated: {', '.join(repeated)}")
    return columns


def tables_in(archive: InnerArchive) -> dict[str, zipfile.ZipInfo]:
    """Table name to member: every ``.txt`` file but the audit copies; refuses a missing required table."""
    tables: dict[str, zipfile.ZipInfo] = {}
    for name, member in archive.files().items():
        if name in SKIPPED_FILES or not name.lower().endswith(".txt"):
            continue
        table = name[:-4]
        if not _NAME.fullmatch(table) or len(table) > MAX_NAME_BYTES:
            raise BadExtract(f"{archive.path.name}: {name[:100]!r} is not a table file name")
        if table in tables:
            raise BadExtract(
                f"{archive.path.name} holds table {table} twice ({tables[table].filename!r} and {member.filename!r})"
            )
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
        reader = CountingReader(source, file)
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
                cursor.copy_expert(
                    f"COPY {qualified} FROM STDIN WITH (FORMAT csv, HEADER true, FREEZE true)", reader, size=COPY_CHUNK
                )
            except psycopg2.Error as e:
                raw.rollback()
                if reader.error is not None:  # our reader's own error, which COPY only passed on as text
                    raise reader.error from None
                raise _copy_error(file, e) from None
            if reader.last != b"\n":
                # A member cut short (inside its last value, or at a row's end) would load its rows all the same.
                raw.rollback()
                raise BadExtract(f"{file} line {reader.records}: the file ends without a newline (cut short?)")
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
                    f"({', '.join(_quote(c) for c in columns)})"
                )
            connection.exec_driver_sql(f"ANALYZE {TEMP_SCHEMA}.{_quote(table.name)}")

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nald-index") as pool:
        list(pool.map(build, sorted(tables, key=lambda t: -t.rows)))


def verify(engine: Engine, tables: list[LoadedTable]) -> None:
    """Every table present with the file's row count, read back from the database."""
    with engine.connect() as connection:
        for table in tables:
            count = connection.exec_driver_sql(f"SELECT count(*) FROM {TEMP_SCHEMA}.{_quote(table.name)}").scalar_one()
            if count != table.rows:
                raise BadExtract(
                    f"{table.file}: {table.rows:,} data rows in the file but {count:,} in {TEMP_SCHEMA}.{table.name}"
                )
