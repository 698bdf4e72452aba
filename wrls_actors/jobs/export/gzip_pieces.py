"""One gzip stream made of pieces compressed apart, so a table can be compressed while its ``COPY`` runs.

A tar member's size comes before its bytes, so a table's header is known
only once its ``COPY`` has ended; compressing its bytes then, one table after
another, left gzip waiting on PostgreSQL and PostgreSQL on gzip. Here each
piece (a table's bytes, a tar header, the tar's end) is raw deflate ended by a
sync flush (byte-aligned, not final), so the pieces put side by side in the
stream's order are one valid deflate stream, the way ``pigz`` joins the blocks
it compresses in parallel. The gzip trailer's CRC-32 of the whole is made
from each piece's own CRC (``crc32_combine``). Readers see one ordinary gzip
member; only the compressed bytes differ from compressing the whole at once
(a piece starts without the window of the one before: a few bytes more per table).
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import IO

LEVEL = 6  # the gzip command's default: level 9 costs about twice the CPU for a few percent
_RAW = -15  # raw deflate: no zlib header or trailer, the gzip framing is written here
_POLY = 0xEDB88320  # CRC-32's polynomial, bits reversed as zlib's crc32 uses it


def gzip_header(mtime: int) -> bytes:
    """Magic, deflate, no flags, the mtime, no extra flags, OS unknown (what Python's gzip writes)."""
    return b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime & 0xFFFFFFFF) + b"\x00\xff"


def gzip_trailer(crc: int, length: int) -> bytes:
    return struct.pack("<II", crc, length & 0xFFFFFFFF)


def deflate_piece(data: bytes) -> bytes:
    """``data`` alone as a piece: compressed, ended by a sync flush."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, _RAW)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def deflate_last(data: bytes) -> bytes:
    """The stream's last piece: the final deflate block."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, _RAW)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


class PieceWriter(io.RawIOBase):
    """A piece written as it comes: compressed into ``out``, its CRC-32 and length counted.

    Meant behind an ``io.BufferedWriter``, so zlib gets large chunks (it lets
    go of the GIL while it compresses them) however small the writes are.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.crc = 0
        self.length = 0
        self._compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, _RAW)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)
        self.out.write(self._compressor.compress(data))
        return len(data)

    def end(self) -> None:
        """The sync flush that lets the next piece follow; nothing may be written after it."""
        self.out.write(self._compressor.flush(zlib.Z_SYNC_FLUSH))


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from A's, B's and B's length (zlib has it in C, Python's zlib does not expose it).

    Appending a zero bit to a message is a linear map on its CRC register;
    B's length in zero bytes is applied to A's CRC by squaring that map
    (``length2``'s bits pick the powers), then B's CRC is added in. B's own
    pre- and post-conditioning cancel out in the XOR, as in zlib.
    """
    if length2 <= 0:
        return crc1
    one_bit = [_POLY] + [1 << n for n in range(31)]
    two_bits = _square(one_bit)
    operator = _square(two_bits)  # four zero bits; squared once more below: one zero byte
    while length2:
        operator = _square(operator)
        if length2 & 1:
            crc1 = _times(operator, crc1)
        length2 >>= 1
    return crc1 ^ crc2


def _times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, column) for column in matrix]
