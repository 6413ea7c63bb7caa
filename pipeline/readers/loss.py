"""Input that never became rows: a damaged tail, a corrupt region, a file that is not its format.

Each such span is one quarantined row that says where reading stopped (`offset`, a byte offset in the
file as stored, i.e. compressed) and what was lost there (`bytes_lost`; `records_lost_estimate`, at the
mean size of the records read before it). The reader's `skipped` counter sums the same figures; the
runner gives each input file its own counter and stores it as the read stage's `skipped_*` counters,
which the manifest sums into `input_lost` and the CLI prints. A run that lost input says so.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from pipeline.readers.inputs import InputFile
from pipeline.readers.quarantine import quarantine
from pipeline.schema import Document

FILES, BYTES, RECORDS = "files_with_loss", "bytes_lost", "records_lost_estimate"
"""Keys of a reader's `skipped` counter (the manifest's `skipped_<key>` read-stage counters)."""


def estimate_records(bytes_lost: int, bytes_read: int, records_read: int) -> int:
    """Records in `bytes_lost` bytes at the mean size of the `records_read` records that took
    `bytes_read` bytes, rounded up (a partial record is a lost record); 0 with nothing to measure by."""
    if bytes_lost <= 0 or bytes_read <= 0 or records_read <= 0:
        return 0
    return math.ceil(bytes_lost * records_read / bytes_read)


def lost(
    file: InputFile,
    reason: str,
    *,
    where: str,
    offset: int,
    bytes_lost: int,
    records_lost_estimate: int,
    error: str,
    skipped: Counter[str],
    metadata: dict[str, Any] | None = None,
    doc_id: str | None = None,
    url: str | None = None,
) -> tuple[Document, str]:
    """The quarantined row for one unreadable span of `file`, counted into the file's `skipped`."""
    skipped[FILES] = 1  # one counter per input file: a file with two damaged spans is one file
    skipped[BYTES] += bytes_lost
    skipped[RECORDS] += records_lost_estimate
    meta = {
        **(metadata or {}),
        "offset": offset,
        "bytes_lost": bytes_lost,
        "records_lost_estimate": records_lost_estimate,
    }
    return quarantine(file, reason, where=where, error=error, metadata=meta, doc_id=doc_id, url=url)


def whole_file(
    file: InputFile, reason: str, *, size: int, cause: str, skipped: Counter[str]
) -> tuple[Document, str]:
    """The one row for a file none of which could be read (not its format, or no readable footer)."""
    return lost(
        file,
        reason,
        where="file",
        offset=0,
        bytes_lost=size,
        records_lost_estimate=0,
        error=f"{cause}; all {size} bytes are unread",
        skipped=skipped,
    )
