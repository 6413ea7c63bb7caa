"""End-to-end minhash_dedup at scale: wall time and peak RSS per worker, per phase.

Documents are synthetic-from-real (bench/dedup_corpus.py: real sentences, ~4 KB, 10% edited copies),
written as input shards of --shard-docs documents, then the real stage runs on embedded Ray with
--workers actors. Per phase it prints seconds, rows/bytes shuffled and the peak RSS of the busiest
worker (each phase runs in a fresh actor pool, so that is the phase's own peak).
    python bench/dedup_scale.py                  # 50k documents (~2 minutes on 2 shared cores)
    python bench/dedup_scale.py --docs 250000    # also 500000, 1000000
The per-partition size is fixed (rows_per_partition), so P grows with N and memory per worker stays
flat; compare peak RSS across sizes.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from dedup_corpus import synthetic_documents

from pipeline.config import parse_config
from pipeline.schema import Document, documents_to_table
from pipeline.shards import ShardWriter, shard_files
from pipeline.step import StageContext


def write_input(prev: Path, n: int, shard_docs: int) -> float:
    start = time.monotonic()
    batch: list[Document] = []
    shard = 0
    w = ShardWriter(str(prev), f"shard{shard:05d}", target_bytes=256 << 20)
    for i, (doc_id, text) in enumerate(synthetic_documents(n)):
        batch.append(Document(doc_id, text, "synthetic"))
        if len(batch) == 1000:
            w.write(documents_to_table(batch))
            batch = []
        if (i + 1) % shard_docs == 0 and i + 1 < n:
            if batch:
                w.write(documents_to_table(batch))
                batch = []
            w.finish()
            shard += 1
            w = ShardWriter(str(prev), f"shard{shard:05d}", target_bytes=256 << 20)
    if batch:
        w.write(documents_to_table(batch))
    w.finish()
    return time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--shard-docs", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows-per-partition", type=int, default=20_000)
    ap.add_argument("--verify", default="signature", choices=["exact", "signature", "none"])
    ap.add_argument("--dir", default=None, help="work here (default: a temporary folder, removed after)")
    args = ap.parse_args()
    tmp = Path(args.dir or tempfile.mkdtemp(prefix="dedup-scale-"))
    try:
        gen = write_input(tmp / "01_prev", args.docs, args.shard_docs)
        in_bytes = sum(p.stat().st_size for p in (tmp / "01_prev").glob("*.parquet"))
        print(f"{args.docs} documents in {in_bytes / 2**20:.0f} MiB of Parquet, generated in {gen:.0f}s")
        yaml = (
            "sources: [{name: synthetic, format: jsonl, paths: [x.jsonl]}]\n"
            f"ray: {{num_cpus: {args.workers}, num_workers: {args.workers}}}\n"
            "stages:\n  - {type: minhash_dedup, name: fuzzy, "
            f"verify: {args.verify}, rows_per_partition: {args.rows_per_partition}}}\n"
        )
        config = parse_config(yaml, "bench.yaml", str(tmp))
        ctx = StageContext(
            config=config,
            run_dir=str(tmp),
            stage_index=2,
            stage_name="fuzzy",
            stage_dir=str(tmp / "02_fuzzy"),
            rejected_dir=str(tmp / "rejected" / "02_fuzzy"),
            work_dir=str(tmp / "_work" / "02_fuzzy"),
            shards=shard_files(str(tmp / "01_prev")),
        )
        start = time.monotonic()
        config.stage_configs()[0].build().run(ctx)
        wall = time.monotonic() - start
        extra = json.loads((tmp / "_extra" / "fuzzy.json").read_text())
        print(
            f"stage wall {wall:.0f}s = {args.docs / wall:.0f} docs/s on {args.workers} workers; "
            f"P={extra['partitions']}, rounds={extra['rounds']}, removed={extra['removed']}, "
            f"clusters={extra['clusters']}"
        )
        print(f"{'phase':16s} {'seconds':>8s} {'peak RSS/worker MiB':>20s} {'shuffle MiB':>12s}")
        for name, ph in extra["phases"].items():
            shuffled = sum(v for k, v in ph.items() if k.endswith("bytes")) / 2**20
            print(f"{name:16s} {ph['seconds']:8.1f} {ph.get('max_rss_mb', 0):20.0f} {shuffled:12.2f}")
        sig = extra["phases"]["signatures"]
        per_band = sig["band_bytes"] / max(sig["band_rows"], 1)
        per_side = sig["side_bytes"] / max(sig["side_rows"], 1)
        print(f"band rows {sig['band_rows']} ({per_band:.1f} B/row)", end=", ")
        print(f"side rows {sig['side_rows']} ({per_side:.0f} B/row)")
        peak = max(ph.get("max_rss_mb", 0) for ph in extra["phases"].values())
        driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS per worker: {peak:.0f} MiB; driver peak RSS {driver:.0f} MiB")
        print(json.dumps({"docs": args.docs, "wall_s": round(wall, 1), "peak_worker_rss_mb": peak}))
    finally:
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
