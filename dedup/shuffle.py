"""Hash-partitioned shuffles through Parquet files: how dedup phases meet across workers.

A phase task writes its rows to `<dir>/part=<p>/<name>.parquet`, one file per destination partition
it has rows for; the next phase's task for partition p reads every file under `part=<p>/` in name
order. File names come from shard ids or partition numbers, and every writer sorts its rows, so the
bytes do not depend on which worker ran what. Partition numbers come from xxhash (never Python's
salted `hash()`), so all workers and all runs agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from pipeline import storage

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def choose_partitions(total_rows: int, rows_per_partition: int, override: int | None = None) -> int:
    """Number of partitions: fixed by config, else enough that one holds ~rows_per_partition rows."""
    if override:
        return override
    return max(1, math.ceil(total_rows / rows_per_partition))


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


def part_dir(base: str, p: int) -> str:
    return storage.join(base, f"part={p:05d}")


def write_table(path: str, table: pa.Table) -> int:
    """Write one scratch Parquet file atomically; returns its size in bytes."""
    with storage.atomic_file(path) as f:
        pq.write_table(table, f, compression="zstd")
        size = f.tell()
    return int(size)


def write_partitioned(base: str, name: str, table: pa.Table, parts: np.ndarray, partitions: int) -> int:
    """Split `table` by partition and write `<base>/part=<p>/<name>.parquet` for each non-empty p.

    Returns the bytes written (what the phase reports as its shuffle volume).
    """
    if table.num_rows == 0:
        return 0
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    table = table.take(pa.array(order))
    bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(sorted_parts)]])
    written = 0
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        p = int(sorted_parts[s])
        assert 0 <= p < partitions
        written += write_table(storage.join(part_dir(base, p), f"{name}.parquet"), table.slice(s, e - s))
    return written


def partition_files(base: str, p: int) -> list[str]:
    return storage.listdir(part_dir(base, p), "*.parquet")


def iter_partition(
    base: str, p: int, columns: list[str] | None = None, batch_rows: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Stream every row of partition p (all writers' files, in file-name order)."""
    for path in partition_files(base, p):
        with storage.open_input(path) as f:
            yield from pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=columns)


def read_partition(base: str, p: int, schema: pa.Schema, columns: list[str] | None = None) -> pa.Table:
    """All rows of partition p as one table (the caller sized P so that one partition fits)."""
    batches = list(iter_partition(base, p, columns))
    want = pa.schema([schema.field(c) for c in columns]) if columns else schema
    if not batches:
        return want.empty_table()
    return pa.Table.from_batches(batches).cast(want)


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
    return pa.Table.from_batches(keep).cast(want)


def shard_group(shard_id: str, groups: int) -> int:
    """Which group of the duplicate table holds a shard's rows (each shard reads only its group)."""
    return key_hash(shard_id) % groups
