"""Fuzzing the extract reader and loader against a real PostgreSQL database.

A small generated extract is spoiled one way per example (a member cut short or with a bit
flipped, a huge line, another encoding, an odd member name, the zip container itself damaged),
then loaded into ``import_temp`` as s3-download does. Every outcome must be a correct load (each
table holds what PostgreSQL's CSV rules read in its file) or a BadExtract naming the file, with
the reader's memory bounded whatever the member's size, and ``import`` never touched. (That
what it reads is bounded too, the header and records, is shown in test_extract_reader.py.)
"""

from __future__ import annotations

import io
import random
import re
import tracemalloc
import zipfile
from pathlib import PurePosixPath
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.jobs.conftest import snapshot
from tests.jobs.nald_import.test_nald_import import as_csv, extract_files
from tests.support import services as svc
from wrls_actors.jobs.nald_import.archive import BadExtract, InnerArchive
from wrls_actors.jobs.nald_import.load import MAX_HEADER_BYTES, MAX_RECORD_BYTES, TEMP_SCHEMA, load_all
from wrls_actors.jobs.nald_import.swap import swap_in
from wrls_actors.model.nald import SKIPPED_FILES
from wrls_actors.runtime.database import engine_for

GiB = 1 << 30
# What the reader may hold at once: two members read at a time, 1 MiB chunks through zipfile, the
# header's read-ahead. The huge lines below are bigger, so a reader buffering a line or a member fails.
MEMORY_BOUND = 12 << 20
FILES = {f"{table}.txt": as_csv(rows) for table, rows in extract_files(4, seed=5).items()}
FILES["NALD_RET_LINES_AUDIT.txt"] = b"ARFL_ARTY_ID,RET_DATE\n1,20200101000000\n"  # never loaded
ODD_NAMES = [
    "../NALD_X.txt",
    "/etc/NALD_X.txt",
    "a\\NALD_X.txt",
    "C:NALD_X.txt",
    "NALD_" + "X" * 300 + ".txt",
    "NALD_ABS_LICENCES.TXT",
    "sub/NALD_ABS_LICENCES.txt",
    "NALD_\u00e9.txt",
    "NALD X.txt",
    "NALD_X\n.txt",
    "readme.md",
    "sub/",
    ".txt",
    "NON_UTF8\u00e9.txt",
]


def letters(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size).translate(bytes(97 + n % 26 for n in range(256)))


def huge_line(kind: str, size: int, seed: int) -> bytes:
    return {"zeros": lambda: bytes(size), "letters": lambda: letters(size, seed), "commas": lambda: b"," * size}[kind]()


def reencode(data: bytes, how: str, seed: int) -> bytes:
    rng = random.Random(seed)
    if how == "utf-16":
        return data.decode().encode("utf-16")
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "crlf":
        return data.replace(b"\n", b"\r\n")
    at = rng.randrange(len(data))
    if how == "latin-1":
        return (data[:at].decode() + "\u00e9" + data[at:].decode()).encode("latin-1")
    if how == "utf-8":
        return data[:at] + "\u00e9".encode() + data[at:]
    return data[:at] + b"\0" + data[at:]  # nul


def write_zip(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in members:
            archive.writestr(name, data)
    raw = out.getvalue()
    # A name that is not UTF-8 although the archive says it is (zipfile would not write one).
    return raw.replace("NON_UTF8\u00e9".encode(), b"NON_UTF8\xff\xfe")


def spoil(
    kind: str,
    name: str,
    *,
    at: int = 0,
    bit: int = 0,
    fill: str = "letters",
    size: int = 0,
    how: str = "",
    odd: str = "",
    rename: bool = False,
):
    """(what was done, NALD.zip's bytes, the members as written): the extract spoiled one way.

    ``at`` is a byte (cut, flip, container) or a line (huge line) of the member, or of NALD.zip.
    """
    members = dict(FILES)
    data = members[name]
    if kind == "cut":
        members[name] = data[:at]
        done = f"{name} cut to {at} of {len(data)} bytes"
    elif kind == "flip":
        members[name] = data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :]
        done = f"{name} byte {at} bit {bit} flipped"
    elif kind == "huge line":
        start = 0
        for _ in range(at):
            start = data.index(b"\n", start) + 1
        members[name] = data[:start] + huge_line(fill, size, seed=at) + b"\n" + data[start:]
        done = f"{name}: a line of {size:,} {fill} inserted as line {at + 1}"
    elif kind == "encoding":
        members[name] = reencode(data, how, seed=len(name))
        done = f"{name} as {how}"
    elif kind == "odd name":
        if rename:
            members[odd] = members.pop(name)
            done = f"{name} renamed {odd!r}"
        else:
            members[odd] = data
            done = f"{odd!r} added (a copy of {name})"
    written = list(members.items())
    raw = write_zip(written)
    if kind == "container":
        at %= len(raw)
        if bit < 8:
            done = f"NALD.zip byte {at} of {len(raw)} bit {bit} flipped"
            raw = raw[:at] + bytes([raw[at] ^ (1 << bit)]) + raw[at + 1 :]
        else:
            done = f"NALD.zip cut to {at} of {len(raw)} bytes"
            raw = raw[:at]
    return done, raw, written


