"""JSON Lines reader (.jsonl, .json, .gz, .zst), streaming with memory bounded by max_document_bytes.

A line that is not valid UTF-8 or JSON, or has no text field, is quarantined with its line number; a
line longer than the limit is quarantined as `too_large` without ever being held whole in memory; a
corrupt compressed stream is quarantined where it broke, and the lines before it are kept.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

import zstandard

from pipeline import storage
from pipeline.readers.inputs import InputFile
from pipeline.readers.quarantine import quarantine
from pipeline.schema import Document

CHUNK = 1 << 16


def decompressed_chunks(path: str) -> Iterator[bytes]:
    """Decompressed bytes in chunks, by file name (.gz, .zst/.zstd, else raw).

    Chunked rather than a buffered file object so that everything before a corrupt or truncated spot
    is still delivered before the error is raised.
    """
    with storage.open_input(path) as raw:
        if path.endswith(".gz"):
            new: Any = lambda: zlib.decompressobj(wbits=47)  # noqa: E731
        elif path.endswith((".zst", ".zstd")):
            new = zstandard.ZstdDecompressor().decompressobj
        else:
            while chunk := raw.read(CHUNK):
                yield chunk
            return
        d, fed = new(), False
        while chunk := raw.read(CHUNK):
            while chunk:
                out = d.decompress(chunk)
                fed = True
                if out:
                    yield out
                if not d.eof:
                    break
                chunk, d, fed = d.unused_data, new(), False
        if fed and not d.eof:
            raise EOFError("compressed stream ended before its end-of-stream marker (truncated file)")


def _lines(chunks: Iterator[bytes], limit: int) -> Iterator[tuple[bytes, bool]]:
    """(line, complete) pairs; a line over `limit` bytes yields its first `limit` bytes and complete=False,
    and the rest of it is skipped without being held in memory."""
    buf = b""
    skipping = False
    for chunk in chunks:
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[: nl + 1], buf[nl + 1 :]
            if skipping:
                skipping = False
            elif len(line) > limit:
                yield line[:limit], False
            else:
                yield line, True
        if len(buf) > limit:
            if not skipping:
                yield buf[:limit], False
                skipping = True
            buf = b""
    if buf and not skipping:
        yield (buf, True) if len(buf) <= limit else (buf[:limit], False)


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


def read_jsonl(file: InputFile, cfg: Any) -> Iterator[tuple[Document, str | None]]:
    lineno = 0
    try:
        for raw, complete in _lines(decompressed_chunks(file.path), cfg.max_document_bytes + 4096):
            lineno += 1
            where = f"line:{lineno}"
            if not complete:
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
            yield _parse_line(raw, file, cfg, lineno, where)
    except (EOFError, zlib.error, zstandard.ZstdError) as exc:
        # Bad content only: an OSError is storage (a transient one was retried already) and fails the
        # task, so the file is read again by the next run instead of being lost.
        yield quarantine(
            file,
            "corrupt_compression",
            where=f"line:{lineno + 1}",
            error=f"{type(exc).__name__}: {exc}; lines after this point are unreadable",
        )


def _parse_line(
    raw: bytes, file: InputFile, cfg: Any, lineno: int, where: str
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
    return record_to_document(obj, file, cfg, where, f"{file.rel}:{lineno}")


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
