"""Records of auxiliary inputs (eval sets, classifier training sets): JSONL (.gz) or Parquet, streamed.

Unlike the corpus readers, a bad record here is the user's config error, so it raises with its place.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from typing import Any


def iter_records(path: str, columns: list[str] | None = None, hint: str = "") -> Iterator[tuple[str, Any]]:
    """(where, record) per record: where is "path:line" for JSONL and "path row N" for Parquet.

    For Parquet only `columns` are read, and a missing one is a ValueError (`hint` is appended).
    """
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        missing = [c for c in columns or [] if c not in names]
        if missing:
            raise ValueError(
                f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(names)}){hint}"
            )
        row = 0
        for batch in pf.iter_batches(columns=columns, batch_size=4096):
            for record in batch.to_pylist():
                row += 1
                yield f"{path} row {row}", record
        return
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON: {exc}") from exc
            yield f"{path}:{lineno}", record
