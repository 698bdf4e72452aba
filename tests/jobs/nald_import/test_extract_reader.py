"""The extract reader on its own (no database): bounded header and records, the size and
compression-ratio limits on real zip archives, and what a wrong ZipCrypto password is called."""

from __future__ import annotations

import random
import struct
import zipfile
import zlib

import pytest
import pyzipper

from tests.support.zipcrypto import passes_check, write_zipcrypto
from wrls_actors.jobs.nald_import.archive import (
    RATIO_EXEMPT_BYTES,
    BadExtract,
    InnerArchive,
    LimitedReader,
    unpack_outer,
)
from wrls_actors.jobs.nald_import.load import MAX_HEADER_BYTES, MAX_RECORD_BYTES, CountingReader, parse_header

GiB = 1 << 30


class Source:
    """A member's bytes as LimitedReader gives them, counting what was asked of it."""

    def __init__(self, size: int, fill: bytes = b"\0", head: bytes = b"") -> None:
        self.head, self.fill, self.left = head, fill, size
        self.given = 0

    def read(self, size: int = 1 << 20) -> bytes:
        chunk, self.head = self.head[:size], self.head[size:]
        more = min(size - len(chunk), self.left)
        self.left -= more
        chunk += self.fill * more
        self.given += len(chunk)
        return chunk


def drain(reader) -> None:
    while reader.read():
        pass


def test_a_first_line_without_end_is_refused_once_the_header_bound_is_read():
    # The repro: 256 MiB of zeros without a newline took 23 s and 9 GB before failing as _csv.Error.
    zeros = Source(256 << 20)
    with pytest.raises(BadExtract, match=r"^NALD_ABS_LICENCES\.txt line 1: no end of line in the first 65,536 bytes"):
        CountingReader(zeros, "NALD_ABS_LICENCES.txt").header()
    assert zeros.given <= MAX_HEADER_BYTES + 1


def test_a_header_is_read_ahead_and_given_back_whole():
    source = Source(0, head=b"ID,NAME\n1,a\n2,b\n")
    reader = CountingReader(source, "T.txt")
    assert reader.header() == b"ID,NAME"
    assert reader.read() == b"ID,NAME\n1,a\n2,b\n" and reader.read() == b""
    assert reader.records == 3


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"ID,NA\0ME", "not a column name"),
        (b'ID,"NAME', "the header is not a CSV line"),  # _csv.Error escaped before
        (b"ID," + b"N" * 64, "not a column name: 'NNNN"),  # PostgreSQL would cut it to 63 bytes
        (",".join(f"C{n}" for n in range(1601)).encode(), "1,601 columns, more than PostgreSQL's 1,600"),
        (b"\xff\xfeI\0D\0", "the header is not UTF-8"),  # UTF-16
    ],
)
def test_a_bad_header_is_a_bad_extract_naming_the_file(raw, message):
    with pytest.raises(BadExtract, match=r"^T\.txt line 1: ") as error:
        parse_header("T.txt", raw)
    assert message in str(error.value)


@pytest.mark.parametrize("head", [b"ID,NAME\n1,", b'ID,NAME\n1,"'])  # unquoted, and a quoted value's newlines
def test_a_record_past_the_bound_is_refused_as_it_flows(head):
    fill = b"x" if head.endswith(b",") else b"x\n"
    source = Source(2 * MAX_RECORD_BYTES, fill=fill, head=head)
    reader = CountingReader(source, "T.txt")
    reader.header()
    with pytest.raises(BadExtract, match=r"^T\.txt line 2: a record longer than 16,777,216 bytes"):
        drain(reader)
    assert source.given <= MAX_RECORD_BYTES + 2 * (1 << 20)


@pytest.mark.parametrize("record", [b"x" * 100, b'"' + b"x\n" * 50 + b'"'])
def test_a_long_record_that_ends_in_the_chunk_that_takes_it_past_the_bound_is_refused(record):
    reader = CountingReader(Source(0, head=b"ID\n" + record + b"\n2\n"), "T.txt", max_record=50)
    reader.header()
    with pytest.raises(BadExtract, match=r"^T\.txt line 2: a record longer than 50 bytes"):
        drain(reader)


