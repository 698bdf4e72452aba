"""A schema's spooled tables as one gzipped tar stream, written to whatever takes bytes (the upload).

Members are ``<schema>/<table>.csv``. gzip's level is the command-line gzip's
default (6): the standard library's 9 costs about twice the CPU for a few
percent.
"""

from __future__ import annotations

import dataclasses
import gzip
import tarfile
import time
from collections.abc import Iterable

from .spool import Spooled

GZIP_LEVEL = 6
COPY_BUFFER = 1 << 20


@dataclasses.dataclass
class Written:
    tables: int = 0
    rows: int = 0
    csv_bytes: int = 0


def write_tarball(schema: str, spooled: Iterable[Spooled], out) -> Written:
    written = Written()
    now = int(time.time())
    with (
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=GZIP_LEVEL, mtime=now) as gz,
        tarfile.TarFile(fileobj=gz, mode="w", copybufsize=COPY_BUFFER) as tar,
    ):
        for table in spooled:
            with table.file:
                member = tarfile.TarInfo(f"{schema}/{table.table}.csv")
                member.size, member.mtime, member.mode = table.size, now, 0o644
                tar.addfile(member, table.file)
            written.tables += 1
            written.rows += table.rows
            written.csv_bytes += table.size
    return written
