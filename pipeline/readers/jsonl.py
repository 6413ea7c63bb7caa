"""JSON Lines reader (.jsonl, .json, .gz, .zst), streaming with memory bounded by max_document_bytes.

A line that is not valid UTF-8 or JSON, or has no text field, is quarantined with its line number; a
line longer than the limit is quarantined as `too_large` without ever being held whole in memory. A
corrupt or truncated compressed stream keeps every line decoded before the damage, and the damaged
tail is one `corrupt_compression` row with the offset where reading stopped and what was lost (see
`pipeline/readers/loss.py`). A file that is no text at all (an image, an archive) is one `not_jsonl` row.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import zstandard

from pipeline import storage
from pipeline.readers import loss, sniff
from pipeline.readers.inputs import InputFile
from pipeline.readers.quarantine import quarantine
from pipeline.schema import Document

CHUNK = 1 << 16
FEED = 1 << 12  # compressed bytes per decoder call: what a corrupt spot can cost of the lines before it


class CorruptStream(Exception):
    """The compressed stream cannot be decoded past `offset` (a byte offset in the compressed file)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset


class NotJsonl(Exception):
    """The file's first bytes say it is something else (an image, an archive, binary data)."""


Chunk = tuple[bytes, int, int]
"""Decompressed bytes and the span [start, end) of compressed bytes that produced them."""


def decompressed_chunks(path: str, start: int = 0) -> Iterator[Chunk]:
    """Decompressed bytes in chunks, by file name (.gz, .zst/.zstd, else raw), with their compressed span.

    Fed to the decoder FEED bytes at a time, so that everything before a corrupt or truncated spot is
    delivered before `CorruptStream` is raised, and the span says how far into the file each chunk is.
    A raw file can be entered at `start`: the chunks begin at the first line that starts at or after it.
    """
    with storage.open_input(path) as raw:
        if start:
            yield from _chunks_from(raw, start)
            return
        if path.endswith(".gz"):
            new: Any = lambda: zlib.decompressobj(wbits=47)  # noqa: E731
        elif path.endswith((".zst", ".zstd")):
            new = zstandard.ZstdDecompressor().decompressobj
        else:
            pos = 0
            while chunk := raw.read(CHUNK):
                yield chunk, pos, pos + len(chunk)
                pos += len(chunk)
            return
        d, fed = new(), False
        pos = mark = 0  # compressed bytes consumed; consumed when the last chunk was yielded
        while chunk := raw.read(CHUNK):
            for i in range(0, len(chunk), FEED):
                piece = chunk[i : i + FEED]
                while piece:
                    try:
                        out = d.decompress(piece)
                    except (zlib.error, zstandard.ZstdError) as exc:
                        raise CorruptStream(pos, f"{type(exc).__name__}: {exc}") from exc
                    fed = True
                    if d.eof:  # a gzip member or zstd frame ended: the next one starts in `unused_data`
                        pos += len(piece) - len(d.unused_data)
                        piece, d, fed = d.unused_data, new(), False
                    else:
                        pos += len(piece)
                        piece = b""
                    if out:
                        yield out, mark, pos
                        mark = pos
        if fed and not d.eof:
            raise CorruptStream(
                pos, "compressed stream ended before its end-of-stream marker (truncated file)"
            )


def _chunks_from(raw: Any, start: int) -> Iterator[Chunk]:
    """Raw chunks from the first line start at or after `start` (the line that byte start-1 is in
    belongs to the range before)."""
    raw.seek(start - 1)
    pos = start - 1
    in_earlier_line = True
    while chunk := raw.read(CHUNK):
        if in_earlier_line:
            nl = chunk.find(b"\n")
            if nl < 0:
                pos += len(chunk)
                continue
            chunk, pos, in_earlier_line = chunk[nl + 1 :], pos + nl + 1, False
            if not chunk:
                continue
        yield chunk, pos, pos + len(chunk)
        pos += len(chunk)