@st.composite
def extracts(draw):
    kind = draw(st.sampled_from(["cut", "flip", "huge line", "encoding", "odd name", "container"]))
    name = draw(st.sampled_from(sorted(FILES)))
    data = FILES[name]
    if kind in ("cut", "flip"):
        return spoil(kind, name, at=draw(st.integers(0, len(data) - 1)), bit=draw(st.integers(0, 7)))
    if kind == "huge line":
        return spoil(
            kind,
            name,
            at=draw(st.integers(0, data.count(b"\n"))),
            fill=draw(st.sampled_from(["zeros", "letters", "commas"])),
            size=draw(st.sampled_from([MAX_HEADER_BYTES + 1, 3 << 20, MAX_RECORD_BYTES + 1])),
        )
    if kind == "encoding":
        return spoil(kind, name, how=draw(st.sampled_from(["utf-16", "latin-1", "utf-8", "bom", "nul", "crlf"])))
    if kind == "odd name":
        return spoil(kind, name, odd=draw(st.sampled_from(ODD_NAMES)), rename=draw(st.booleans()))
    # The container: a bit flipped anywhere (bit 8: cut there instead), the directory at the end included.
    return spoil(kind, name, at=draw(st.integers(0, 1 << 20)), bit=draw(st.integers(0, 8)))


def pg_csv(data: bytes) -> list[tuple[str | None, ...]]:
    """The records PostgreSQL's COPY ... (FORMAT csv) reads in a file it accepts, header included.

    A quote opens or closes a quoted section anywhere in a value (``a"b,c"d`` is ``ab,cd``), ``""``
    inside one is a quote, and an empty value never quoted is NULL.
    """
    content = data.decode("utf-8")
    crlf = content.split("\n", 1)[0].endswith("\r")  # the first line says how lines end (quoted ones aside)
    records, values, value, quoted, in_quotes, i = [], [], [], False, False, 0
    while i < len(content):
        c = content[i]
        if in_quotes:
            if c == '"' and content[i + 1 : i + 2] == '"':
                value.append('"')
                i += 1
            elif c == '"':
                in_quotes = False
            else:
                value.append(c)
        elif c == '"':
            in_quotes = quoted = True
        elif crlf and c == "\r" and content[i + 1 : i + 2] == "\n":
            i += 1
            continue
        elif c in ",\n":
            values.append("".join(value) if value or quoted else None)
            value, quoted = [], False
            if c == "\n":
                records.append(tuple(values))
                values = []
        else:
            value.append(c)
        i += 1
    return records


def names_a_file(message: str, written: list[tuple[str, bytes]]) -> bool:
    files = {PurePosixPath(name).name for name, _ in written}
    first = re.split(r"[: ]", message, maxsplit=1)[0]
    return first == "NALD.zip" or first in files


@pytest.fixture
def engine(database, tmp_path):
    """A database whose `import` holds the unspoiled extract, as a previous nald-import left it."""
    engine = engine_for(svc.database_url(database))
    path = tmp_path / "NALD.zip"
    path.write_bytes(write_zip(list(FILES.items())))
    with InnerArchive(path, 4 * GiB) as archive:
        load_all(engine, archive)
    with engine.begin() as connection:
        swap_in(connection, "fuzz-base", max_shrink_percent=None)
    return engine


