"""The NALD extract's two archives: ``nald_enc.zip`` (password protected)
holding ``NALD.zip``, holding one CSV per table.

Nothing is trusted before it is checked: every member name must stay inside
the extraction folder, and every member must be within the size limit and the
compression-ratio limit (a zip bomb's tell: deflated CSV is 5 to 15 times
smaller, zeros 1,000 times), checked against the archive's directory before
anything is unpacked and again while bytes flow (a directory can lie, and a
reader other than zipfile may not hold the member to its directory entry).
The password is handed to the decryptor in memory, never to a command line.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Protocol

from ..errors import PermanentJobError
from . import decrypt

INNER_NAME = "NALD.zip"
CORRUPT = (zipfile.BadZipFile, decrypt.Corrupt, zlib.error, EOFError)
CHUNK = 1 << 20
# Default of WRLS_NALD_MAX_RATIO: seven times the most compressible real table, a tenth of zeros.
MAX_RATIO = 100
# A member this small is never refused for its ratio: it cannot be a bomb, and a tiny file of
# repeated values may well deflate past the limit.
RATIO_EXEMPT_BYTES = 1 << 20
# The central directory of a NALD archive lists about fifty members: a few kilobytes.
MAX_DIRECTORY_BYTES = 1 << 20
_EOCD_SEARCH = 22 + 0xFFFF  # the end record and the longest comment it may carry
# What NALD.zip's members may use: what zip tools write by default. Anything else zipfile
# either cannot read or reads with decompressors whose errors are not told from a disk's.
INNER_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


class BadExtract(PermanentJobError):
    """The extract cannot be imported as it is; the message names the file (and line)."""


def _escapes(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def _ratio_limit(compressed: int, max_ratio: int) -> int:
    """The most bytes a member of ``compressed`` bytes may unpack to."""
    return max(RATIO_EXEMPT_BYTES, max_ratio * compressed)


def check_members(archive: str, members: list[zipfile.ZipInfo], max_bytes: int, max_ratio: int = MAX_RATIO) -> None:
    for member in members:
        if _escapes(member.filename):
            raise BadExtract(f"{archive}: member {member.filename!r} would be written outside the extraction folder")
        if member.file_size > max_bytes:
            raise BadExtract(
                f"{archive}: member {member.filename} is {member.file_size:,} bytes unpacked, "
                f"over the limit of {max_bytes:,} (WRLS_NALD_MAX_MEMBER_BYTES)"
            )
        if member.file_size > _ratio_limit(member.compress_size, max_ratio):
            raise BadExtract(
                f"{archive}: member {member.filename} is {member.file_size:,} bytes unpacked from "
                f"{member.compress_size:,}, over the compression ratio limit of {max_ratio} "
                "(WRLS_NALD_MAX_RATIO)"
            )


class Stream(Protocol):
    """What LimitedReader reads: a file, or decrypt's MemberStream."""

    def read(self, size: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


class LimitedReader:
    """A member's bytes, refusing to go past the size and ratio limits whatever the directory said.

    ``compressed`` is the member's compressed size (the ratio is not checked without it);
    ``encrypted`` says a decompression failure may be a wrong password that passed the
    password check (ZipCrypto's check is one byte: 1 wrong password in 256 passes it).
    """

    def __init__(
        self,
        stream: Stream,
        archive: str,
        member: str,
        max_bytes: int,
        *,
        compressed: int | None = None,
        max_ratio: int = MAX_RATIO,
        encrypted: bool = False,
    ) -> None:
        self.stream, self.archive, self.member, self.max_bytes = stream, archive, member, max_bytes
        self.max_ratio = max_ratio
        self.ratio_bytes = None if compressed is None else _ratio_limit(compressed, max_ratio)
        self.compressed = compressed
        self.encrypted = encrypted
        self.total = 0

    def __enter__(self) -> LimitedReader:
        return self

    def __exit__(self, *exc) -> None:
        self.stream.close()

    def read(self, size: int = CHUNK) -> bytes:
        try:
            chunk = self.stream.read(size)
        except CORRUPT as e:
            raise _corrupt(self.archive, self.member, self.encrypted, e) from None
        self.total += len(chunk)
        if self.total > self.max_bytes:
            raise BadExtract(
                f"{self.archive}: member {self.member} unpacks to more than {self.max_bytes:,} bytes "
                "(WRLS_NALD_MAX_MEMBER_BYTES)"
            )
        if self.ratio_bytes is not None and self.total > self.ratio_bytes:
            raise BadExtract(
                f"{self.archive}: member {self.member} unpacks to more than {self.ratio_bytes:,} bytes "
                f"from {self.compressed:,}, over the compression ratio limit of {self.max_ratio} "
                "(WRLS_NALD_MAX_RATIO)"
            )
        return chunk


def _encrypted(member: zipfile.ZipInfo) -> bool:
    return bool(member.flag_bits & 0x1)


def _corrupt(archive: str, member: str, encrypted: bool, error: Exception) -> BadExtract:
    # An encrypted member that fails to decompress or to match its checksum may have been opened
    # with a wrong password that passed the password check (one byte for ZipCrypto, two for AES).
    if encrypted:
        return BadExtract(f"{archive}: wrong password or corrupt member {member} ({error})")
    return BadExtract(f"{archive}: member {member} is corrupt ({error})")


def _directory_size(path: Path) -> int | None:
    """The size its end record gives the archive's central directory (None: no end record found)."""
    with path.open("rb") as file:
        length = file.seek(0, 2)
        tail_start = max(0, length - _EOCD_SEARCH)
        file.seek(tail_start)
        tail = file.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) < at + 22:
            return None
        size = struct.unpack_from("<L", tail, at + 12)[0]
        if size != 0xFFFFFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
            return size
        # Zip64: the locator just before the end record points at the zip64 end record.
        file.seek(struct.unpack_from("<Q", tail, at - 12)[0])
        record = file.read(56)
        return struct.unpack_from("<Q", record, 40)[0] if len(record) == 56 and record[:4] == b"PK\x06\x06" else None


