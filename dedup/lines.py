"""Line/paragraph dedup (CCNet style): strip lines that repeat across many documents.

Boilerplate (cookie banners, navigation, "all rights reserved") repeats verbatim across thousands of
pages; the article text around it does not. A line whose normalised form occurs in at least
`min_count` documents is removed from every document; a document left shorter than `min_chars_after`
is rejected (`too_short_after_line_dedup`).

Phases (Ray tasks over files in the work dir, P hash partitions):
1. `count` (per input shard): each document's distinct line hashes; per shard, (hash, documents)
   counts go to partition hash % P (rows ~ distinct lines of the shard).
2. `frequent` (per partition): sum counts per hash; for every frequent hash, one (shard, hash) row per
   shard that has it, written to that shard's group: each shard gets back only the frequent hashes it
   contains (not the corpus-wide set, which can be billions of lines).
3. `rewrite` (per input shard): loads its own frequent hashes (memory <= its distinct lines, 8 bytes
   each plus set overhead) and rewrites its documents.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field

from dedup.normalize import normalize
from dedup.removal import DedupConfig, DedupStage, tally_sources, write_extra, writer_for
from dedup.shuffle import (
    Task,
    read_matching,
    read_partition,
    shard_group,
    write_by_hash,
    write_by_shard,
)
from pipeline import storage
from pipeline.phases import PhaseRunner
from pipeline.schema import documents_from_table, documents_to_table, rejected_to_table
from pipeline.shards import iter_batches, shard_done
from pipeline.step import StageContext

COUNT_SCHEMA = pa.schema([("hash", pa.uint64()), ("docs", pa.int64()), ("shard", pa.string())])
NEED_SCHEMA = pa.schema([("shard", pa.string()), ("hash", pa.uint64())])
REASON = "too_short_after_line_dedup"


class LineDedupConfig(DedupConfig):
    """Remove lines (or paragraphs) found in at least `min_count` documents of the corpus."""

    type: Literal["line_dedup"]
    unit: Literal["line", "paragraph"] = Field(
        "line", description="line: split on newlines; paragraph: split on blank lines."
    )
    min_count: int = Field(3, ge=2, description="A unit found in at least this many documents is removed.")
    min_unit_chars: int = Field(
        1, ge=1, description="Normalised units shorter than this are never counted nor removed."
    )
    min_chars_after: int = Field(
        50, ge=0, description="A document that lost units and is left shorter than this is rejected."
    )
    def build(self) -> LineDedup:
        return LineDedup(self)


def split_units(text: str, unit: str) -> tuple[list[str], str]:
    """The units of a text and the separator that joins them back."""
    sep = "\n" if unit == "line" else "\n\n"
    if unit == "line":
        return text.split("\n"), sep
    return text.split("\n\n"), sep


def unit_hash(unit_text: str, min_chars: int) -> int | None:
    """Hash of a unit's normalised form (case, punctuation, digits ignored); None if too short to count."""
    norm = normalize(unit_text, digits=True)
    if len(norm) < min_chars:
        return None
    return xxhash.xxh3_64_intdigest(norm.encode("utf-8", "surrogatepass"))


def _row_bytes(id_len: float, text_len: float) -> float:
    """Bytes per document of the count rows in a partition: one (hash, docs, shard id ~40, offset)
    row per distinct line, at most one line per ~60 characters (an upper bound: repeats merge)."""
    return max(1.0, text_len / 60) * (8 + 8 + 40 + 4)


class _Count(Task):
    """Phase 1, per input shard: (line hash, documents containing it) for the shard."""

    def __init__(self, p: dict[str, Any]) -> None:
        self.p = p

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        p, shard = self.p, item["shard"]
        counts: Counter[int] = Counter()
        for batch in iter_batches(item["files"], p["batch_rows"]):
            for text in batch.column("text").to_pylist():
                units, _ = split_units(text, p["unit"])
                hashes = {h for u in units if (h := unit_hash(u, p["min_unit_chars"])) is not None}
                counts.update(hashes)
        hashes = np.fromiter(counts.keys(), dtype=np.uint64, count=len(counts))
        docs = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
        order = np.argsort(hashes)
        t = pa.table(
            {"hash": hashes[order], "docs": docs[order], "shard": [shard] * len(order)}, schema=COUNT_SCHEMA
        )
        nbytes = write_by_hash(
            storage.join(p["work_dir"], "count"), shard, t, t.column("hash").to_numpy(), p["partitions"]
        )
        return {"rows": t.num_rows, "bytes": nbytes}


