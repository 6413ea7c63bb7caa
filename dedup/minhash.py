"""MinHash-LSH near-duplicate removal across the whole corpus, on CPUs, with flat memory per worker.

Phases (each a set of Ray tasks over files in the stage's work dir; P hash partitions, chosen so one
partition fits in a worker; nothing corpus-sized reaches the driver):

1. `signatures` (per input shard): MinHash signature per document; band rows (band, bucket, key) go to
   partition hash(band, bucket); a side row (key, signature[, shingle set]) to hash(key).
2. `buckets` (per band partition): sort by (band, bucket, key); each bucket of n documents gives n-1
   star edges from its smallest key (same count as a chain, but diameter 2, so fewer rounds below).
   Edges go to partition hash(u).
3. `verify` (two joins with the side table: on u, then on v): keep an edge when the signatures'
   estimated Jaccard (or, with `verify: exact`, the exact Jaccard of the shingle sets) reaches the
   threshold. Kept edges are partitioned by hash(u), and the first round's label proposals are emitted.
4. `components`: min-label propagation with pointer jumping, rounds of two shuffles until no label
   changes. A label table holds only nodes whose label is smaller than themselves, split by hash(node).
5. `clusters`: the last round's (node, root) rows, already written by hash(root), give cluster sizes;
   the duplicate table (id, kept id, size) is written in groups by shard id.
6. `remove` (per input shard): reads only its group of the duplicate table; rejects with
   `near_duplicate`.

Node keys are keeper sort keys (`dedup.keeper`) plus the input shard's index, so the component minimum
IS the keeper (no extra pass; a function of the cluster alone) and the shard needs no join.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from dedup import keeper as keeper_rules
from dedup.lsh import MinHasher, band_hashes, estimated_jaccard, optimal_bands
from dedup.normalize import jaccard
from dedup.removal import DUP_SCHEMA, DedupConfig, DedupStage, RemoveDuplicates, write_extra
from dedup.shuffle import (
    Task,
    partition_of_ints,
    partition_of_keys,
    read_matching,
    read_partition,
    write_by_shard,
    write_partitioned,
)
from pipeline import storage
from pipeline.phases import PhaseRunner
from pipeline.shards import iter_batches
from pipeline.step import StageContext

BAND_SCHEMA = pa.schema([("band", pa.int32()), ("bucket", pa.uint64()), ("key", pa.string())])
SIDE_SCHEMA = pa.schema([("key", pa.string()), ("sig", pa.binary()), ("sh", pa.binary())])
EDGE_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string())])
VIN_SCHEMA = pa.schema(
    [("u", pa.string()), ("v", pa.string()), ("sig_u", pa.binary()), ("sh_u", pa.binary())]
)
LABEL_SCHEMA = pa.schema([("node", pa.string()), ("label", pa.string())])
HALF_SCHEMA = pa.schema([("u", pa.string()), ("v", pa.string()), ("lu", pa.string())])

MAX_ROUNDS = 64
_SHARD_SEP = "\x1e"


class MinHashDedupConfig(DedupConfig):
    """Fuzzy dedup: documents whose shingle sets have Jaccard >= threshold are one cluster; one is kept."""

    type: Literal["minhash_dedup"]
    threshold: float = Field(
        0.8, gt=0, lt=1, description="Jaccard similarity that makes two documents duplicates."
    )
    ngram: int = Field(5, ge=1, description="Shingle size: words, or characters in CJK/Thai-like scripts.")
    num_perm: int = Field(112, ge=2, le=1024, description="MinHash permutations (signature length).")
    bands: int | None = Field(None, ge=1, description="LSH bands; default derived from threshold.")
    rows: int | None = Field(None, ge=1, description="Rows per band; default derived from threshold.")
    false_positive_weight: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Weight of LSH false positives when deriving bands/rows (datasketch's optimiser).",
    )
    false_negative_weight: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Weight of missed pairs; high because verification removes false positives.",
    )
    seed: int = Field(
        1, description="Seed of the permutations and shingle hashes (fixed: part of the output)."
    )
    verify: Literal["none", "signature", "exact"] = Field(
        "signature",
        description="Check candidate pairs: estimated Jaccard from signatures, or exact Jaccard of shingle "
        "sets (stores each document's shingle hashes in scratch: ~4 bytes per word).",
    )
    keeper: keeper_rules.Keeper = Field("smallest_id", description="Which document of a cluster is kept.")
    date_field: str = Field("date", description="metadata key read by keeper: earliest_date (ISO 8601 text).")
    lowercase: bool = True
    strip_punctuation: bool = True
    rows_per_partition: int = Field(
        200_000,
        ge=1,
        description="Documents per partition when `partitions` is not set (bounds worker memory).",
    )

    kind: ClassVar[Literal["document", "global"]] = "global"

    @model_validator(mode="after")
    def _check_bands(self) -> MinHashDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then they are derived from threshold)")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def band_rows(self) -> tuple[int, int]:
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return optimal_bands(
            self.threshold, self.num_perm, self.false_positive_weight, self.false_negative_weight
        )

    def build(self) -> MinHashDedup:
        return MinHashDedup(self)


def node_key(key: str, shard_index: int) -> str:
    """A document's node in the similarity graph: its keeper sort key, then its input shard's index.

    The shard rides along so the duplicate table can be grouped by shard without a join; the separator
    sorts below every printable character, so the order of nodes stays the order of keeper keys.
    """
    return f"{key}{_SHARD_SEP}{shard_index:x}"


def doc_key(node: str) -> str:
    return node.rsplit(_SHARD_SEP, 1)[0]


def shard_index(node: str) -> int:
    return int(node.rsplit(_SHARD_SEP, 1)[1], 16)


def _json(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def _dirs(work: str) -> dict[str, str]:
    return {k: storage.join(work, k) for k in ("bands", "side", "cand", "vin", "edges", "dup")}


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables).cast(schema) if tables else schema.empty_table()


class _Signatures(Task):
    """Phase 1, per input shard: band rows by hash(band, bucket), side rows by hash(key)."""

    def __init__(self, p: dict[str, Any]) -> None:
        self.p = p
        self.hasher = MinHasher(
            p["num_perm"], p["seed"], p["ngram"], lowercase=p["lowercase"], punctuation=p["punctuation"]
        )

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        p, shard = self.p, item["shard"]
        parts, dirs = p["partitions"], _dirs(p["work_dir"])
        exact = p["verify"] == "exact"
        need_meta = p["keeper"] == "earliest_date"
        band_tables, side_tables = [], []
        docs = skipped = 0
        for batch in iter_batches(item["files"], p["batch_rows"]):
            ids = batch.column("id").to_pylist()
            texts = batch.column("text").to_pylist()
            metas = batch.column("metadata").to_pylist() if need_meta else [None] * len(ids)
            keys, sigs, shs = [], [], []
            for doc_id, text, meta in zip(ids, texts, metas, strict=True):
                docs += 1
                hashes = self.hasher.shingles(text)
                if len(hashes) == 0:
                    skipped += 1  # nothing to compare: empty after normalisation (exact dedup handles these)
                    continue
                md = _json(meta) if meta else {}
                key = keeper_rules.sort_key(p["keeper"], doc_id, len(text), md, p["date_field"])
                keys.append(node_key(key, item["index"]))
                sigs.append(self.hasher.signature_of_hashes(hashes))
                shs.append(np.unique(hashes).tobytes() if exact else None)
            if not keys:
                continue
            sig = np.stack(sigs)
            bh = band_hashes(sig, p["bands"], p["rows"])
            n, b = bh.shape
            band_tables.append(
                pa.table(
                    {
                        "band": pa.array(np.tile(np.arange(b, dtype=np.int32), n)),
                        "bucket": pa.array(bh.reshape(-1)),
                        "key": pa.array(np.repeat(np.array(keys, dtype=object), b).tolist(), pa.string()),
                    },
                    schema=BAND_SCHEMA,
                )
            )
            side_tables.append(
                pa.table(
                    {
                        "key": keys,
                        "sig": [s.tobytes() for s in sigs],
                        "sh": shs,
                    },
                    schema=SIDE_SCHEMA,
                )
            )
        bands = _concat(band_tables, BAND_SCHEMA).sort_by(
            [("band", "ascending"), ("bucket", "ascending"), ("key", "ascending")]
        )
        side = _concat(side_tables, SIDE_SCHEMA).sort_by("key")
        bucket_part = partition_of_ints(
            bands.column("bucket").to_numpy() ^ bands.column("band").to_numpy().astype(np.uint64), parts
        )
        bytes_bands = write_partitioned(dirs["bands"], shard, bands, bucket_part, parts)
        bytes_side = write_partitioned(
            dirs["side"], shard, side, partition_of_keys(side.column("key"), parts), parts
        )
        return {
            "rows": docs,
            "no_shingles": skipped,
            "band_rows": bands.num_rows,
            "band_bytes": bytes_bands,
            "side_rows": side.num_rows,
            "side_bytes": bytes_side,
        }


class _Buckets(Task):
    """Phase 2, per band partition: n-1 star edges per bucket, partitioned by hash(u)."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, parts, dirs = item["partition"], self.p["partitions"], _dirs(self.p["work_dir"])
        t = read_partition(dirs["bands"], part, BAND_SCHEMA)
        rows = t.num_rows
        if rows == 0:
            return {"band_rows": 0, "edges": 0, "edge_bytes": 0, "max_bucket": 0}
        t = t.sort_by([("band", "ascending"), ("bucket", "ascending"), ("key", "ascending")])
        band = t.column("band").to_numpy()
        bucket = t.column("bucket").to_numpy()
        new_group = np.ones(rows, dtype=bool)
        new_group[1:] = (band[1:] != band[:-1]) | (bucket[1:] != bucket[:-1])
        first = np.maximum.accumulate(np.where(new_group, np.arange(rows), 0))
        members = np.flatnonzero(~new_group)
        starts = np.flatnonzero(new_group)
        sizes = np.diff(np.append(starts, rows))
        keys = t.column("key")
        edges = pa.table(
            {"u": keys.take(pa.array(first[members])), "v": keys.take(pa.array(members))}, schema=EDGE_SCHEMA
        )
        edges = edges.filter(pc.not_equal(edges.column("u"), edges.column("v")))  # a repeated id is one node
        edges = (
            edges.group_by(["u", "v"], use_threads=False)
            .aggregate([])
            .sort_by([("u", "ascending"), ("v", "ascending")])
        )
        nbytes = write_partitioned(
            dirs["cand"], f"{part:05d}", edges, partition_of_keys(edges.column("u"), parts), parts
        )
        return {
            "band_rows": rows,
            "edges": edges.num_rows,
            "edge_bytes": nbytes,
            "max_bucket": int(sizes.max()),
        }


