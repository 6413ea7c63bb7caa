"""Readers turn one input file into documents, or quarantined records with a reason.

Each reader is a generator `read(file, source_config) -> Iterator[Record]`: `(doc, None)` for a
document, `(doc, reason)` for a record that could not be used (its metadata says where it was and
why). Readers never raise on bad data; only a file that cannot be opened at all raises `InputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from pipeline.readers.inputs import InputError, InputFile, expand_source
from pipeline.schema import Document

Record = tuple[Document, str | None]
Reader = Callable[[InputFile, Any], Iterator[Record]]


def reader_for(fmt: str) -> Reader:
    """The reader for a source format (imported lazily: WARC pulls in HTML extractors)."""
    if fmt == "warc":
        from pipeline.readers.warc import read_warc

        return read_warc
    if fmt == "wet":
        from pipeline.readers.warc import read_wet

        return read_wet
    if fmt == "jsonl":
        from pipeline.readers.jsonl import read_jsonl

        return read_jsonl
    if fmt == "parquet":
        from pipeline.readers.parquet import read_parquet

        return read_parquet
    if fmt == "text":
        from pipeline.readers.text import read_text

        return read_text
    raise ValueError(f"unknown format {fmt!r}")


__all__ = ["InputError", "InputFile", "Record", "expand_source", "reader_for"]
