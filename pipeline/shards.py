"""Shards: the unit of work, resume and accounting.

A shard keeps the id its input gave it (source + file) through every stage. A stage writes, per shard:
- `<stage_dir>/part-<shard>-<k>.parquet`: kept rows (DOC_SCHEMA), rolling over at the target size;
- `<run>/rejected/<NN>_<stage>/part-<shard>-<k>.parquet`: rejected rows (REJECTED_SCHEMA);
- `<stage_dir>/_stats/<shard>.json`, last: counts per stage and source, output files with hashes.
A shard is done when its stats file exists; a rerun skips it.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import storage
from pipeline.schema import DOC_SCHEMA, REJECTED_SCHEMA, dumps

STATS_DIR = "_stats"


class Tally:
    """Per-stage, per-source counts for one shard. Invariant: in = out + sum(rejected)."""

    def __init__(self) -> None:
        self._stages: dict[str, dict[str, Any]] = {}

    def _source(self, stage: str, source: str) -> dict[str, Any]:
        st = self._stages.setdefault(stage, {"sources": {}, "counters": {}})
        return st["sources"].setdefault(source, {"in": 0, "out": 0, "rejected": {}})

    def seen(self, stage: str, source: str, n: int = 1) -> None:
        self._source(stage, source)["in"] += n

    def kept(self, stage: str, source: str, n: int = 1) -> None:
        self._source(stage, source)["out"] += n

    def rejected(self, stage: str, source: str, reason: str, n: int = 1) -> None:
        rej = self._source(stage, source)["rejected"]
        rej[reason] = rej.get(reason, 0) + n

    def add_counters(self, stage: str, counters: dict[str, int]) -> None:
        st = self._stages.setdefault(stage, {"sources": {}, "counters": {}})
        for k, v in counters.items():
            st["counters"][k] = st["counters"].get(k, 0) + int(v)

    def ensure_stage(self, stage: str) -> None:
        self._stages.setdefault(stage, {"sources": {}, "counters": {}})

    def to_dict(self) -> dict[str, Any]:
        return json.loads(dumps(self._stages))


def iter_batches(files: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream a shard's Parquet files in order, `batch_rows` rows at a time (memory stays flat)."""
    for path in files:
        with storage.open_input(path) as f:
            pf = pq.ParquetFile(f)
            yield from pf.iter_batches(batch_size=batch_rows)


class RollingParquet:
    """Parquet files `<prefix>-<k>.parquet` that roll over past a target size, each renamed when closed."""

    def __init__(self, directory: str, prefix: str, schema: pa.Schema, target_bytes: int, compression: str):
        self.directory, self.prefix, self.schema = directory, prefix, schema
        self.target_bytes, self.compression = target_bytes, compression
        self.files: list[dict[str, Any]] = []
        self._ctx: Any = None
        self._stream: Any = None
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0

    def _path(self, k: int) -> str:
        return storage.join(self.directory, f"{self.prefix}-{k:05d}.parquet")

    def _open(self) -> None:
        path = self._path(len(self.files))
        self._ctx = storage.atomic_file(path)
        self._stream = self._ctx.__enter__()
        self._writer = pq.ParquetWriter(
            self._stream, self.schema, compression=None if self.compression == "none" else self.compression
        )
        self._rows = 0
        # The name only: the stats stay right when the run dir moves or is reached from another folder.
        self.files.append({"path": posixpath.basename(path)})

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._open()
        assert self._writer is not None
        self._writer.write_table(table.cast(self.schema), row_group_size=max(table.num_rows, 1))
        self._rows += table.num_rows
        if self._stream.tell() >= self.target_bytes:
            self._close()

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._ctx.__exit__(None, None, None)
        entry = self.files[-1]
        entry["rows"] = self._rows
        entry.update(file_digest(self._path(len(self.files) - 1)))
        self._writer = None

    def close(self, *, ensure_one: bool) -> list[dict[str, Any]]:
        if ensure_one and not self.files:
            self._open()
        self._close()
        return self.files

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._writer = None


def file_digest(path: str, start: int = 0, end: int | None = None) -> dict[str, Any]:
    """Size and sha256 of a file, or of its bytes [start, end) (what the manifest and `winnow verify`
    compare; an input read as several ranges is listed once per range)."""
    h = hashlib.sha256()
    n = 0
    left = -1 if end is None else end - start
    with storage.open_input(path) as f:
        if start:
            f.seek(start)
        while left and (chunk := f.read(1 << 20 if left < 0 else min(1 << 20, left))):
            h.update(chunk)
            n += len(chunk)
            left -= len(chunk) if left > 0 else 0
    return {"bytes": n, "sha256": h.hexdigest()}


