"""Hash-partitioned shuffles through Parquet files: how dedup phases meet across workers.

A phase task writes ONE file, `<dir>/<name>.parquet`, with its rows stably sorted by destination
partition, one row group (more if a partition is huge) per partition it has rows for, and an index
(partition -> row count, in the file's key-value metadata) that says which row groups belong to which
partition. The next phase's task for partition p reads only those row groups of every writer's file,
in file-name order. So a phase writes O(writers) files, not writers x partitions (1e8-1e9 at a Common
Crawl snapshot), and a reader gets exactly the rows, in exactly the order, that one file per
(writer, partition) gave before. File names come from shard ids or partition numbers, and every writer
sorts its rows, so the bytes do not depend on which worker ran what. Partition numbers come from
xxhash (never Python's salted `hash()`), so all workers and all runs agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from pipeline import storage

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


INDEX_KEY = b"winnow.partitions"
"""Key-value metadata of a partitioned file: JSON {"p": [partitions], "rows": [rows of each]}."""
ROW_GROUP_ROWS = 1 << 20
"""Largest row group; a bigger partition takes several, so a reader's batches stay bounded."""
WORKING_SET = 3.0
"""Peak memory of a partition task over its rows' Arrow size: the table, a sorted copy, a join."""
SAMPLE_ROWS = 1000


def choose_partitions(
    total_rows: int,
    rows_per_partition: int,
    override: int | None = None,
    *,
    row_bytes: float = 0.0,
    partition_mb: int | None = None,
) -> int:
    """Number of partitions: fixed by config, else enough that one holds at most ~rows_per_partition
    documents AND its shuffle rows (`row_bytes` per document, measured) fit in `partition_mb`."""
    if override:
        return override
    by_rows = math.ceil(total_rows / rows_per_partition)
    by_bytes = 0
    if partition_mb and row_bytes > 0:
        by_bytes = math.ceil(total_rows * row_bytes * WORKING_SET / (partition_mb * 2**20))
    return max(1, by_rows, by_bytes)


def sample_sizes(files: Sequence[str], rows: int = SAMPLE_ROWS) -> tuple[float, float]:
    """Mean UTF-8 length of `id` and of `text` over the first `rows` documents of `files` (in order):
    the measured row size the partition count is chosen from. Reads one row group or so."""
    id_bytes = text_bytes = seen = 0
    for path in files:
        with storage.open_input(path) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=rows - seen, columns=["id", "text"]):
                id_bytes += pc.sum(pc.binary_length(batch.column("id"))).as_py() or 0
                text_bytes += pc.sum(pc.binary_length(batch.column("text"))).as_py() or 0
                seen += batch.num_rows
                if seen >= rows:
                    break
        if seen >= rows:
            break
    if seen == 0:
        return 0.0, 0.0
    return id_bytes / seen, text_bytes / seen


def partitions_for(
    shards: Sequence[tuple[str, Sequence[str]]],
    total_rows: int,
    cfg: object,
    row_bytes: Callable[[float, float], float],
) -> int:
    """A global stage's partition count from its config (`partitions`, `rows_per_partition`,
    `partition_mb`) and `row_bytes(id_len, text_len)`, its shuffle bytes per document."""
    override = getattr(cfg, "partitions", None)
    if override:
        return int(override)
    files = [f for _, fs in shards for f in fs]
    id_len, text_len = sample_sizes(files)
    return choose_partitions(
        total_rows,
        cfg.rows_per_partition,  # type: ignore[attr-defined]
        row_bytes=row_bytes(id_len, text_len) if id_len or text_len else 0.0,
        partition_mb=getattr(cfg, "partition_mb", None),
    )


