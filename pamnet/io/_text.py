"""Bytes in, text out: size limits, encoding detection, binary-garbage detection."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pamnet.errors import EmptyInputError, EncodingError, TooLargeError


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what a reader accepts; over either -> `TooLargeError`."""

    max_bytes: int = 20_000_000  # a 100k-atom PDB is about 8 MB
    max_atoms: int = 100_000  # per structure; the model's memory grows with it


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def read_bytes(path: str | os.PathLike, limits: Limits) -> bytes:
    """The file's bytes, refusing files over `limits.max_bytes` before reading them."""
    p = Path(path)
    size = p.stat().st_size
    if size > limits.max_bytes:
        raise TooLargeError(
            f"{p.name} is {mb(size)}, over the {mb(limits.max_bytes)} limit; "
            "split it or raise Limits(max_bytes=...)"
        )
    return p.read_bytes()


def check_size(data: bytes, limits: Limits, source: str) -> None:
    if len(data) > limits.max_bytes:
        raise TooLargeError(
            f"{source} is {mb(len(data))}, over the {mb(limits.max_bytes)} limit; "
            "split it or raise Limits(max_bytes=...)"
        )


_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}


def decompress(data: bytes, limits: Limits, source: str) -> bytes:
    """gzip/bzip2/xz bytes decompressed (recognised by their content, not the name),
    never past `limits.max_bytes` (a small bomb cannot fill memory); others unchanged."""
    kind = next((k for magic, k in _COMPRESSED.items() if data.startswith(magic)), None)
    if kind is None:
        return data
    import bz2
    import gzip
    import io
    import lzma
    import zlib

    buf = io.BytesIO(data)
    opener = {
        "gzip": lambda: gzip.GzipFile(fileobj=buf),
        "bz2": lambda: bz2.BZ2File(buf),
        "xz": lambda: lzma.LZMAFile(buf),
    }[kind]
    try:
        with opener() as fh:
            out = fh.read(limits.max_bytes + 1)
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as exc:
        raise EncodingError(
            f"{source} looks {kind}-compressed but cannot be read ({exc})"
        ) from None
    if len(out) > limits.max_bytes:
        raise TooLargeError(
            f"{source} decompresses to over the {mb(limits.max_bytes)} limit; "
            "split it or raise Limits(max_bytes=...)"
        )
    return out


_WHITESPACE_CONTROLS = {9, 10, 11, 12, 13}


def decode(data: bytes, source: str) -> str:
    """UTF-8 (BOM allowed), else Latin-1. Binary data -> `EncodingError`."""
    if not data.strip():
        raise EmptyInputError(f"{source} is empty; give a file with at least one atom")
    if data[257:262] == b"ustar":
        raise EncodingError(f"{source} is a tar archive; extract the structure file first")
    if data[:4] == b"PK\x03\x04":
        raise EncodingError(f"{source} is a zip archive; extract the structure file first")
    if b"\x00" in data:
        raise EncodingError(
            f"{source} contains NUL bytes, so it is binary (or UTF-16), not a text "
            "structure file; save it as plain text (UTF-8)"
        )
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in _WHITESPACE_CONTROLS)
    if controls > max(4, len(sample) // 100):
        raise EncodingError(
            f"{source} has {controls} control characters in its first "
            f"{len(sample)} bytes, so it looks binary; give a text structure file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_lines(text: str) -> list[str]:
    """Lines without terminators; handles \\n, \\r\\n and lone \\r."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def check_atoms(n: int, limits: Limits, source: str) -> None:
    if n > limits.max_atoms:
        raise TooLargeError(
            f"{source} has {n:,} atoms, over the {limits.max_atoms:,}-atom limit; "
            "cut out the region you need or raise Limits(max_atoms=...)"
        )
