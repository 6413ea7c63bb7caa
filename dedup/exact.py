"""Exact dedup: documents whose normalised texts are equal form one cluster; one is kept.

Phases (Ray tasks over files in the work dir, P hash partitions):
1. `hash` (per input shard): 128-bit xxh3 of the normalised text; rows (hash, key, id, shard) go to
   partition hash % P.
2. `group` (per partition): sort by (hash, key); in every group of n > 1 the smallest keeper key stays,
   the others become rows of the duplicate table (grouped by shard id).
3. `remove` (per input shard): reads only its group of the duplicate table; reason `exact_duplicate`.
Memory: a partition holds ~N/P rows of ~60 bytes; a shard holds only its own duplicate rows.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from dedup import keeper as keeper_rules
from dedup.normalize import normalize, text_hash
from dedup.removal import DUP_SCHEMA, DedupConfig, DedupStage, RemoveDuplicates, write_extra
from dedup.shuffle import (
    Task,
    read_partition,
    write_by_hash,
    write_by_shard,
)
from pipeline import storage
from pipeline.phases import PhaseRunner
from pipeline.shards import iter_batches
from pipeline.step import StageContext

HASH_SCHEMA = pa.schema(
    [("hash", pa.binary(16)), ("key", pa.string()), ("id", pa.string()), ("shard", pa.string())]
)


class ExactDedupConfig(DedupConfig):
    """Remove documents whose normalised text equals another document's."""

    type: Literal["exact_dedup"]
    lowercase: bool = Field(True, description="Compare texts case-insensitively.")
    strip_punctuation: bool = Field(True, description="Ignore punctuation and symbols.")
    digits: bool = Field(False, description="Map digits 1-9 to 0 before comparing (dates, counters).")
    normalize_unicode: bool = Field(True, description="NFKC-normalise before comparing.")
    keeper: keeper_rules.Keeper = Field("smallest_id", description="Which document of a group is kept.")
    date_field: str = Field("date", description="metadata key read by keeper: earliest_date (ISO 8601 text).")
    def build(self) -> ExactDedup:
        return ExactDedup(self)


def _row_bytes(id_len: float, text_len: float) -> float:
    """Bytes of one hash row in a partition: hash, keeper key, id, shard id (~40), offsets."""
    return 16 + 2 * (id_len + 8) + 40 + 12


class _Hash(Task):
    """Phase 1, per input shard."""

    def __init__(self, p: dict[str, Any]) -> None:
        self.p = p

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        p, shard = self.p, item["shard"]
        cols: dict[str, list[Any]] = {"hash": [], "key": [], "id": [], "shard": []}
        for batch in iter_batches(item["files"], p["batch_rows"]):
            ids = batch.column("id").to_pylist()
            texts = batch.column("text").to_pylist()
            metas = batch.column("metadata").to_pylist()
            for doc_id, text, meta in zip(ids, texts, metas, strict=True):
                norm = normalize(
                    text,
                    lowercase=p["lowercase"],
                    punctuation=p["punctuation"],
                    digits=p["digits"],
                    nfkc=p["nfkc"],
                )
                md = json.loads(meta) if meta and p["keeper"] == "earliest_date" else {}
                md = md if isinstance(md, dict) else {}
                cols["hash"].append(text_hash(norm))
                cols["key"].append(keeper_rules.sort_key(p["keeper"], doc_id, len(text), md, p["date_field"]))
                cols["id"].append(doc_id)
                cols["shard"].append(shard)
        t = pa.table(cols, schema=HASH_SCHEMA).sort_by([("hash", "ascending"), ("key", "ascending")])
        h64 = np.frombuffer(b"".join(t.column("hash").to_pylist()), dtype=np.uint64)[::2].copy()
        nbytes = write_by_hash(storage.join(p["work_dir"], "hash"), shard, t, h64, p["partitions"])
        return {"rows": t.num_rows, "bytes": nbytes}


class _Group(Task):
    """Phase 2, per hash partition: duplicate rows for every group of equal hashes."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, parts, work = item["partition"], self.p["partitions"], self.p["work_dir"]
        t = read_partition(storage.join(work, "hash"), part, HASH_SCHEMA)
        n = t.num_rows
        if n == 0:
            return {"rows": 0, "duplicates": 0, "bytes": 0, "histogram": {}}
        t = t.sort_by([("hash", "ascending"), ("key", "ascending")])
        hashes = t.column("hash").to_pylist()
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = [hashes[i] != hashes[i - 1] for i in range(1, n)]
        starts = np.flatnonzero(new_group)
        sizes = np.diff(np.append(starts, n))
        first = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
        group_size = np.repeat(sizes, sizes)
        members = np.flatnonzero(~new_group)
        ids = t.column("id")
        dup = pa.table(
            {
                "shard": t.column("shard").take(pa.array(members)),
                "id": ids.take(pa.array(members)),
                "kept_id": ids.take(pa.array(first[members])),
                "cluster_size": pa.array(group_size[members].astype(np.int64)),
            },
            schema=DUP_SCHEMA,
        ).sort_by("id")
        nbytes = write_by_shard(storage.join(work, "dup"), f"{part:05d}", dup, parts)
        hist = Counter(sizes[sizes > 1].tolist())
        return {
            "rows": n,
            "duplicates": dup.num_rows,
            "bytes": nbytes,
            "histogram": {str(k): v for k, v in sorted(hist.items())},
        }


class ExactDedup(DedupStage):
    """Runs hash -> group -> remove on Ray; writes outputs via ShardWriter and `_extra/<stage>.json`."""

    empty_extra: ClassVar[dict[str, Any]] = {
        "documents": 0, "removed": 0, "clusters": 0, "cluster_size_histogram": {}}

    def row_bytes(self, id_len: float, text_len: float) -> float:
        return _row_bytes(id_len, text_len)

    def params(self, shards: list[tuple[str, list[str]]]) -> dict[str, Any]:
        cfg = self.cfg
        return {"lowercase": cfg.lowercase, "punctuation": cfg.strip_punctuation, "digits": cfg.digits,
                "nfkc": cfg.normalize_unicode, "keeper": cfg.keeper, "date_field": cfg.date_field}

    def run_phases(self, ctx: StageContext, shards: list[tuple[str, list[str]]], total: int,
                   p: dict[str, Any], fields: dict[str, Any]) -> None:
        parts = p["partitions"]
        phases = PhaseRunner(ctx, p, 3)
        shard_items = [{"shard": s, "files": f} for s, f in shards]
        phases.run("hash", shard_items, functools.partial(_Hash, p))
        grouped = phases.run("group", [{"partition": i} for i in range(parts)], functools.partial(_Group, p))
        remover = functools.partial(
            RemoveDuplicates, fields, storage.join(ctx.work_dir, "dup"), parts, "exact_duplicate"
        )
        removed = sum(r.get("removed", 0) for r in phases.run("remove", shard_items, remover))
        histogram: Counter[int] = Counter()
        for res in grouped:
            histogram.update({int(k): v for k, v in res["histogram"].items()})
        write_extra(
            ctx,
            {
                "documents": total,
                "partitions": parts,
                "removed": removed,
                "clusters": sum(histogram.values()),
                "cluster_size_histogram": {str(k): histogram[k] for k in sorted(histogram)},
                "phases": phases.stats,
            },
        )