def count_rows(files: Iterable[str]) -> int:
    """Rows in Parquet files, from their footers only (cheap: O(files), not O(rows))."""
    total = 0
    for path in files:
        with storage.open_input(path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def key_hash(key: str) -> int:
    return xxhash.xxh3_64_intdigest(key.encode("utf-8", "surrogatepass"))


def partition_of_keys(keys: pa.Array | pa.ChunkedArray | list[str], partitions: int) -> np.ndarray:
    """Partition of each string key (xxh3_64 modulo P)."""
    values = keys.to_pylist() if not isinstance(keys, list) else keys
    return np.fromiter((key_hash(k) % partitions for k in values), dtype=np.int64, count=len(values))


def partition_of_ints(values: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each uint64 (re-mixed first, so buckets that share low bits still spread)."""
    x = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(31)
        x *= _MIX1
        x ^= x >> np.uint64(29)
        x *= _MIX2
        x ^= x >> np.uint64(32)
    return (x % np.uint64(partitions)).astype(np.int64)


def write_table(path: str, table: pa.Table) -> int:
    """Write one scratch Parquet file atomically; returns its size in bytes."""
    with storage.atomic_file(path) as f:
        pq.write_table(table, f, compression="zstd")
        size = f.tell()
    return int(size)


def write_partitioned(base: str, name: str, table: pa.Table, parts: np.ndarray, partitions: int) -> int:
    """Write `table` as `<base>/<name>.parquet`: rows stably sorted by partition, a row group per
    partition and the index of row counts per partition. Nothing for an empty table.

    Returns the bytes written (what the phase reports as its shuffle volume).
    """
    if table.num_rows == 0:
        return 0
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    table = table.take(pa.array(order)).replace_schema_metadata(None)
    bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
    starts = np.concatenate([[0], bounds]).astype(np.int64)
    ends = np.concatenate([bounds, [len(sorted_parts)]]).astype(np.int64)
    ids = sorted_parts[starts]
    assert ids[0] >= 0 and ids[-1] < partitions, "partition out of range"
    index = {"p": ids.tolist(), "rows": (ends - starts).tolist()}
    with storage.atomic_file(storage.join(base, f"{name}.parquet")) as f:
        with pq.ParquetWriter(f, table.schema, compression="zstd") as w:
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                w.write_table(table.slice(s, e - s), row_group_size=ROW_GROUP_ROWS)
            w.add_key_value_metadata({INDEX_KEY: json.dumps(index, separators=(",", ":"))})
        size = f.tell()
    return int(size)


def _row_groups(pf: pq.ParquetFile, p: int) -> list[int]:
    """The row groups of partition p in a file `write_partitioned` wrote (none if it has no rows)."""
    meta = pf.metadata
    index = json.loads((meta.metadata or {})[INDEX_KEY])
    skip = want = 0
    for q, n in zip(index["p"], index["rows"], strict=True):
        if q == p:
            want = n
            break
        if q > p:
            return []
        skip += n
    if not want:
        return []
    groups, row = [], 0
    for i in range(meta.num_row_groups):
        if skip <= row < skip + want:
            groups.append(i)
        row += meta.row_group(i).num_rows
        if row >= skip + want:
            break
    return groups


def _writer_files(base: str) -> list[str]:
    return storage.listdir(base, "*.parquet")


def partition_files(base: str, p: int) -> list[str]:
    """The writers' files that hold rows of partition p, in name order (reads their footers)."""
    out = []
    for path in _writer_files(base):
        with storage.open_input(path) as f:
            if _row_groups(pq.ParquetFile(f), p):
                out.append(path)
    return out


def iter_partition(
    base: str, p: int, columns: list[str] | None = None, batch_rows: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Stream every row of partition p: its row groups of every writer's file, in file-name order."""
    for path in _writer_files(base):
        with storage.open_input(path) as f:
            pf = pq.ParquetFile(f)
            groups = _row_groups(pf, p)
            if groups:
                for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns):
                    yield batch.replace_schema_metadata(None)


def read_partition(base: str, p: int, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """All rows of partition p as one table (the caller sized P so that one partition fits)."""
    batches = list(iter_partition(base, p, columns))
    want = pa.schema([schema.field(c) for c in columns]) if columns else schema
    if not batches:
        return want.empty_table()
    return pa.Table.from_batches(batches).cast(want).replace_schema_metadata(None)


def read_matching(
    base: str,
    p: int,
    column: str,
    values: pa.Array | pa.ChunkedArray,
    schema: pa.Schema,
    columns: list[str] | None = None,
) -> pa.Table:
    """Rows of partition p whose `column` is in `values`, streamed: memory ~ matches, not the partition."""
    want = pa.schema([schema.field(c) for c in columns]) if columns else schema
    if len(values) == 0:
        return want.empty_table()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    keep = []
    for batch in iter_partition(base, p, columns):
        mask = pc.is_in(batch.column(column), value_set=values)
        if pc.any(mask).as_py():
            keep.append(batch.filter(mask))
    if not keep:
        return want.empty_table()
    return pa.Table.from_batches(keep).cast(want).replace_schema_metadata(None)


def shard_group(shard_id: str, groups: int) -> int:
    """Which group of the duplicate table holds a shard's rows (each shard reads only its group)."""
    return key_hash(shard_id) % groups


def write_by_hash(base: str, name: str, table: pa.Table, hashes: np.ndarray, partitions: int) -> int:
    """`write_partitioned` with each row's partition from its uint64 hash."""
    return write_partitioned(base, name, table, partition_of_ints(hashes, partitions), partitions)


def write_by_shard(base: str, name: str, table: pa.Table, groups: int) -> int:
    """`write_partitioned` with each row in the group of its `shard` column, for the per-shard phases."""
    shards = table.column("shard").to_pylist()
    parts = np.fromiter((shard_group(s, groups) for s in shards), np.int64, len(shards))
    return write_partitioned(base, name, table, parts, groups)


class Task:
    """A phase's per-item callable; `p` holds the stage's typed parameters (sent to every worker)."""

    def __init__(self, p: dict[str, Any]) -> None:
        self.p = p