class _Frequent(Task):
    """Phase 2, per hash partition: frequent hashes, sent back to the shards that contain them."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, parts, work = item["partition"], self.p["partitions"], self.p["work_dir"]
        t = read_partition(storage.join(work, "count"), part, COUNT_SCHEMA)
        if t.num_rows == 0:
            return {"rows": 0, "distinct": 0, "frequent": 0, "bytes": 0}
        totals = t.group_by("hash", use_threads=False).aggregate([("docs", "sum")])
        frequent = totals.filter(pc.greater_equal(totals.column("docs_sum"), self.p["min_count"])).column(
            "hash"
        )
        need = t.filter(pc.is_in(t.column("hash"), value_set=frequent.combine_chunks()))
        need = (
            need.select(["shard", "hash"])
            .cast(NEED_SCHEMA)
            .sort_by([("shard", "ascending"), ("hash", "ascending")])
        )
        nbytes = write_by_shard(storage.join(work, "need"), f"{part:05d}", need, parts)
        return {"rows": t.num_rows, "distinct": totals.num_rows, "frequent": len(frequent), "bytes": nbytes}


class _Rewrite:
    """Phase 3, per input shard: drop frequent units; reject documents left too short."""

    def __init__(self, ctx_fields: dict[str, Any], p: dict[str, Any]) -> None:
        self.ctx, self.p = ctx_fields, p

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        ctx, p, shard = self.ctx, self.p, item["shard"]
        stage = ctx["stage_name"]
        if shard_done(ctx["stage_dir"], shard):
            return {"shard": shard, "skipped": True}
        need_dir = storage.join(p["work_dir"], "need")
        group = shard_group(shard, p["partitions"])
        need = read_matching(need_dir, group, "shard", pa.array([shard]), NEED_SCHEMA)
        frequent = set(need.column("hash").to_pylist())
        del need
        w = writer_for(ctx, shard)
        w.tally.ensure_stage(stage)
        counters: Counter[str] = Counter()
        rows = 0
        try:
            for batch in iter_batches(item["files"], ctx["batch_rows"]):
                rows += batch.num_rows
                docs = documents_from_table(batch)
                kept, rejected = [], []
                for d in docs:
                    if frequent:
                        units, sep = split_units(d.text, p["unit"])
                        keep_units = [u for u in units if unit_hash(u, p["min_unit_chars"]) not in frequent]
                        removed = len(units) - len(keep_units)
                    else:
                        removed = 0
                    if removed:
                        new_text = sep.join(keep_units)
                        removed_bytes = len(d.text.encode("utf-8", "surrogatepass")) - len(
                            new_text.encode("utf-8", "surrogatepass")
                        )
                        d.attributes[stage] = {"units_removed": removed, "bytes_removed": removed_bytes}
                        if len(new_text.strip()) < p["min_chars_after"]:
                            rejected.append(d)  # with its original text: the rejected set keeps what came in
                            continue
                        d.text = new_text
                        counters["docs_modified"] += 1
                        counters["units_removed"] += removed
                        counters["bytes_removed"] += removed_bytes
                    kept.append(d)
                tally_sources(w, stage, [d.source for d in docs], "seen")
                if kept:
                    w.write(documents_to_table(kept))
                tally_sources(w, stage, [d.source for d in kept], "kept")
                if rejected:
                    w.reject(stage, rejected_to_table(rejected, stage, [REASON] * len(rejected)))
                    tally_sources(w, stage, [d.source for d in rejected], "rejected", REASON)
                    counters["docs_rejected"] += len(rejected)
            w.tally.add_counters(stage, dict(counters))
            w.finish()
        except BaseException:
            w.abort()
            raise
        return {"shard": shard, "rows": rows, **counters}


class LineDedup(DedupStage):
    """Runs count -> frequent -> rewrite on Ray; writes outputs via ShardWriter and `_extra/<stage>.json`."""

    def row_bytes(self, id_len: float, text_len: float) -> float:
        return _row_bytes(id_len, text_len)

    def params(self, shards: list[tuple[str, list[str]]]) -> dict[str, Any]:
        cfg = self.cfg
        return {"unit": cfg.unit, "min_count": cfg.min_count, "min_unit_chars": cfg.min_unit_chars,
                "min_chars_after": cfg.min_chars_after}

    def run_phases(self, ctx: StageContext, shards: list[tuple[str, list[str]]], total: int,
                   p: dict[str, Any], fields: dict[str, Any]) -> None:
        parts = p["partitions"]
        phases = PhaseRunner(ctx, p, 3)
        shard_items = [{"shard": s, "files": f} for s, f in shards]
        phases.run("count", shard_items, functools.partial(_Count, p))
        phases.run("frequent", [{"partition": i} for i in range(parts)], functools.partial(_Frequent, p))
        rewritten = phases.run("rewrite", shard_items, functools.partial(_Rewrite, fields, p))
        totals: Counter[str] = Counter()
        for r in rewritten:
            totals.update({k: v for k, v in r.items() if isinstance(v, int) and not isinstance(v, bool)})
        write_extra(
            ctx,
            {
                "documents": total,
                "partitions": parts,
                **dict(sorted(totals.items())),
                "phases": phases.stats,
            },
        )