def _open_zip(path: Path) -> zipfile.ZipFile:
    # zipfile reads the whole central directory into memory, an object per entry, before anything
    # can be checked: a directory of millions of entries would take gigabytes.
    directory = _directory_size(path)
    if directory is not None and directory > MAX_DIRECTORY_BYTES:
        raise BadExtract(
            f"{path.name}: its directory is {directory:,} bytes, over the limit of "
            f"{MAX_DIRECTORY_BYTES:,} (a NALD archive's is a few kilobytes)"
        )
    try:
        return zipfile.ZipFile(path)
    except (*CORRUPT, ValueError) as e:
        raise BadExtract(f"{path.name} is not a readable zip archive ({e})") from None


def unpack_outer(archive: Path, password: str, folder: Path, max_bytes: int, max_ratio: int = MAX_RATIO) -> Path:
    """Decrypt ``NALD.zip`` out of the outer archive into ``folder``; returns its path."""
    with _open_zip(archive) as outer:
        members = outer.infolist()
    check_members(archive.name, members, max_bytes, max_ratio)
    inner = next((m for m in members if PurePosixPath(m.filename).name == INNER_NAME), None)
    if inner is None:
        names = ", ".join(m.filename for m in members) or "nothing"
        raise BadExtract(f"{archive.name} holds no {INNER_NAME} (it holds {names})")
    target = folder / INNER_NAME
    encrypted = _encrypted(inner)
    try:
        with decrypt.open_member(archive, inner, password.encode()) as source, target.open("wb") as out:
            reader = LimitedReader(
                source,
                archive.name,
                inner.filename,
                max_bytes,
                compressed=inner.compress_size,
                max_ratio=max_ratio,
                encrypted=encrypted,
            )
            while chunk := reader.read():
                out.write(chunk)
    except decrypt.WrongPassword:
        raise BadExtract(f"{archive.name}: wrong password for {inner.filename} (WRLS_NALD_ZIP_PASSWORD)") from None
    except CORRUPT as e:
        raise _corrupt(archive.name, inner.filename, encrypted, e) from None
    return target


class InnerArchive:
    """``NALD.zip`` opened: its CSV members, each read as a stream."""

    def __init__(self, path: Path, max_bytes: int, max_ratio: int = MAX_RATIO) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.zip = _open_zip(path)
        try:
            self.members = [m for m in self.zip.infolist() if not m.is_dir()]
            check_members(path.name, self.members, max_bytes, max_ratio)
            for member in self.members:
                if _encrypted(member):
                    raise BadExtract(f"{path.name}: member {member.filename} is encrypted (only the outer archive is)")
                if member.compress_type not in INNER_METHODS:
                    raise BadExtract(
                        f"{path.name}: member {member.filename} uses compression method "
                        f"{member.compress_type}; only {' or '.join(INNER_METHODS.values())} is read"
                    )
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> InnerArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.zip.close()

    def files(self) -> dict[str, zipfile.ZipInfo]:
        """Member file name (without folders) to member; a name found twice is refused (which one is meant?)."""
        files: dict[str, zipfile.ZipInfo] = {}
        for member in self.members:
            name = PurePosixPath(member.filename).name
            if name in files:
                raise BadExtract(
                    f"{self.path.name} holds {name} twice ({files[name].filename!r} and {member.filename!r})"
                )
            files[name] = member
        return files

    def open(self, member: zipfile.ZipInfo) -> LimitedReader:
        """A member's stream (zipfile serialises reads of one archive, so threads may share it)."""
        try:
            stream = self.zip.open(member)
        except (*CORRUPT, ValueError, NotImplementedError, RuntimeError) as e:
            # ValueError: a local header name that does not decode; NotImplementedError and RuntimeError:
            # a compression method or an encryption the directory hid.
            raise BadExtract(f"{self.path.name}: member {member.filename} is corrupt ({e})") from None
        return LimitedReader(
            stream,
            self.path.name,
            member.filename,
            self.max_bytes,
            compressed=member.compress_size,
            max_ratio=self.max_ratio,
        )
