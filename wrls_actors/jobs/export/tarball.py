"""A schema's spooled tables as one gzipped tar stream, written to whatever takes bytes (the upload).

Members are ``<schema>/<table>.csv``. Each table comes already compressed,
padded to tar's blocks (spool.py); this puts the gzip header, each member's
tar header and the tar's end, compressed as pieces of the same stream, around
them, and the trailer's CRC-32 made from the pieces' (gzip_pieces.py).
"""

from __future__ import annotations

import dataclasses
import shutil
import tarfile
import time
import zlib
from collections.abc import Iterable

from .gzip_pieces import crc32_combine, deflate_last, deflate_piece, gzip_header, gzip_trailer
from .spool import Spooled

COPY_BUFFER = 1 << 20


@dataclasses.dataclass
class Written:
    tables: int = 0
    rows: int = 0
    csv_bytes: int = 0


class _Stream:
    """The gzip stream: what went in so far, uncompressed, as its length and CRC-32."""

    def __init__(self, out) -> None:
        self.out, self.crc, self.length = out, 0, 0

    def add(self, crc: int, length: int) -> None:
        self.crc = crc32_combine(self.crc, crc, length)
        self.length += length

    def piece(self, data: bytes, last: bool = False) -> None:
        self.out.write(deflate_last(data) if last else deflate_piece(data))
        self.add(zlib.crc32(data), len(data))


def write_tarball(schema: str, spooled: Iterable[Spooled], out) -> Written:
    written = Written()
    now = int(time.time())
    stream = _Stream(out)
    out.write(gzip_header(now))
    for table in spooled:
        with table.file:
            member = tarfile.TarInfo(f"{schema}/{table.table}.csv")
            member.size, member.mtime, member.mode = table.size, now, 0o644
            stream.piece(member.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
            shutil.copyfileobj(table.file, out, COPY_BUFFER)
            stream.add(table.crc, table.length)
        written.tables += 1
        written.rows += table.rows
        written.csv_bytes += table.size
    # tar's end: two zero blocks, then zeros to a whole record, as tarfile writes it.
    end = 2 * tarfile.BLOCKSIZE
    end += -(stream.length + end) % tarfile.RECORDSIZE
    stream.piece(bytes(end), last=True)
    out.write(gzip_trailer(stream.crc, stream.length))
    return written
