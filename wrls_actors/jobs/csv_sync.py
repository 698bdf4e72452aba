"""What charge-categories-sync and gauging-stations-sync share: a CSV file in
the object store, gated by its ETag, read and checked whole, then applied in
one transaction together with the new ETag.

The legacy applied the file row by row as it went, so a bad row left the
table half-synced, and compared the CSV's strings with the database's numbers
and booleans, so every row looked changed and was rewritten every time. Here
every value is parsed to the column's type first; a file with any bad row
fails the step at once (no retry) naming the file, line and column, and
changes nothing; and a row is written only when a typed value differs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, text, update

from ..config import config
from ..object_store import service_store
from ..runtime import PermanentError, StepContext
from .guards import is_forced

# The files are a few hundred kilobytes: a slow answer is a stuck connection.
TIMEOUT_S = 60
# A file with many bad rows is reported by its first ones; the rest say "and N more".
PROBLEMS_SHOWN = 10

_REQUIRED = object()
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# Parsers: given a field's text, stripped and not empty; a ValueError's message says what is wrong with it.


def as_text(value: str) -> str:
    return value


def whole_number(value: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(value):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def non_negative_whole_number(value: str) -> int:
    number = whole_number(value)
    if number < 0:
        raise ValueError(f"{value!r} is negative")
    return number


def decimal(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return number


def boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true or false")


def uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class Field:
    """One column of the file. ``empty`` is the value of an empty field; without it the field is required."""

    name: str
    parse: Callable[[str], Any] = as_text
    empty: Any = _REQUIRED


@dataclasses.dataclass(frozen=True)
class Row:
    line: int  # of the row's first physical line, the header being line 1
    values: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Problem:
    line: int
    column: str | None
    message: str

    def describe(self) -> str:
        return f"line {self.line}" + (f", column {self.column}" if self.column else "") + f": {self.message}"


@dataclasses.dataclass(frozen=True)
class CsvSpec:
    fields: tuple[Field, ...]
    # Columns whose non-empty values must differ from row to row.
    unique: tuple[str, ...] = ()
    # Checks across a row's parsed values: (column, message) for each thing wrong with it.
    check: Callable[[Mapping[str, Any]], Iterable[tuple[str | None, str]]] | None = None


def bad_file(name: str, problems: Sequence[Problem]) -> PermanentError:
    shown = "; ".join(p.describe() for p in problems[:PROBLEMS_SHOWN])
    more = f"; and {len(problems) - PROBLEMS_SHOWN} more" if len(problems) > PROBLEMS_SHOWN else ""
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    return PermanentError(f"{name}: {count}, nothing applied: {shown}{more}")


def parse_csv(name: str, content: bytes, spec: CsvSpec) -> list[Row]:
    """Every row of the file parsed to typed values, or PermanentError listing what is wrong and where."""
    try:
        decoded = content.decode("utf-8-sig")  # spreadsheets often start their CSV with a byte order mark
    except UnicodeDecodeError as e:
        line = content[: e.start].count(b"\n") + 1
        raise bad_file(name, [Problem(line, None, f"byte {content[e.start]:#04x} is not UTF-8")]) from None
    reader = csv.reader(io.StringIO(decoded, newline=""), strict=True)
    problems: list[Problem] = []
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as e:
        raise bad_file(name, [Problem(1, None, f"not valid CSV ({e})")]) from None
    missing = [f.name for f in spec.fields if f.name not in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if not any(header):
        problems.append(Problem(1, None, "the file is empty (no header)"))
    else:
        problems += [Problem(1, None, f"the header lacks columns {', '.join(missing)}")] if missing else []
        problems += [Problem(1, None, f"the header repeats columns {', '.join(repeated)}")] if repeated else []
    if problems:
        raise bad_file(name, problems)
    rows = list(_rows(reader, header, spec, problems))
    if not rows and not problems:
        problems.append(Problem(reader.line_num + 1, None, "no data rows after the header"))
    problems += _duplicates(rows, spec.unique)
    if problems:
        raise bad_file(name, sorted(problems, key=lambda p: p.line))
    return rows


def _rows(reader, header: list[str], spec: CsvSpec, problems: list[Problem]) -> Iterable[Row]:
    index = {name: header.index(name) for name in (f.name for f in spec.fields)}
    line = reader.line_num + 1
    while True:
        start = line
        try:
            record = next(reader, None)
        except csv.Error as e:
            # Reading stops here: where the next row starts is unknown (an unclosed quote swallows the rest).
            problems.append(Problem(start, None, f"not valid CSV ({e})"))
            return
        if record is None:
            return
        line = reader.line_num + 1
        if not record or record == [""]:
            continue  # a blank line
        if len(record) != len(header):
            problems.append(Problem(start, None, f"{len(record)} fields, the header has {len(header)}"))
            continue
        values, wrong = {}, []
        for field in spec.fields:
            raw = record[index[field.name]].strip()
            try:
                values[field.name] = _value(field, raw)
            except ValueError as e:
                wrong.append(Problem(start, field.name, str(e)))
        if not wrong and spec.check is not None:
            wrong = [Problem(start, column, message) for column, message in spec.check(values)]
        problems += wrong
        if not wrong:
            yield Row(start, values)


def _value(field: Field, raw: str) -> Any:
    if raw:
        return field.parse(raw)
    if field.empty is _REQUIRED:
        raise ValueError("empty, a value is required")
    return field.empty


def _duplicates(rows: list[Row], columns: Sequence[str]) -> list[Problem]:
    problems = []
    for column in columns:
        first: dict[Any, int] = {}
        for row in rows:
            value = row.values[column]
            if value is None:
                continue
            if value in first:
                problems.append(Problem(row.line, column, f"{value!r} is also on line {first[value]}"))
            else:
                first[value] = row.line
    return problems


def write_rows(connection: Connection, table: Table, key: str, pairs: Iterable[tuple[Row, Mapping | None]]) -> Counter:
    """Insert each row without a match, update a matched one whose typed values differ, leave the others.

    ``pairs`` are the file's rows with the table row each matched (or None); ``key`` is the table's primary key.
    Returns counts ``inserted``, ``updated``, ``unchanged``.
    """
    inserts, updates, counts = [], [], Counter(inserted=0, updated=0, unchanged=0)
    for row, existing in pairs:
        if existing is None:
            inserts.append(row.values)
            counts["inserted"] += 1
        elif any(existing[c] != v for c, v in row.values.items()):
            updates.append({"_key": existing[key], **{f"_{c}": v for c, v in row.values.items()}})
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    if inserts:
        connection.execute(insert(table), inserts)
    if updates:
        columns = [c for c in updates[0] if c != "_key"]
        statement = (
            update(table)
            .where(table.c[key] == bindparam("_key"))
            .values({**{c[1:]: bindparam(c) for c in columns}, "date_updated": func.now()})
        )
        connection.execute(statement, updates)
    return counts


def _read_etag(connection: Connection, state_key: str) -> str | None:
    row = connection.execute(
        text("SELECT data FROM water.application_state WHERE key = :key"), {"key": state_key}
    ).first()
    return row.data.get("etag") if row else None


def _write_etag(connection: Connection, state_key: str, etag: str) -> None:
    connection.execute(
        text(
            "INSERT INTO water.application_state (key, data) VALUES (:key, CAST(:data AS jsonb)) "
            "ON CONFLICT (key) DO UPDATE SET data = excluded.data, date_updated = now() "
            "WHERE water.application_state.data IS DISTINCT FROM excluded.data"
        ),
        {"key": state_key, "data": json.dumps({"etag": etag})},
    )


def sync(
    ctx: StepContext,
    *,
    object_key: str,
    state_key: str,
    spec: CsvSpec,
    apply: Callable[[Connection, list[Row]], Counter],
) -> None:
    """The ETag gate, then the whole file parsed, then ``apply`` and the new ETag in one transaction."""
    cfg = config()
    store = service_store(cfg, TIMEOUT_S)
    etag = store.etag(object_key)
    with ctx.engine.connect() as connection:
        previous = _read_etag(connection, state_key)
    if previous == etag and not is_forced(ctx.params):
        ctx.logger.info("%s unchanged (ETag %s): nothing to sync", store.describe(object_key), etag)
        ctx.end_run(f"no change: {object_key} ETag {etag} already imported")
        return
    if cfg.work_dir is not None:
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="csv-sync-", dir=cfg.work_dir) as folder:
        path = Path(folder) / "file.csv"
        size = store.download(object_key, etag, path)
        content = path.read_bytes()
    rows = parse_csv(object_key, content, spec)
    with ctx.engine.begin() as connection:
        # Two runs at once (a manual start beside a tick) apply one after the other, never interleaved.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": state_key})
        counts = apply(connection, rows)
        _write_etag(connection, state_key, etag)
    ctx.count("rows_read", len(rows))
    ctx.count("file_bytes", size)
    for name, n in counts.items():
        ctx.count(name, n)
    ctx.logger.info(
        "synced %s (ETag %s): %d rows, %s",
        store.describe(object_key),
        etag,
        len(rows),
        ", ".join(f"{n} {name}" for name, n in counts.items()),
    )
