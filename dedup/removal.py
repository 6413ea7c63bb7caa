"""The last phase of every document-level dedup: drop the duplicates, shard by shard.

Earlier phases leave a duplicate table (id -> kept id, cluster size) split into groups by shard id, so
each input shard reads only its own group and holds only its own duplicate rows (memory ~ one shard's
duplicates, whatever the corpus size). Kept rows go out unchanged and in input order through
`ShardWriter`, so accounting holds: in = out + rejected, per source.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from dedup.shuffle import count_rows, partitions_for, read_matching, shard_group
from pipeline import storage
from pipeline.schema import documents_from_table, dumps, rejected_to_table
from pipeline.shards import ShardWriter, done_shards, iter_batches, shard_done
from pipeline.step import GlobalStage, StageConfig, StageContext

DUP_SCHEMA = pa.schema(
    [
        pa.field("shard", pa.string()),
        pa.field("id", pa.string()),
        pa.field("kept_id", pa.string()),
        pa.field("cluster_size", pa.int64()),
    ]
)


class DedupConfig(StageConfig):
    """The shuffle settings every dedup stage has (a stage may change a default)."""

    partitions: int | None = Field(None, ge=1, description="Shuffle partitions; default from corpus size.")
    rows_per_partition: int = Field(1_000_000, ge=1, description="Documents per partition by default.")
    partition_mb: int = Field(
        1024,
        ge=1,
        description="Memory per worker for one partition's shuffle rows, MiB, when `partitions` is not "
        "set: P also grows until the measured rows fit.",
    )

    kind: ClassVar[Literal["document", "global"]] = "global"


def context_fields(ctx: StageContext) -> dict[str, Any]:
    """The picklable part of a StageContext that phase tasks need (sent to every Ray actor)."""
    out = ctx.config.output
    return {
        "stage_name": ctx.stage_name,
        "stage_dir": ctx.stage_dir,
        "rejected_dir": ctx.rejected_dir,
        "work_dir": ctx.work_dir,
        "target_bytes": out.target_shard_mb * 2**20,
        "compression": out.compression,
        "keep_rejected_text": out.keep_rejected_text,
        "batch_rows": out.batch_rows,
    }


def all_done(ctx: StageContext) -> bool:
    """Every input shard already has its output (a rerun after success does nothing): one listing."""
    return not set(ctx.shards) - done_shards(ctx.stage_dir)


def input_rows(ctx: StageContext) -> int:
    """Documents in the stage's input: from the previous stage's stats, else from Parquet footers."""
    if ctx.rows is not None:
        return sum(ctx.rows.get(s, 0) for s in ctx.shards)
    return count_rows(f for files in ctx.shards.values() for f in files)


class DedupStage(GlobalStage):
    """What exact, line and MinHash dedup share around their own phases (`run_phases`): nothing to do
    on empty input or on a rerun after success, the corpus row count, and the partition count from the
    stage's shuffle bytes per document (`row_bytes`) and its config."""

    empty_extra: ClassVar[dict[str, Any]] = {"documents": 0}

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.name = cfg.stage_name

    def row_bytes(self, id_len: float, text_len: float) -> float:
        """Shuffle bytes per document, from the mean id and text lengths (sizes the partitions)."""
        raise NotImplementedError

    def params(self, shards: list[tuple[str, list[str]]]) -> dict[str, Any]:
        """The stage's own parameters for its phase tasks (also part of the work dir's fingerprint)."""
        raise NotImplementedError

    def run_phases(
        self,
        ctx: StageContext,
        shards: list[tuple[str, list[str]]],
        total: int,
        p: dict[str, Any],
        fields: dict[str, Any],
    ) -> None:
        raise NotImplementedError

    def run(self, ctx: StageContext) -> None:
        if not ctx.shards:
            write_extra(ctx, dict(self.empty_extra))
            return
        if all_done(ctx):
            return
        shards = sorted(ctx.shards.items())
        total = input_rows(ctx)
        fields = context_fields(ctx)
        p = {
            "work_dir": ctx.work_dir,
            "partitions": partitions_for(shards, total, self.cfg, self.row_bytes),
            "batch_rows": fields["batch_rows"],
            **self.params(shards),
        }
        self.run_phases(ctx, shards, total, p, fields)


def write_extra(ctx: StageContext, data: dict[str, Any]) -> None:
    """`RUN/_extra/<stage>.json`: small per-stage figures the manifest shows under "extra"."""
    path = storage.join(ctx.run_dir, "_extra", f"{ctx.stage_name}.json")
    storage.atomic_write(path, (dumps(data) + "\n").encode())


def writer_for(ctx_fields: dict[str, Any], shard: str) -> ShardWriter:
    """A ShardWriter for one shard of this stage, configured as the runner contract says."""
    return ShardWriter(
        ctx_fields["stage_dir"],
        shard,
        target_bytes=ctx_fields["target_bytes"],
        compression=ctx_fields["compression"],
        rejected_dirs={ctx_fields["stage_name"]: ctx_fields["rejected_dir"]},
        keep_rejected_text=ctx_fields["keep_rejected_text"],
    )


def tally_sources(writer: ShardWriter, stage: str, sources: list[str], kind: str, reason: str = "") -> None:
    for source, n in sorted(Counter(sources).items()):
        if kind == "seen":
            writer.tally.seen(stage, source, n)
        elif kind == "kept":
            writer.tally.kept(stage, source, n)
        else:
            writer.tally.rejected(stage, source, reason, n)


class RemoveDuplicates:
    """Ray task: rewrite one input shard without its duplicates (reason + kept id in the rejected set)."""

    def __init__(self, ctx_fields: dict[str, Any], dup_dir: str, groups: int, reason: str) -> None:
        self.ctx, self.dup_dir, self.groups, self.reason = ctx_fields, dup_dir, groups, reason

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        stage, shard = self.ctx["stage_name"], item["shard"]
        if shard_done(self.ctx["stage_dir"], shard):
            return {"shard": shard, "skipped": True}
        group = shard_group(shard, self.groups)
        table = read_matching(self.dup_dir, group, "shard", pa.array([shard]), DUP_SCHEMA)
        dups = {
            i: (k, s)
            for i, k, s in zip(
                table.column("id").to_pylist(),
                table.column("kept_id").to_pylist(),
                table.column("cluster_size").to_pylist(),
                strict=True,
            )
        }
        del table
        w = writer_for(self.ctx, shard)
        w.tally.ensure_stage(stage)
        removed = rows = 0
        try:
            for batch in iter_batches(item["files"], self.ctx["batch_rows"]):
                rows += batch.num_rows
                ids = batch.column("id").to_pylist()
                drop = np.fromiter((i in dups for i in ids), dtype=bool, count=len(ids))
                tally_sources(w, stage, batch.column("source").to_pylist(), "seen")
                keep = batch.filter(pa.array(~drop))
                w.write(pa.Table.from_batches([keep]))
                tally_sources(w, stage, keep.column("source").to_pylist(), "kept")
                if drop.any():
                    docs = documents_from_table(batch.filter(pa.array(drop)))
                    for d in docs:
                        kept_id, size = dups[d.id]
                        d.attributes[stage] = {"kept_id": kept_id, "cluster_size": size}
                    w.reject(stage, rejected_to_table(docs, stage, [self.reason] * len(docs)))
                    tally_sources(w, stage, [d.source for d in docs], "rejected", self.reason)
                    removed += len(docs)
            w.finish()
        except BaseException:
            w.abort()
            raise
        return {"shard": shard, "rows": rows, "removed": removed}
