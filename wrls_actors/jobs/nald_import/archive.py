"""The NALD extract's two archives: ``nald_enc.zip`` (password protected)
holding ``NALD.zip``, holding one CSV per table.

Nothing is trusted before it is checked: every member name must stay inside
the extraction folder and every member must be within the size limit, checked
against the archive's directory before anything is unpacked and again while
bytes flow (a directory can lie). The password is handed to the zip library
in memory, never to a command line.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import IO

import pyzipper

from ...runtime import PermanentError

INNER_NAME = "NALD.zip"
# pyzipper carries its own copy of zipfile, with its own exception classes.
CORRUPT = (zipfile.BadZipFile, pyzipper.BadZipFile, zlib.error, EOFError)
CHUNK = 1 << 20


class BadExtract(PermanentError):
    """The extract cannot be imported as it is; the message names the file (and line)."""


def _escapes(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


def check_members(archive: str, members: list[zipfile.ZipInfo], max_bytes: int) -> None:
    for member in members:
        if _escapes(member.filename):
            raise BadExtract(f"{archive}: member {member.filename!r} would be written outside the extraction folder")
        if member.file_size > max_bytes:
            raise BadExtract(f"{archive}: member {member.filename} is {member.file_size:,} bytes unpacked, "
                             f"over the limit of {max_bytes:,} (WRLS_NALD_MAX_MEMBER_BYTES)")


class LimitedReader:
    """A member's bytes, refusing to go past the size limit whatever the directory said."""

    def __init__(self, stream: IO[bytes], archive: str, member: str, max_bytes: int) -> None:
        self.stream, self.archive, self.member, self.max_bytes = stream, archive, member, max_bytes
        self.total = 0

    def __enter__(self) -> "LimitedReader":
        return self

    def __exit__(self, *exc) -> None:
        self.stream.close()

    def read(self, size: int = CHUNK) -> bytes:
        try:
            chunk = self.stream.read(size)
        except CORRUPT as e:
            raise BadExtract(f"{self.archive}: member {self.member} is corrupt ({e})") from None
        self.total += len(chunk)
        if self.total > self.max_bytes:
            raise BadExtract(f"{self.archive}: member {self.member} unpacks to more than {self.max_bytes:,} bytes "
                             "(WRLS_NALD_MAX_MEMBER_BYTES)")
        return chunk


def _open_zip(path: Path, cls=zipfile.ZipFile) -> zipfile.ZipFile:
    try:
        return cls(path)
    except (*CORRUPT, ValueError) as e:
        raise BadExtract(f"{path.name} is not a readable zip archive ({e})") from None


def unpack_outer(archive: Path, password: str, folder: Path, max_bytes: int) -> Path:
    """Decrypt ``NALD.zip`` out of the outer archive into ``folder``; returns its path."""
    with _open_zip(archive, pyzipper.AESZipFile) as outer:
        members = outer.infolist()
        check_members(archive.name, members, max_bytes)
        inner = next((m for m in members if PurePosixPath(m.filename).name == INNER_NAME), None)
        if inner is None:
            names = ", ".join(m.filename for m in members) or "nothing"
            raise BadExtract(f"{archive.name} holds no {INNER_NAME} (it holds {names})")
        outer.setpassword(password.encode())
        target = folder / INNER_NAME
        try:
            with outer.open(inner) as source, target.open("wb") as out:
                reader = LimitedReader(source, archive.name, inner.filename, max_bytes)
                while chunk := reader.read():
                    out.write(chunk)
        except RuntimeError as e:
            # zipfile and pyzipper say "Bad password" / "password required" with RuntimeError.
            if "password" in str(e).lower():
                raise BadExtract(f"{archive.name}: wrong password for {inner.filename} "
                                 "(WRLS_NALD_ZIP_PASSWORD)") from None
            raise
        except CORRUPT as e:
            raise BadExtract(f"{archive.name}: member {inner.filename} is corrupt ({e})") from None
    return target


class InnerArchive:
    """``NALD.zip`` opened: its CSV members, each read as a stream."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.zip = _open_zip(path)
        self.members = [m for m in self.zip.infolist() if not m.is_dir()]
        check_members(path.name, self.members, max_bytes)

    def __enter__(self) -> "InnerArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.zip.close()

    def files(self) -> dict[str, zipfile.ZipInfo]:
        """Member file name (without folders) to member."""
        return {PurePosixPath(m.filename).name: m for m in self.members}

    def open(self, member: zipfile.ZipInfo) -> LimitedReader:
        """A member's stream (zipfile serialises reads of one archive, so threads may share it)."""
        try:
            stream = self.zip.open(member)
        except CORRUPT as e:
            raise BadExtract(f"{self.path.name}: member {member.filename} is corrupt ({e})") from None
        return LimitedReader(stream, self.path.name, member.filename, self.max_bytes)
