"""The outer archive's member, decrypted and inflated by compiled code.

zipfile and pyzipper decrypt ZipCrypto a byte at a time in Python (under 2 MB/s:
9 minutes of a 1 GB extract). stream-unzip does it in Cython and AES through
pycryptodome, and checks the CRC-32 (or AES's HMAC) and both sizes at the end.

It reads a zip from its first local header on; here it is handed the file from
the member's own local header, found through the central directory that
archive.py has already checked, and only that member is read. Its errors come
out as ``WrongPassword`` (the password check failed) or ``Corrupt`` (anything
else: a wrong password that passed the check ends here too).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import stream_unzip

from ..errors import JobError

READ_CHUNK = 1 << 20


class WrongPassword(JobError):
    """The member's password check failed."""


class Corrupt(JobError):
    """The member cannot be read back as its headers describe it."""


# stream-unzip's errors carry no text; these say what they mean.
_REASONS: list[tuple[type[Exception], str]] = [
    (stream_unzip.CRC32IntegrityError, "Bad CRC-32"),
    (stream_unzip.HMACIntegrityError, "Bad HMAC check"),
    (stream_unzip.SizeIntegrityError, "its size differs from its header's"),
    (stream_unzip.TruncatedDataError, "the archive ends inside it"),
    (stream_unzip.UncompressError, "its compressed data is invalid"),
    (stream_unzip.UnsupportedCompressionTypeError, "a compression method that is not read"),
    (stream_unzip.UnsupportedFeatureError, "a zip feature that is not read"),
    (stream_unzip.UnexpectedSignatureError, "no local header where the directory points"),
    (stream_unzip.UnzipError, "unreadable"),
]


def _reason(error: Exception) -> str:
    return next(text for kind, text in _REASONS if isinstance(error, kind))


def _file_chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(READ_CHUNK):
        yield chunk


class MemberStream:
    """``read()`` of the member's plain bytes; a call returns at most ``size`` bytes, b"" at its end."""

    def __init__(self, file: BinaryIO, files: Iterator, chunks: Iterator[bytes]) -> None:
        self._file, self._files, self._chunks = file, files, chunks
        self._pending = memoryview(b"")

    def read(self, size: int = READ_CHUNK) -> bytes:
        # An empty chunk is not the end: the checksum and sizes are checked only once the chunks run out.
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return b""
            except stream_unzip.IncorrectPasswordError:
                raise WrongPassword() from None
            except stream_unzip.UnzipError as e:
                raise Corrupt(_reason(e)) from None
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return bytes(chunk)

    def close(self) -> None:
        for generator in (self._chunks, self._files):
            close = getattr(generator, "close", None)
            if close is not None:
                close()
        self._file.close()

    def __enter__(self) -> MemberStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_member(path: Path, member: zipfile.ZipInfo, password: bytes, chunk_size: int = READ_CHUNK) -> MemberStream:
    """The decrypted, inflated bytes of ``member`` (from ``path``'s central directory) as a stream.

    Nothing is checked against a size limit here: the caller counts what it reads.
    """
    file = path.open("rb")
    try:
        file.seek(member.header_offset)
        files = stream_unzip.stream_unzip(_file_chunks(file), password=password, chunk_size=chunk_size)
        name, _size, chunks = next(files)
    except StopIteration:
        file.close()
        raise Corrupt("no local header where the directory points") from None
    except stream_unzip.IncorrectPasswordError:
        file.close()
        raise WrongPassword() from None
    except stream_unzip.UnzipError as e:
        file.close()
        raise Corrupt(_reason(e)) from None
    except BaseException:
        file.close()
        raise
    local_name = name.decode("utf-8" if member.flag_bits & 0x800 else "cp437", "replace")
    if local_name != member.orig_filename:
        file.close()
        raise Corrupt(f"its local header names {local_name!r}")
    return MemberStream(file, files, chunks)