def test_every_spoiled_extract_loads_correctly_or_fails_naming_the_file(engine, tmp_path):
    service = SimpleNamespace(engine=engine)
    before = snapshot(service, ("import",))
    assert before
    path = tmp_path / "NALD.zip"
    seen = {"loaded": 0, "refused": 0}

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(extracts())
    # The cases the issue names, whatever the draw: a record past the bound, a header that never ends
    # (a zip bomb's shape: too compressible, so the ratio stops it first), a cut table, odd names.
    @example(spoil("huge line", "NALD_ABS_LICENCES.txt", at=3, fill="letters", size=MAX_RECORD_BYTES + 1))
    @example(spoil("huge line", "NALD_ABS_LICENCES.txt", at=0, fill="letters", size=3 << 20))
    @example(spoil("huge line", "NALD_ABS_LICENCES.txt", at=0, fill="zeros", size=MAX_RECORD_BYTES + 1))
    @example(spoil("cut", "NALD_ABS_LICENCES.txt", at=len(FILES["NALD_ABS_LICENCES.txt"]) - 3))
    @example(spoil("odd name", "NALD_ABS_LICENCES.txt", odd="NON_UTF8\u00e9.txt"))
    @example(spoil("odd name", "NALD_ABS_LICENCES.txt", odd="sub/NALD_ABS_LICENCES.txt"))
    @example(spoil("odd name", "NALD_ABS_LICENCES.txt", odd="NALD_" + "X" * 300 + ".txt"))
    @example(spoil("container", "NALD_ABS_LICENCES.txt", at=-30, bit=8))
    def spoiled(case):
        done, raw, written = case
        path.write_bytes(raw)
        tracemalloc.start()
        try:
            with InnerArchive(path, 4 * GiB) as archive:
                tables = load_all(engine, archive)
        except BadExtract as e:
            assert names_a_file(str(e), written), (done, str(e))
            seen["refused"] += 1
        else:
            seen["loaded"] += 1
            expected = {
                PurePosixPath(name).name[:-4]: data
                for name, data in written
                if name.lower().endswith(".txt") and PurePosixPath(name).name not in SKIPPED_FILES
            }
            assert {t.name for t in tables} == set(expected), done
            with engine.connect() as connection:
                for table in tables:
                    rows = connection.execute(text(f'SELECT * FROM {TEMP_SCHEMA}."{table.name}"')).all()
                    assert [tuple(r) for r in rows] == pg_csv(expected[table.name])[1:], (done, table.name)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < MEMORY_BOUND, (done, f"{peak:,} bytes at peak")
        assert snapshot(service, ("import",)) == before, done

    spoiled()
    assert seen["loaded"] and seen["refused"], seen  # both outcomes were exercised


def test_a_member_found_corrupt_while_copying_fails_with_the_readers_own_error(engine, tmp_path):
    # COPY passes on only the text of an error raised by what it reads ("COPY from stdin failed: error
    # in .read() call: BadExtract ..."); the reader's BadExtract is raised as itself.
    header, rows = FILES["NALD_ABS_LICENCES.txt"].split(b"\n", 1)
    big = header + b"\n" + rows * (200_000 // len(rows) + 1)  # well past the header's read-ahead
    raw = bytearray(
        write_zip([*((n, d) for n, d in FILES.items() if n != "NALD_ABS_LICENCES.txt"), ("NALD_ABS_LICENCES.txt", big)])
    )
    entry = raw.rindex(b"NALD_ABS_LICENCES.txt") - 46  # its central directory entry, the last mention
    raw[entry + 16] ^= 0xFF  # the CRC zipfile checks the member against at its end
    (tmp_path / "NALD.zip").write_bytes(bytes(raw))
    with InnerArchive(tmp_path / "NALD.zip", 4 * GiB) as archive, pytest.raises(BadExtract) as error:
        load_all(engine, archive)
    assert re.fullmatch(
        r"NALD.zip: member NALD_ABS_LICENCES.txt is corrupt \(Bad CRC-32 for file "
        r"'NALD_ABS_LICENCES.txt'\), after line [\d,]+",
        str(error.value),
    ), str(error.value)