def test_the_record_bound_counts_from_the_last_newline_outside_quotes():
    rows = b'1,"a\nb"\n' * 1000
    reader = CountingReader(Source(0, head=b"ID,NAME\n" + rows), "T.txt", max_record=len(rows) // 2)
    reader.header()
    drain(reader)  # many records, none long
    assert reader.records == 1001 and not reader.in_quotes


def write_zip(path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def letters(size: int, seed: int = 1) -> bytes:
    """Text that deflates about as little as real CSV does (about 1.6 times)."""
    return random.Random(seed).randbytes(size).translate(bytes(97 + n % 26 for n in range(256)))


def test_a_member_whose_directory_shows_a_bomb_is_refused_before_a_byte_is_unpacked(tmp_path):
    zeros = 8 << 20
    path = write_zip(tmp_path / "NALD.zip", {"NALD_BOMB.txt": bytes(zeros), "NALD_A.txt": letters(2 << 20)})
    packed = zipfile.ZipFile(path).getinfo("NALD_BOMB.txt").compress_size
    with pytest.raises(BadExtract) as error:
        InnerArchive(path, 4 * GiB)
    assert str(error.value) == (
        f"NALD.zip: member NALD_BOMB.txt is {zeros:,} bytes unpacked from {packed:,}, "
        "over the compression ratio limit of 100 (WRLS_NALD_MAX_RATIO)"
    )
    # The same archive passes with a ratio limit above zeros' (about 1,000), and CSV-like text passes at 100.
    InnerArchive(path, 4 * GiB, max_ratio=2000).zip.close()
    InnerArchive(write_zip(tmp_path / "text.zip", {"NALD_A.txt": letters(2 << 20)}), 4 * GiB, 100).zip.close()
    # A member under 1 MiB is never a bomb, however well it deflates.
    InnerArchive(write_zip(tmp_path / "small.zip", {"NALD_A.txt": bytes(RATIO_EXEMPT_BYTES)}), 4 * GiB).zip.close()


def test_the_ratio_is_held_while_bytes_flow_whatever_the_stream_underneath(tmp_path):
    # zipfile itself stops a member at its directory entry's sizes, so the directory check above is
    # enough for it; another reader (a C decryptor) may not, and LimitedReader must hold the line alone.
    path = write_zip(tmp_path / "NALD.zip", {"NALD_BOMB.txt": bytes(64 << 20)})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("NALD_BOMB.txt")
        reader = LimitedReader(
            archive.open(info), "NALD.zip", info.filename, 4 * GiB, compressed=info.compress_size, max_ratio=100
        )
        with pytest.raises(BadExtract) as error:
            drain(reader)
        assert str(error.value) == (
            f"NALD.zip: member NALD_BOMB.txt unpacks to more than {100 * info.compress_size:,} "
            f"bytes from {info.compress_size:,}, over the compression ratio limit of 100 "
            "(WRLS_NALD_MAX_RATIO)"
        )
        assert reader.total <= 100 * info.compress_size + (1 << 20)


def test_a_directory_that_understates_a_member_gets_it_refused_as_corrupt_not_loaded(tmp_path):
    path = write_zip(tmp_path / "NALD.zip", {"NALD_BOMB.txt": bytes(64 << 20)})
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<L", 100_000)  # uncompressed size: 100,000 bytes
    path.write_bytes(bytes(data))
    with InnerArchive(path, 4 * GiB) as archive, archive.open(archive.members[0]) as reader:
        with pytest.raises(BadExtract, match=r"^NALD.zip: member NALD_BOMB.txt is corrupt \(Bad CRC-32"):
            drain(reader)
        assert reader.total <= 100_000


def test_the_outer_member_is_held_to_the_ratio_too(tmp_path):
    path = tmp_path / "nald_enc.zip"
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(b"pw")
        archive.writestr("NALD.zip", bytes(8 << 20))
    with pytest.raises(
        BadExtract,
        match=r"^nald_enc.zip: member NALD.zip is 8,388,608 bytes unpacked from [\d,]+, "
        r"over the compression ratio limit of 100",
    ):
        unpack_outer(path, "pw", tmp_path, 4 * GiB)
    assert not (tmp_path / "NALD.zip").exists()


def test_an_archive_whose_directory_is_too_big_to_hold_is_refused_before_it_is_read(tmp_path):
    # zipfile would build an object for every entry before anything could be checked.
    path = write_zip(tmp_path / "NALD.zip", {f"{n}.txt": b"" for n in range(30_000)}, method=zipfile.ZIP_STORED)
    with pytest.raises(BadExtract, match=r"^NALD.zip: its directory is [\d,]+ bytes, over the limit of 1,048,576"):
        InnerArchive(path, 4 * GiB)
    # The same where the classic end record defers to zip64's (zipfile writes one past 65,535 entries).
    path = write_zip(tmp_path / "NALD64.zip", {f"{n}": b"" for n in range(70_000)}, method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    data[end + 12 : end + 16] = b"\xff" * 4  # the directory's size: see the zip64 end record
    path.write_bytes(bytes(data))
    directory = data.rindex(b"PK\x06\x06") - data.index(b"PK\x01\x02")
    with pytest.raises(BadExtract, match=rf"^NALD64.zip: its directory is {directory:,} bytes, over the limit"):
        InnerArchive(path, 4 * GiB)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_an_inner_member_compressed_otherwise_than_deflate_is_refused_by_name(tmp_path, method):
    path = write_zip(tmp_path / "NALD.zip", {"NALD_A.txt": b"ID\n1\n"}, method=method)
    with pytest.raises(
        BadExtract,
        match=rf"^NALD.zip: member NALD_A.txt uses compression method {method}; "
        "only stored or deflated is read",
    ):
        InnerArchive(path, 4 * GiB)


def test_a_wrong_zipcrypto_password_that_passes_the_check_byte_is_called_wrong_password_or_corrupt(tmp_path):
    inner = write_zip(tmp_path / "inner.zip", {"NALD_A.txt": b"ID\n1\n"}).read_bytes()
    outer = tmp_path / "nald_enc.zip"
    header = write_zipcrypto(outer, "NALD.zip", inner, b"the-password")
    crc = zlib.crc32(inner)
    # ZipCrypto checks a password against one byte: about 1 wrong password in 256 gets past it.
    candidates = [f"wrong-{n}" for n in range(4096)]
    passing = [p for p in candidates if passes_check(header, crc, p.encode())]
    failing = next(p for p in candidates if p not in passing)
    assert passing, "no wrong password among 4,096 passes the check byte"

    folder = tmp_path / "out"
    folder.mkdir()
    assert unpack_outer(outer, "the-password", folder, GiB).read_bytes() == inner
    with pytest.raises(BadExtract) as error:
        unpack_outer(outer, passing[0], folder, GiB)
    assert str(error.value).startswith("nald_enc.zip: wrong password or corrupt member NALD.zip (Bad CRC-32")
    with pytest.raises(BadExtract, match=r"^nald_enc.zip: wrong password for NALD.zip"):
        unpack_outer(outer, failing, folder, GiB)
