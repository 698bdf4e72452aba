"""The outer archive decrypted by compiled code (no database): ZipCrypto and AES, stored and
deflated, read back exactly; a wrong password, a flipped byte or a cut gives a BadExtract naming
the file; and ZipCrypto is no longer decrypted a Python call per byte (what made it 1.8 MB/s)."""

from __future__ import annotations

import random
import struct
import sys
import zipfile
from pathlib import Path

import pytest
import pyzipper

from tests.support.zipcrypto import write_zipcrypto
from wrls_actors.jobs.nald_import.archive import BadExtract, unpack_outer

GiB = 1 << 30
PASSWORD = "the-password"


def inner_zip(tmp_path: Path, size: int = 200_000) -> bytes:
    """A NALD.zip-like member: a zip of CSV text."""
    rows = b"".join(b"%d,ANL%05d,some text\n" % (n, n) for n in range(size // 20))
    path = tmp_path / "inner.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # A fixed time: the same bytes every run.
        archive.writestr(zipfile.ZipInfo("NALD_A.txt", (2026, 1, 1, 0, 0, 0)), b"ID,CODE,TEXT\n" + rows)
    return path.read_bytes()


def zipcrypto(tmp_path: Path, data: bytes, deflate: bool = False) -> Path:
    path = tmp_path / "nald_enc.zip"
    write_zipcrypto(path, "NALD.zip", data, PASSWORD.encode(), deflate=deflate)
    return path


def aes(tmp_path: Path, data: bytes, deflate: bool = False) -> Path:
    path = tmp_path / "nald_enc.zip"
    method = pyzipper.ZIP_DEFLATED if deflate else pyzipper.ZIP_STORED
    with pyzipper.AESZipFile(path, "w", compression=method, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(PASSWORD.encode())
        archive.writestr("NALD.zip", data)
    return path


WRITERS = [
    pytest.param(zipcrypto, False, id="zipcrypto-stored"),
    pytest.param(zipcrypto, True, id="zipcrypto-deflated"),
    pytest.param(aes, False, id="aes-stored"),
    pytest.param(aes, True, id="aes-deflated"),
]


def out_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    return folder


def member_span(path: Path) -> tuple[int, int]:
    """Where the member's encrypted data lies in the archive (start, end)."""
    with zipfile.ZipFile(path) as archive:
        member = archive.infolist()[0]
    data = path.read_bytes()
    names, extra = struct.unpack_from("<2H", data, member.header_offset + 26)
    start = member.header_offset + 30 + names + extra
    return start, start + member.compress_size


@pytest.mark.parametrize("write, deflate", WRITERS)
def test_the_member_is_decrypted_and_inflated_exactly(tmp_path, write, deflate):
    data = inner_zip(tmp_path)
    path = write(tmp_path, data, deflate)
    assert unpack_outer(path, PASSWORD, out_folder(tmp_path), GiB).read_bytes() == data


@pytest.mark.parametrize("write, deflate", WRITERS)
def test_a_wrong_password_is_named(tmp_path, write, deflate):
    path = write(tmp_path, inner_zip(tmp_path), deflate)
    # Some wrong passwords get past ZipCrypto's one-byte check: those are "wrong password or corrupt".
    for attempt in range(20):
        with pytest.raises(BadExtract) as error:
            unpack_outer(path, f"wrong-{attempt}", out_folder(tmp_path), GiB)
        assert str(error.value).startswith(
            (
                "nald_enc.zip: wrong password for NALD.zip (WRLS_NALD_ZIP_PASSWORD)",
                "nald_enc.zip: wrong password or corrupt member NALD.zip (",
            )
        ), error.value
        assert f"wrong-{attempt}" not in str(error.value)


@pytest.mark.parametrize("write, deflate", WRITERS)
def test_a_flipped_byte_anywhere_in_the_member_is_refused_naming_it(tmp_path, write, deflate):
    data = inner_zip(tmp_path)
    path = write(tmp_path, data, deflate)
    good = path.read_bytes()
    start, end = member_span(path)
    rng = random.Random(11)
    for at in [start, start + 11, start + 12, end - 1, *rng.sample(range(start, end), 12)]:
        spoiled = bytearray(good)
        spoiled[at] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(spoiled))
        try:
            target = unpack_outer(path, PASSWORD, out_folder(tmp_path), GiB)
        except BadExtract as error:
            assert str(error).startswith(
                (
                    "nald_enc.zip: wrong password or corrupt member NALD.zip (",
                    "nald_enc.zip: wrong password for NALD.zip",
                )
            ), (at, error)
        else:
            # A deflate stream's last byte may end in padding bits that no reader looks at.
            assert target.read_bytes() == data, at


@pytest.mark.parametrize("write, deflate", WRITERS)
def test_a_member_cut_short_under_an_intact_directory_is_refused_naming_it(tmp_path, write, deflate):
    data = inner_zip(tmp_path)
    path = write(tmp_path, data, deflate)
    good = path.read_bytes()
    start, end = member_span(path)
    for cut in (1, 2, 100, (end - start) // 2):
        # The directory is kept, moved up by the bytes cut: only the member's data is short.
        short = bytearray(good[: end - cut] + good[end:])
        eocd = short.rindex(b"PK\x05\x06")
        offset = struct.unpack_from("<L", short, eocd + 16)[0]
        struct.pack_into("<L", short, eocd + 16, offset - cut)
        path.write_bytes(bytes(short))
        try:
            target = unpack_outer(path, PASSWORD, out_folder(tmp_path), GiB)
        except BadExtract as error:
            assert str(error).startswith("nald_enc.zip: ") and "NALD.zip" in str(error), (cut, error)
        else:
            # The directory's first byte stood in for the last one cut, and the deflate stream's last
            # bits happened to come out the same: the data is whole.
            assert cut == 1 and deflate and target.read_bytes() == data, cut


@pytest.mark.parametrize("write, deflate", WRITERS)
def test_a_truncated_archive_is_refused_naming_it(tmp_path, write, deflate):
    path = write(tmp_path, inner_zip(tmp_path), deflate)
    good = path.read_bytes()
    for keep in (0, 10, 100, len(good) // 2, len(good) - 30, len(good) - 1):
        path.write_bytes(good[:keep])
        with pytest.raises(BadExtract, match=r"^nald_enc.zip"):
            unpack_outer(path, PASSWORD, out_folder(tmp_path), GiB)


def test_a_local_header_that_names_another_member_is_refused(tmp_path):
    data = inner_zip(tmp_path)
    path = zipcrypto(tmp_path, data)
    spoiled = bytearray(path.read_bytes())
    spoiled[30:38] = b"OTHER.zi"  # the local header's name; the directory still says NALD.zip
    path.write_bytes(bytes(spoiled))
    with pytest.raises(
        BadExtract,
        match=r"^nald_enc.zip: wrong password or corrupt member NALD.zip \(its local "
        r"header names 'OTHER.zi'\)",
    ):
        unpack_outer(path, PASSWORD, out_folder(tmp_path), GiB)


def test_zipcrypto_is_decrypted_in_compiled_code_not_a_python_call_per_byte(tmp_path):
    # zipfile's and pyzipper's ZipCrypto make a Python call for every byte: 1.8 MB/s. Counting
    # calls, not seconds, keeps this test free of the machine's speed.
    data = random.Random(5).randbytes(256 << 10)
    path = zipcrypto(tmp_path, data)
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        target = unpack_outer(path, PASSWORD, out_folder(tmp_path), GiB)
    finally:
        sys.setprofile(None)
    assert target.read_bytes() == data
    assert calls < 2_000, f"{calls:,} Python calls to decrypt {len(data):,} bytes"