class _VerifyU(Task):
    """Phase 3a, per partition of u: deduplicate candidate edges, attach u's signature, shuffle by v."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, parts, dirs = item["partition"], self.p["partitions"], _dirs(self.p["work_dir"])
        e = read_partition(dirs["cand"], part, EDGE_SCHEMA)
        e = e.group_by(["u", "v"], use_threads=False).aggregate([])
        if e.num_rows == 0:
            return {"edges": 0, "bytes": 0}
        if self.p["verify"] == "none":
            out = e.append_column("sig_u", pa.nulls(e.num_rows, pa.binary()))
            out = out.append_column("sh_u", pa.nulls(e.num_rows, pa.binary()))
        else:
            side = read_matching(
                dirs["side"], part, "key", pc.unique(e.column("u")), SIDE_SCHEMA, ["key", "sig", "sh"]
            )
            side = side.rename_columns(["u", "sig_u", "sh_u"])
            out = e.join(side, keys="u", join_type="left outer", use_threads=False)
        out = out.select(VIN_SCHEMA.names).cast(VIN_SCHEMA).sort_by([("u", "ascending"), ("v", "ascending")])
        nbytes = write_partitioned(
            dirs["vin"], f"{part:05d}", out, partition_of_keys(out.column("v"), parts), parts
        )
        return {"edges": out.num_rows, "bytes": nbytes}


class _VerifyV(Task):
    """Phase 3b, per partition of v: attach v's signature, keep similar pairs, emit round-1 proposals."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, parts, dirs = item["partition"], self.p["partitions"], _dirs(self.p["work_dir"])
        e = read_partition(dirs["vin"], part, VIN_SCHEMA)
        if e.num_rows == 0:
            return {"checked": 0, "kept": 0, "bytes": 0}
        checked = e.num_rows
        mode = self.p["verify"]
        if mode != "none":
            side = read_matching(
                dirs["side"], part, "key", pc.unique(e.column("v")), SIDE_SCHEMA, ["key", "sig", "sh"]
            )
            e = e.join(
                side.rename_columns(["v", "sig_v", "sh_v"]), keys="v", join_type="inner", use_threads=False
            )
            e = e.sort_by([("u", "ascending"), ("v", "ascending")])
            keep = self._similar(e, mode)
            e = e.filter(pa.array(keep))
        e = e.select(["u", "v"]).cast(EDGE_SCHEMA).sort_by([("u", "ascending"), ("v", "ascending")])
        nbytes = write_partitioned(
            dirs["edges"], f"{part:05d}", e, partition_of_keys(e.column("u"), parts), parts
        )
        # Round 1 of label propagation: every label is its own node, so each edge proposes u to v.
        props = pa.table({"node": e.column("v"), "label": e.column("u")}, schema=LABEL_SCHEMA)
        nbytes += write_partitioned(
            _round_dir(self.p["work_dir"], "props", 1),
            f"{part:05d}",
            props,
            np.full(props.num_rows, part),
            parts,
        )
        return {"checked": checked, "kept": e.num_rows, "bytes": nbytes}

    def _similar(self, e: pa.Table, mode: str) -> np.ndarray:
        n, num_perm, threshold = e.num_rows, self.p["num_perm"], self.p["threshold"]
        if n == 0:
            return np.zeros(0, dtype=bool)
        su = np.frombuffer(b"".join(e.column("sig_u").to_pylist()), dtype=np.uint32).reshape(n, num_perm)
        sv = np.frombuffer(b"".join(e.column("sig_v").to_pylist()), dtype=np.uint32).reshape(n, num_perm)
        if mode == "signature":
            return estimated_jaccard(su, sv) >= threshold
        keep = np.zeros(n, dtype=bool)
        for i, (a, b) in enumerate(
            zip(e.column("sh_u").to_pylist(), e.column("sh_v").to_pylist(), strict=True)
        ):
            ja = np.frombuffer(a, dtype=np.uint32)
            jb = np.frombuffer(b, dtype=np.uint32)
            keep[i] = jaccard(ja, jb) >= threshold
        return keep