class ShardWriter:
    """Writes one shard's kept and rejected rows, then its stats file (last, so it marks the shard done)."""

    def __init__(
        self,
        stage_dir: str,
        shard_id: str,
        *,
        target_bytes: int,
        compression: str = "zstd",
        rejected_dirs: dict[str, str] | None = None,
        keep_rejected_text: bool = True,
    ) -> None:
        self.stage_dir, self.shard_id = stage_dir, shard_id
        self.keep_rejected_text = keep_rejected_text
        self.started = time.monotonic()
        self.tally = Tally()
        self._kept = RollingParquet(stage_dir, f"part-{shard_id}", DOC_SCHEMA, target_bytes, compression)
        self._rejected = {
            stage: RollingParquet(d, f"part-{shard_id}", REJECTED_SCHEMA, target_bytes, compression)
            for stage, d in (rejected_dirs or {}).items()
        }

    def write(self, table: pa.Table) -> None:
        self._kept.write(table)

    def reject(self, stage: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if not self.keep_rejected_text:
            idx = table.schema.get_field_index("text")
            table = table.set_column(idx, "text", pa.array([""] * table.num_rows, pa.string()))
        self._rejected[stage].write(table)

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Close all files and write the stats file. Returns the stats."""
        stats: dict[str, Any] = {
            "shard": self.shard_id,
            "stages": self.tally.to_dict(),
            "outputs": self._kept.close(ensure_one=True),
            "rejected_outputs": {s: w.close(ensure_one=False) for s, w in self._rejected.items()},
            "seconds": round(time.monotonic() - self.started, 3),
            **(extra or {}),
        }
        write_stats(self.stage_dir, self.shard_id, stats)
        return stats

    def abort(self) -> None:
        self._kept.abort()
        for w in self._rejected.values():
            w.abort()


def stats_path(stage_dir: str, shard_id: str) -> str:
    return storage.join(stage_dir, STATS_DIR, f"{shard_id}.json")


def write_stats(stage_dir: str, shard_id: str, stats: dict[str, Any]) -> None:
    storage.atomic_write(stats_path(stage_dir, shard_id), (dumps(stats) + "\n").encode())


def shard_done(stage_dir: str, shard_id: str) -> bool:
    return storage.exists(stats_path(stage_dir, shard_id))


def done_shards(stage_dir: str) -> set[str]:
    """Ids of the shards of a stage that have their stats: one listing, not one call per shard."""
    return {
        posixpath.basename(p)[: -len(".json")]
        for p in storage.listdir(storage.join(stage_dir, STATS_DIR), "*.json")
    }


STATS_READERS = 16
"""Stats files read at once: on object storage each is a request, and a snapshot has 90k shards."""


def load_stats(stage_dir: str) -> dict[str, dict[str, Any]]:
    """All shard stats of a stage, by shard id (O(shards), never O(documents)), read in parallel."""
    paths = storage.listdir(storage.join(stage_dir, STATS_DIR), "*.json")
    if len(paths) > 1 and storage.is_uri(stage_dir):
        with ThreadPoolExecutor(STATS_READERS) as pool:
            blobs = list(pool.map(storage.read_bytes, paths))
    else:
        blobs = [storage.read_bytes(p) for p in paths]
    out = {}
    for blob in blobs:
        stats = json.loads(blob)
        out[stats["shard"]] = stats
    return dict(sorted(out.items()))


def output_path(directory: str, recorded: str) -> str:
    """Where a file named in a stats file lies: stats record names relative to the file's directory."""
    return storage.join(directory, recorded)


def shard_files(stage_dir: str, stats: dict[str, dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """Shard id -> its output Parquet files (what the next stage reads); `stats`: load_stats(stage_dir)."""
    stats = load_stats(stage_dir) if stats is None else stats
    return {s: [output_path(stage_dir, o["path"]) for o in st["outputs"]] for s, st in stats.items()}


def shard_bytes(stats: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Shard id -> bytes of its output files, as its stats recorded them (no call per file)."""
    return {s: sum(o.get("bytes", 0) for o in st["outputs"]) for s, st in stats.items()}


def shard_rows(stats: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Shard id -> documents in its output files, as its stats recorded them (no footer reads)."""
    return {s: sum(o.get("rows", 0) for o in st["outputs"]) for s, st in stats.items()}


def merge_tallies(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-shard stage counts into per-stage, per-source totals."""
    total: dict[str, Any] = {}
    for st in stats:
        for stage, data in st.get("stages", {}).items():
            tgt = total.setdefault(stage, {"sources": {}, "counters": defaultdict(int)})
            for src, c in data.get("sources", {}).items():
                t = tgt["sources"].setdefault(src, {"in": 0, "out": 0, "rejected": defaultdict(int)})
                t["in"] += c["in"]
                t["out"] += c["out"]
                for reason, n in c["rejected"].items():
                    t["rejected"][reason] += n
            for k, v in data.get("counters", {}).items():
                tgt["counters"][k] += v
    return json.loads(dumps(total))
