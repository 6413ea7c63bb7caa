"""What a file's first bytes say it is: so that a PNG or a ZIP given as JSONL or WARC is one row with a
reason that names what it is, instead of a thousand `invalid_utf8` rows or no row at all."""

from __future__ import annotations

SNIFF_BYTES = 8192

SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"BZh", "bzip2 data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"\x7fELF", "an ELF executable"),
    (b"WARC/", "a WARC file"),
    (b"filedesc://", "an ARC file"),
)


def binary_kind(head: bytes) -> str | None:
    """What `head` (a file's first bytes) is when it cannot be JSON Lines: a known file signature, or NUL
    bytes in a file that does not start like a JSON object (git's test for binary, guarded so that one
    zeroed block in a real JSONL file does not cost the whole file). None: it may be JSON Lines."""
    head = head[:SNIFF_BYTES]
    for magic, kind in SIGNATURES:
        if head.startswith(magic):
            return kind
    if b"\0" in head and not head.lstrip().startswith(b"{"):
        return "binary data (NUL bytes)"
    return None


def describe(head: bytes) -> str:
    """A short, terminal-safe description of a file's first bytes, for error messages."""
    if not head:
        return "nothing (empty)"
    kind = next((k for magic, k in SIGNATURES if head.startswith(magic)), None)
    if kind:
        return kind
    if b"\0" in head[:SNIFF_BYTES]:
        return "binary data (NUL bytes)"
    return f"bytes {head[:24]!r}"
