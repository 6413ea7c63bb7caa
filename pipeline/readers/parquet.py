"""Parquet reader: any file with a text column; winnow's own outputs keep their metadata and attributes.

A file that cannot be opened, or a row group that cannot be decoded, is one row that says what it cost
(`pipeline/readers/loss.py`); the row groups after a damaged one are still read. A byte range of a large
file (`InputFile.start`/`end`) reads the row groups that start inside it, so every group is read by
exactly one range; what concerns the whole file (unreadable, no text column) is said by the first range.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import storage
from pipeline.readers import loss
from pipeline.readers.inputs import InputFile
from pipeline.readers.jsonl import record_to_document
from pipeline.readers.quarantine import quarantine
from pipeline.schema import Document

BATCH_ROWS = 1000


def read_parquet(
    file: InputFile, cfg: Any, skipped: Counter | None = None
) -> Iterator[tuple[Document, str | None]]:
    skipped = skipped if skipped is not None else Counter()
    try:
        pf = pq.ParquetFile(storage.open_input(file.path))
    except storage.StorageError:
        raise
    except (OSError, pa.ArrowException) as exc:
        if file.start:
            return
        size = storage.size(file.path)
        # No estimate of the records: the footer that says how many rows is what could not be read.
        yield loss.whole_file(
            file, "unreadable_file", size=size, cause=f"{type(exc).__name__}: {exc}", skipped=skipped
        )
        return
    names = set(pf.schema_arrow.names)
    if cfg.text_field.split(".")[0] not in names:
        if file.start:
            return
        yield quarantine(
            file,
            "missing_text_field",
            where="file",
            error=f"no column {cfg.text_field!r}; columns: {sorted(names)}",
        )
        return
    own = {"metadata", "attributes"} <= names
    # Row group by row group: a damaged one is one quarantined row that says how many rows it held,
    # and the groups after it are still read. Row numbers come from the footer, so they stay stable.
    start = 0
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        row = start
        if file.end is not None and not file.start <= _group_offset(pf, g) < file.end:
            start += n
            continue
        try:
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[g]):
                for obj in batch.to_pylist():
                    where = f"row:{row}"
                    doc, reason = record_to_document(obj, file, cfg, where, f"{file.rel}:{row}")
                    row += 1
                    if own and reason is None:
                        doc.metadata = {**_json(obj.get("metadata")), "file": file.rel, "where": where}
                        doc.attributes = _json(obj.get("attributes"))
                    yield doc, reason
        except storage.StorageError:
            raise
        except (OSError, pa.ArrowException) as exc:
            lost = start + n - row
            skipped["rows_lost"] += lost
            group = pf.metadata.row_group(g)
            columns = [group.column(c) for c in range(group.num_columns)]
            stored = sum(c.total_compressed_size for c in columns)
            yield loss.lost(
                file,
                "unreadable_row_group",
                where=f"row:{row}",
                offset=min((_first_page(c) for c in columns), default=0),
                bytes_lost=stored * lost // n if n else 0,
                records_lost_estimate=lost,  # exact: the footer says how many rows the group held
                error=f"{type(exc).__name__}: {exc}",
                metadata={"row_group": g, "rows_in_group": n, "rows_lost": lost},
                skipped=skipped,
            )
        start += n


def _group_offset(pf: pq.ParquetFile, g: int) -> int:
    """Where row group `g` starts in the file: the range whose bytes hold that offset reads it."""
    group = pf.metadata.row_group(g)
    return min((_first_page(group.column(c)) for c in range(group.num_columns)), default=0)


def _first_page(column: Any) -> int:
    """Where a column chunk starts in the file (its dictionary page, if it has one)."""
    return min(o for o in (column.dictionary_page_offset, column.data_page_offset) if o is not None)


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        out = json.loads(value) if isinstance(value, str) else {}
    except json.JSONDecodeError:
        return {}
    return out if isinstance(out, dict) else {}
