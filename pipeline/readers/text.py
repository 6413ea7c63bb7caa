"""Plain text files, one document per file (code, books, manuals): id = the path relative to the glob root."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline import storage
from pipeline.readers.inputs import InputFile
from pipeline.readers.quarantine import quarantine
from pipeline.schema import Document


def read_text(file: InputFile, cfg: Any) -> Iterator[tuple[Document, str | None]]:
    size = storage.size(file.path)
    if size > cfg.max_document_bytes:
        with storage.open_input(file.path) as f:
            head = f.read(65_536).decode("utf-8", "replace")
        yield quarantine(
            file,
            "too_large",
            where="file",
            doc_id=file.rel,
            text=head,
            error=f"{size} bytes > max_document_bytes {cfg.max_document_bytes}",
        )
        return
    raw = storage.read_bytes(file.path)
    try:
        text = raw.decode(cfg.encoding)
    except UnicodeDecodeError as exc:
        yield quarantine(
            file,
            "invalid_utf8",
            where="file",
            doc_id=file.rel,
            error=str(exc),
            text=raw.decode(cfg.encoding, "replace"),
        )
        return
    if not text.strip():
        yield quarantine(file, "empty_text", where="file", doc_id=file.rel)
        return
    yield (
        Document(id=file.rel, text=text, source=file.source, metadata={"file": file.rel, "bytes": size}),
        None,
    )