def _text_only(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """The chunks, after checking that the first one does not say the file is an image, archive, ..."""
    checked = False
    for chunk in chunks:
        if not checked and chunk[0]:
            kind = sniff.binary_kind(chunk[0])
            if kind:
                raise NotJsonl(kind)
            checked = True
        yield chunk


def _lines(chunks: Iterator[Chunk], limit: int) -> Iterator[tuple[bytes, bool, int, int]]:
    """(line, complete, begin, end) tuples; a line over `limit` bytes yields its first `limit` bytes and
    complete=False, and the rest of it is skipped without being held in memory. `begin` and `end` are
    the compressed offsets where the line starts and ends, interpolated within the chunk its newline
    came in (exact in a raw file)."""
    buf = b""
    skipping = False
    begin = end = -1
    for data, c0, c1 in chunks:
        if begin < 0:
            begin = c0
        held = len(buf)  # bytes before this chunk; they hold no newline
        buf += data
        pos = 0
        while (nl := buf.find(b"\n", pos)) >= 0:
            line, pos = buf[pos : nl + 1], nl + 1
            end = c0 + (c1 - c0) * (nl + 1 - held) // len(data)
            if skipping:
                skipping = False
            elif len(line) > limit:
                yield line[:limit], False, begin, end
            else:
                yield line, True, begin, end
            begin = end
        buf = buf[pos:]
        end = c1
        if len(buf) > limit:
            if not skipping:
                yield buf[:limit], False, begin, end
                skipping = True
            buf = b""
    if buf and not skipping:
        yield (buf, True, begin, end) if len(buf) <= limit else (buf[:limit], False, begin, end)


def _field(obj: dict[str, Any], name: str | None) -> Any:
    """Nested fields with dots: `metadata.url`."""
    if not name:
        return None
    cur: Any = obj
    for part in name.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def read_jsonl(
    file: InputFile, cfg: Any, skipped: Counter[str] | None = None
) -> Iterator[tuple[Document, str | None]]:
    skipped = skipped if skipped is not None else Counter()
    lineno = rows = good_until = 0  # good_until: compressed offset after the last line read
    try:
        if file.start:
            # A later range of a large raw file: the first range says it once if the file is not text.
            with storage.open_input(file.path) as head:
                if sniff.binary_kind(head.read(sniff.SNIFF_BYTES)):
                    return
            chunks = decompressed_chunks(file.path, file.start)
        else:
            chunks = _text_only(decompressed_chunks(file.path))
        for raw, complete, begin, end in _lines(chunks, cfg.max_document_bytes + 4096):
            lineno += 1
            good_until = end
            if file.end is None:
                where, fallback_id = f"line:{lineno}", f"{file.rel}:{lineno}"
            elif begin >= file.end:
                break  # the next range's first line
            else:  # line numbers are unknown inside a range: lines are named by their byte offset
                where, fallback_id = f"byte:{begin}", f"{file.rel}@{begin}"
            if not complete:
                rows += 1
                text = raw.decode("utf-8", "replace")
                yield quarantine(
                    file,
                    "too_large",
                    where=where,
                    text=text,
                    error=f"line longer than {cfg.max_document_bytes} bytes",
                )
                continue
            if not raw.strip():
                continue
            rows += 1
            yield _parse_line(raw, file, cfg, fallback_id, where)
    except NotJsonl as exc:
        size = storage.size(file.path)
        yield loss.whole_file(
            file, "not_jsonl", size=size, cause=f"the file is {exc}, not JSON Lines", skipped=skipped
        )
    except CorruptStream as exc:
        # Bad content only: an OSError is storage (a transient one was retried already) and fails the
        # task, so the file is read again by the next run instead of being lost.
        bytes_lost = max(storage.size(file.path) - good_until, 0)
        yield loss.lost(
            file,
            "corrupt_compression",
            where=f"line:{lineno + 1}",
            offset=good_until,
            bytes_lost=bytes_lost,
            records_lost_estimate=loss.estimate_records(bytes_lost, good_until, rows),
            error=f"{exc} (at compressed byte {exc.offset}); the {bytes_lost} bytes after byte "
            f"{good_until}, from line {lineno + 1} on, are unreadable",
            skipped=skipped,
        )


def _parse_line(
    raw: bytes, file: InputFile, cfg: Any, fallback_id: str, where: str
) -> tuple[Document, str | None]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return quarantine(
            file, "invalid_utf8", where=where, error=str(exc), text=raw.decode("utf-8", "replace")
        )
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return quarantine(file, "invalid_json", where=where, error=str(exc), text=line)
    if not isinstance(obj, dict):
        return quarantine(file, "invalid_json", where=where, error="a line must be a JSON object", text=line)
    return record_to_document(obj, file, cfg, where, fallback_id)


def record_to_document(
    obj: dict[str, Any], file: InputFile, cfg: Any, where: str, fallback_id: str
) -> tuple[Document, str | None]:
    """Map a JSON/Parquet record to a Document using the source's field names."""
    text = _field(obj, cfg.text_field)
    raw_id = _field(obj, cfg.id_field)
    doc_id = str(raw_id) if raw_id not in (None, "") else fallback_id
    url = _field(obj, cfg.url_field)
    url = str(url) if url is not None else None
    meta = {"file": file.rel, "where": where}
    extra = obj.get("metadata")
    if isinstance(extra, dict):
        meta["source_metadata"] = extra
    if not isinstance(text, str):
        return quarantine(
            file,
            "missing_text_field",
            where=where,
            doc_id=doc_id,
            url=url,
            error=f"field {cfg.text_field!r} is missing or not a string",
            metadata=meta,
        )
    if not text.strip():
        return quarantine(file, "empty_text", where=where, doc_id=doc_id, url=url, metadata=meta)
    n = len(text.encode("utf-8", "surrogatepass"))
    if n > cfg.max_document_bytes:
        return quarantine(
            file,
            "too_large",
            where=where,
            doc_id=doc_id,
            url=url,
            text=text,
            metadata=meta,
            error=f"{n} bytes > max_document_bytes {cfg.max_document_bytes}",
        )
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text if c >= "\ud800"):
        return quarantine(
            file,
            "invalid_utf8",
            where=where,
            doc_id=doc_id,
            url=url,
            metadata=meta,
            error="text contains lone surrogates",
            text=text.encode("utf-8", "replace").decode(),
        )
    return Document(id=doc_id, text=text, source=file.source, url=url, metadata=meta), None
