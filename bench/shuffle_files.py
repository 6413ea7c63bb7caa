"""Files written per phase by the global dedup stages (exact, line, MinHash) on the bundled sample.

Runs a dedup-only job over the sample's JSONL sources (split into small input shards, so there are
many writers) and counts, after every phase, the new files under the stage's `_work/` dir (markers
under `_work/<stage>/_phases/` excluded). Prints the counts per phase and the output shards' sha256s
from the manifest, so two versions can be compared byte for byte:
    python bench/shuffle_files.py --out /tmp/sf/after --partitions 16 --workers 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from pipeline import phases as phases_mod
from pipeline import runner
from pipeline.config import parse_config

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
name: shuffle_files
sources:
  - name: web_en
    format: jsonl
    paths: ["{root}/data/sample/en/*.jsonl", "{root}/data/sample/en/*.json.gz"]
    shard_mb: {shard_mb}
  - name: multilingual
    format: jsonl
    paths: ["{root}/data/sample/multilingual/*.jsonl"]
    shard_mb: {shard_mb}
ray: {{num_workers: {workers}}}
output: {{batch_rows: 200}}
stages:
  - {{type: exact_dedup{parts}}}
  - {{type: line_dedup{parts}}}
  - {{type: minhash_dedup{parts}}}
"""


def _files(work: str) -> set[str]:
    out = set()
    for dirpath, _, names in os.walk(work):
        if "_phases" in Path(dirpath).relative_to(work).parts[:1]:
            continue
        out.update(os.path.join(dirpath, n) for n in names)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=16, help="0: the stages' default")
    ap.add_argument("--shard-mb", type=int, default=1)
    args = ap.parse_args()
    parts = f", partitions: {args.partitions}" if args.partitions else ""
    text = CONFIG.format(root=ROOT, shard_mb=args.shard_mb, workers=args.workers, parts=parts)
    config = parse_config(text, "shuffle_files.yaml", str(ROOT))
    counts: list[dict[str, Any]] = []
    original = phases_mod.PhaseRunner.run

    def counting(self: phases_mod.PhaseRunner, name: str, items: list[dict[str, Any]], *a: Any, **k: Any):
        before = _files(self.ctx.work_dir)
        result = original(self, name, items, *a, **k)
        new = len(_files(self.ctx.work_dir) - before)
        counts.append(
            {
                "stage": self.ctx.stage_name,
                "phase": name,
                "round": k.get("round"),
                "tasks": len(items),
                "files": new,
            }
        )
        return result

    phases_mod.PhaseRunner.run = counting  # type: ignore[method-assign]
    start = time.monotonic()
    manifest = runner.run(config, args.out)
    seconds = time.monotonic() - start
    for c in counts:
        r = f" r{c['round']}" if c["round"] else ""
        print(f"{c['stage']:14s} {c['phase']:14s}{r:5s} tasks {c['tasks']:4d} files {c['files']:6d}")
    outputs = sorted((o["path"], o["sha256"]) for o in manifest.get("outputs", []))
    every = {}  # every stage's Parquet output and rejected set, not only the last stage's
    for path in sorted(Path(args.out).rglob("*.parquet")):
        if "_work" not in path.parts:
            every[str(path.relative_to(args.out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256(json.dumps(every, sort_keys=True).encode()).hexdigest()
    print(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "max_files_per_phase": max(c["files"] for c in counts),
                "parquet_files": len(every),
                "all_parquet_sha256": digest,
                "outputs": outputs,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