def _row_bytes(cfg: MinHashDedupConfig, bands: int, id_len: float, text_len: float) -> float:
    """Shuffle bytes per document in one partition: band rows (band, bucket, key, offset) and the side
    row (key, signature[, shingle hashes: ~4 bytes per word of ~6 characters])."""
    key = id_len + 8
    side = key + 4 * cfg.num_perm + (text_len / 6 * 4 if cfg.verify == "exact" else 0) + 16
    return bands * (4 + 8 + key + 4) + side


def _round_dir(work: str, kind: str, r: int) -> str:
    return storage.join(work, f"{kind}-r{r:03d}")


class _LabelUpdate(Task):
    """Round r, phase X, per partition: apply proposals to the label table; send (u, v, label(u)) to v."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, r, parts, work = item["partition"], item["round"], self.p["partitions"], self.p["work_dir"]
        old = (
            read_partition(_round_dir(work, "labels", r - 1), part, LABEL_SCHEMA)
            if r > 1
            else LABEL_SCHEMA.empty_table()
        )
        props = read_partition(_round_dir(work, "props", r), part, LABEL_SCHEMA)
        merged = (
            pa.concat_tables([old, props]).group_by("node", use_threads=False).aggregate([("label", "min")])
        )
        labels = merged.rename_columns(["node", "label"]).sort_by("node")
        changed = labels.num_rows - (
            old.join(labels, keys=["node", "label"], join_type="inner", use_threads=False).num_rows
            if old.num_rows
            else 0
        )
        write_partitioned(
            _round_dir(work, "labels", r), f"{part:05d}", labels, np.full(labels.num_rows, part), parts
        )
        edges = read_partition(storage.join(work, "edges"), part, EDGE_SCHEMA)
        half = edges.join(
            labels.rename_columns(["u", "lu"]), keys="u", join_type="left outer", use_threads=False
        )
        lu_index = half.schema.get_field_index("lu")
        half = half.set_column(lu_index, "lu", pc.coalesce(half.column("lu"), half.column("u")))
        half = (
            half.select(HALF_SCHEMA.names).cast(HALF_SCHEMA).sort_by([("u", "ascending"), ("v", "ascending")])
        )
        nbytes = write_partitioned(
            _round_dir(work, "half", r),
            f"{part:05d}",
            half,
            partition_of_keys(half.column("v"), parts),
            parts,
        )
        # Speculative: if this round turns out to be the last, these rows are the cluster membership,
        # already where phase 5 needs them (by hash(root)); this saves one phase with its own shuffle.
        nbytes += write_partitioned(
            _round_dir(work, "members", r),
            f"{part:05d}",
            labels,
            partition_of_keys(labels.column("label"), parts),
            parts,
        )
        return {"labels": labels.num_rows, "changed": changed, "bytes": nbytes}


class _LabelPropose(Task):
    """Round r, phase Y, per partition of v: m = min(label(u), label(v)); propose m to u, v, their labels."""

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, r, parts, work = item["partition"], item["round"], self.p["partitions"], self.p["work_dir"]
        half = read_partition(_round_dir(work, "half", r), part, HALF_SCHEMA)
        if half.num_rows == 0:
            return {"proposals": 0, "bytes": 0}
        labels = read_partition(_round_dir(work, "labels", r), part, LABEL_SCHEMA)
        t = half.join(labels.rename_columns(["v", "lv"]), keys="v", join_type="left outer", use_threads=False)
        lu = t.column("lu")
        lv = pc.coalesce(t.column("lv"), t.column("v"))
        m = pc.min_element_wise(lu, lv)
        out = []
        for target, current in ((t.column("u"), lu), (t.column("v"), lv), (lu, lu), (lv, lv)):
            mask = pc.less(m, current)
            out.append(
                pa.table({"node": pc.filter(target, mask), "label": pc.filter(m, mask)}, schema=LABEL_SCHEMA)
            )
        props = pa.concat_tables(out).group_by("node", use_threads=False).aggregate([("label", "min")])
        props = props.rename_columns(["node", "label"]).sort_by("node")
        nbytes = write_partitioned(
            _round_dir(work, "props", r + 1),
            f"{part:05d}",
            props,
            partition_of_keys(props.column("node"), parts),
            parts,
        )
        return {"proposals": props.num_rows, "bytes": nbytes}


class _ClusterTable(Task):
    """Phase 5, per root partition: cluster sizes; duplicate rows grouped by shard; size histogram.

    Reads the membership rows (node, root) that the last label round wrote by hash(root).
    """

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        part, parts, work = item["partition"], self.p["partitions"], self.p["work_dir"]
        t = read_partition(_round_dir(work, "members", item["round"]), part, LABEL_SCHEMA)
        if t.num_rows == 0:
            return {"rows": 0, "bytes": 0, "histogram": {}}
        sizes = t.group_by("label", use_threads=False).aggregate([("node", "count")])
        t = t.join(sizes, keys="label", use_threads=False).sort_by("node")
        rule, shards = self.p["keeper"], self.p["shards"]
        nodes = t.column("node").to_pylist()
        dup = pa.table(
            {
                "shard": [shards[shard_index(k)] for k in nodes],
                "id": [keeper_rules.id_of(rule, doc_key(k)) for k in nodes],
                "kept_id": [keeper_rules.id_of(rule, doc_key(k)) for k in t.column("label").to_pylist()],
                "cluster_size": pc.add(t.column("node_count"), 1),
            },
            schema=DUP_SCHEMA,
        ).sort_by("id")
        nbytes = write_by_shard(storage.join(work, "dup"), f"{part:05d}", dup, parts)
        hist = Counter((sizes.column("node_count").to_numpy() + 1).tolist())
        return {
            "rows": dup.num_rows,
            "bytes": nbytes,
            "histogram": {str(k): v for k, v in sorted(hist.items())},
        }


class MinHashDedup(DedupStage):
    """Runs the phases above on Ray, then writes outputs via ShardWriter and `_extra/<stage>.json`."""

    empty_extra: ClassVar[dict[str, Any]] = {
        "documents": 0, "removed": 0, "clusters": 0, "rounds": 0, "cluster_size_histogram": {}}

    def row_bytes(self, id_len: float, text_len: float) -> float:
        return _row_bytes(self.cfg, self.cfg.band_rows()[0], id_len, text_len)

    def params(self, shards: list[tuple[str, list[str]]]) -> dict[str, Any]:
        cfg = self.cfg
        bands, rows = cfg.band_rows()
        return {
            "num_perm": cfg.num_perm,
            "seed": cfg.seed,
            "ngram": cfg.ngram,
            "bands": bands,
            "rows": rows,
            "threshold": cfg.threshold,
            "verify": cfg.verify,
            "keeper": cfg.keeper,
            "date_field": cfg.date_field,
            "lowercase": cfg.lowercase,
            "punctuation": cfg.strip_punctuation,
            "shards": [s for s, _ in shards],
        }

    def run_phases(self, ctx: StageContext, shards: list[tuple[str, list[str]]], total: int,
                   p: dict[str, Any], fields: dict[str, Any]) -> None:
        cfg, parts, bands, rows = self.cfg, p["partitions"], p["bands"], p["rows"]
        phases = PhaseRunner(ctx, p, 8)  # 1 label round; each further round adds 2
        timer = time.monotonic()

        def run_phase(name: str, cls: type, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return phases.run(name, items, functools.partial(cls, p), round=items[0].get("round"))

        part_items = [{"partition": i} for i in range(parts)]
        shard_items = [{"shard": s, "files": f, "index": i} for i, (s, f) in enumerate(shards)]
        run_phase("signatures", _Signatures, shard_items)
        edges = sum(r.get("edges", 0) for r in run_phase("buckets", _Buckets, part_items))
        rounds, histogram = 0, Counter()
        if edges:
            run_phase("verify_u", _VerifyU, part_items)
            if sum(r.get("kept", 0) for r in run_phase("verify_v", _VerifyV, part_items)):
                rounds = 1
                while True:
                    items = [{"partition": i, "round": rounds} for i in range(parts)]
                    run_phase("labels", _LabelUpdate, items)
                    proposed = sum(r["proposals"] for r in run_phase("propose", _LabelPropose, items))
                    if proposed == 0:
                        break
                    rounds += 1
                    phases.plan_more(2)
                    if rounds > MAX_ROUNDS:
                        raise RuntimeError(
                            f"{self.name}: connected components did not converge in {MAX_ROUNDS} rounds"
                        )
                items = [{"partition": i, "round": rounds} for i in range(parts)]
                for res in run_phase("cluster_table", _ClusterTable, items):
                    histogram.update({int(k): v for k, v in res["histogram"].items()})
        remover = functools.partial(
            RemoveDuplicates, fields, storage.join(ctx.work_dir, "dup"), parts, "near_duplicate"
        )
        results = phases.run("remove", [{"shard": s, "files": f} for s, f in shards], remover)
        removed = sum(r.get("removed", 0) for r in results)
        write_extra(
            ctx,
            {
                "documents": total,
                "partitions": parts,
                "bands": bands,
                "rows": rows,
                "num_perm": cfg.num_perm,
                "rounds": rounds,
                "clusters": sum(histogram.values()),
                "removed": removed,
                "cluster_size_histogram": {str(k): histogram[k] for k in sorted(histogram)},
                "phases": phases.stats,
                "seconds": round(time.monotonic() - timer, 3),
            },
        )
