"""Records that could not become documents still become rows: in the read stage's rejected set, with
the file, the offset or line, the error and (a prefix of) whatever text there was."""

from __future__ import annotations

from typing import Any

from pipeline.readers.inputs import InputFile
from pipeline.schema import Document

TEXT_PREFIX_CHARS = 65_536  # rejected rows keep this much of an oversized or broken record


def quarantine(
    file: InputFile,
    reason: str,
    *,
    where: str,
    error: str | None = None,
    text: str = "",
    doc_id: str | None = None,
    url: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Document, str]:
    """A rejected read record. `where` is the byte offset or line (e.g. "offset:1234", "line:17")."""
    meta = {**(metadata or {}), "file": file.rel, "where": where}
    if error:
        meta["error"] = error[:2000]
    if len(text) > TEXT_PREFIX_CHARS:
        meta["original_chars"] = len(text)
        text = text[:TEXT_PREFIX_CHARS]
    return Document(
        id=doc_id or f"{file.rel}#{where}", text=text, source=file.source, url=url, metadata=meta
    ), reason


def sized(doc: Document, file: InputFile, max_bytes: int, where: str) -> tuple[Document, str | None]:
    """Pass a document through, or quarantine it as `too_large` when its UTF-8 text exceeds the limit."""
    n = len(doc.text.encode("utf-8", "surrogatepass"))
    if n > max_bytes:
        return quarantine(
            file,
            "too_large",
            where=where,
            error=f"{n} bytes > max_document_bytes {max_bytes}",
            text=doc.text,
            doc_id=doc.id,
            url=doc.url,
            metadata={**doc.metadata, "bytes": n},
        )
    return doc, None
