"""The tarball's gzip stream made of pieces compressed apart: read back whole by Python and by the tar and gzip
commands, its CRC-32 checked by each."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib

import pytest

from wrls_actors.jobs.export.gzip_pieces import (
    PieceWriter,
    crc32_combine,
    deflate_last,
    deflate_piece,
    gzip_header,
    gzip_trailer,
)
from wrls_actors.jobs.export.spool import Spooled
from wrls_actors.jobs.export.tarball import write_tarball


@pytest.mark.parametrize(
    "first, second",
    [(b"", b"x"), (b"abc", b""), (b"", b""), (b"hello ", b"world" * 1000), (os.urandom(999), os.urandom(70_001))],
)
def test_crc32_combine_gives_the_crc_of_the_two_joined(first, second):
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


def _written(data: bytes, chunk: int) -> tuple[bytes, PieceWriter]:
    out = io.BytesIO()
    piece = PieceWriter(out)
    for start in range(0, len(data), chunk):
        piece.write(data[start : start + chunk])
    piece.end()
    return out.getvalue(), piece


def test_pieces_side_by_side_are_one_gzip_member_the_gzip_command_reads():
    parts = [b"header " * 50, os.urandom(20_000) + b"text " * 30_000, b"", b"the end"]
    crc, length, body = 0, 0, b""
    for data in parts[:-1]:
        compressed, piece = _written(data, 4096)
        assert (piece.crc, piece.length) == (zlib.crc32(data), len(data))
        body += compressed
        crc, length = crc32_combine(crc, piece.crc, piece.length), length + piece.length
    body += deflate_last(parts[-1])
    crc = crc32_combine(crc, zlib.crc32(parts[-1]), len(parts[-1]))
    stream = gzip_header(0) + body + gzip_trailer(crc, length + len(parts[-1]))
    gzip = subprocess.run(["gzip", "-dc"], input=stream, capture_output=True, check=True)
    assert gzip.stdout == b"".join(parts)
    assert deflate_piece(b"") != b""  # an empty piece is still a sync flush: the stream stays byte-aligned


def test_a_tarball_of_compressed_tables_is_read_by_tarfile_and_the_tar_command(tmp_path):
    tables = {"empty": b"", "small": b'"id"\n1\n', "odd": b"x" * 513, "big": os.urandom(300_000)}

    def spooled():
        for name, data in tables.items():
            file = tempfile.TemporaryFile()
            compressed, piece = _written(data + bytes(-len(data) % tarfile.BLOCKSIZE), 1000)
            file.write(compressed)
            file.seek(0)
            yield Spooled(name, file, len(data), data.count(b"\n"), piece.crc, piece.length)

    out = io.BytesIO()
    written = write_tarball("crm", spooled(), out)
    assert (written.tables, written.csv_bytes) == (4, sum(map(len, tables.values())))
    with tarfile.open(fileobj=io.BytesIO(out.getvalue()), mode="r:gz") as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == {
            f"crm/{name}.csv": data for name, data in tables.items()
        }
    (tmp_path / "crm.tgz").write_bytes(out.getvalue())
    if shutil.which("tar"):
        subprocess.run(["tar", "-xzf", "crm.tgz"], cwd=tmp_path, check=True)
        assert (tmp_path / "crm" / "big.csv").read_bytes() == tables["big"]
