"""A zip archive with one member under ZipCrypto (PKWARE's traditional encryption), written here.

Python's zipfile reads ZipCrypto but cannot write it, and real NALD extracts may
use it. Written from APPNOTE.TXT 6.1 (the keys, the 12-byte header whose last
byte is the check byte), stored or deflated, no data descriptor.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0xEDB88320 if _c & 1 else _c >> 1
    _TABLE.append(_c)


class Keys:
    def __init__(self, password: bytes) -> None:
        self.k0, self.k1, self.k2 = 0x12345678, 0x23456789, 0x34567890
        for byte in password:
            self.update(byte)

    @staticmethod
    def _crc(crc: int, byte: int) -> int:
        return (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]

    def update(self, byte: int) -> None:
        self.k0 = self._crc(self.k0, byte)
        self.k1 = ((self.k1 + (self.k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        self.k2 = self._crc(self.k2, self.k1 >> 24)

    def stream_byte(self) -> int:
        temp = (self.k2 | 2) & 0xFFFF
        return ((temp * (temp ^ 1)) >> 8) & 0xFF

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for plain in data:
            out.append(plain ^ self.stream_byte())
            self.update(plain)
        return bytes(out)

    def decrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for cipher in data:
            plain = cipher ^ self.stream_byte()
            out.append(plain)
            self.update(plain)
        return bytes(out)


def encryption_header(crc: int, seed: int = 0) -> bytes:
    """11 bytes of noise and the check byte: the CRC's high byte."""
    return random.Random(seed).randbytes(11) + bytes([crc >> 24])


def passes_check(header: bytes, crc: int, password: bytes) -> bool:
    """Whether ``password`` gets past the reader's one-byte password check."""
    return Keys(password).decrypt(header)[11] == crc >> 24


def write_zipcrypto(path: Path, name: str, data: bytes, password: bytes, seed: int = 0, deflate: bool = False) -> bytes:
    """Write ``path``: one member ``name`` holding ``data``; returns its encrypted 12-byte header."""
    crc = zlib.crc32(data)
    keys = Keys(password)
    header = keys.encrypt(encryption_header(crc, seed))
    packed = data
    if deflate:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        packed = compressor.compress(data) + compressor.flush()
    body = header + keys.encrypt(packed)
    raw_name = name.encode()
    flags, method, time, date = 0x1, 8 if deflate else 0, 0, (2026 - 1980) << 9 | 1 << 5 | 1
    local = (
        struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, flags, method, time, date, crc, len(body), len(data), len(raw_name), 0
        )
        + raw_name
    )
    central = (
        struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            flags,
            method,
            time,
            date,
            crc,
            len(body),
            len(data),
            len(raw_name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + raw_name
    )
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    path.write_bytes(local + body + central + end)
    return header
