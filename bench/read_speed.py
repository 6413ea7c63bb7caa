"""Read + write throughput of winnow's read stage vs datatrove on the same WARC files, one core each.

winnow: WARC -> HTML to text (each of --extractors in turn) -> Parquet shard with stats and hashes
(the read stage's own worker code, without Ray). datatrove 0.10.1: WarcReader -> Trafilatura ->
ParquetWriter with a single-task LocalPipelineExecutor. Both see the same files; the peer runs in the
bench venv if given. docs/s from wall time of one process (CPU time printed beside it).

    python bench/read_speed.py [--copies 4] [--extractors winnow,trafilatura,resiliparse]
        [--peer-python /work/.venv-bench/bin/python]

Data: the bundled real WARC files (data/sample/commoncrawl, data/sample/web), copied --copies times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WARCS = sorted((REPO / "data/sample/commoncrawl").glob("*.warc.gz")) + sorted(
    (REPO / "data/sample/web").glob("dolma*.warc.gz")
)

PEER = r"""
import sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.writers import ParquetWriter
src, out, logs = sys.argv[1:4]
t = time.perf_counter()
LocalPipelineExecutor(
    pipeline=[WarcReader(src, glob_pattern="*.warc.gz"), Trafilatura(timeout=10.0), ParquetWriter(out)],
    tasks=1, workers=1, logging_dir=logs,
).run()
print(time.perf_counter() - t)
"""


def winnow_read(folder: Path, out: Path, extractor: str) -> tuple[int, float, float]:
    """(documents written, wall seconds, CPU seconds) of the read stage's worker over `folder`."""
    from pipeline.config import parse_config
    from pipeline.readers import expand_source
    from pipeline.runner import ReadShard

    config = parse_config(
        f"sources: [{{name: cc, format: warc, paths: ['{folder}/*.warc.gz'], extractor: {extractor}}}]\n",
        "bench.yaml",
    )
    worker = ReadShard(config, str(out))
    t, c = time.perf_counter(), time.process_time()
    for f in expand_source(config.sources[0]):
        worker(f.to_dict())
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    docs = sum(
        json.loads(p.read_text())["stages"]["read"]["sources"]["cc"]["out"]
        for p in (out / "00_read" / "_stats").glob("*.json")
    )
    return docs, seconds, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--extractors", default="winnow,trafilatura,resiliparse")
    ap.add_argument("--peer-python", default="/work/.venv-bench/bin/python")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "warc"
        src.mkdir()
        for i in range(args.copies):
            for w in WARCS:
                shutil.copy(w, src / f"{i:03d}-{w.name}")
        mb = sum(p.stat().st_size for p in src.iterdir()) / 1e6
        print(f"input: {len(list(src.iterdir()))} WARC files, {mb:.1f} MB compressed")
        rates = {}
        for name in args.extractors.split(","):
            docs, secs, cpu = winnow_read(src, Path(tmp) / f"winnow-{name}", name)
            rates[name] = docs / secs
            print(
                f"winnow read+write, {name:12} {docs} docs in {secs:.2f} s (CPU {cpu:.2f} s) = "
                f"{docs / secs:,.0f} docs/s (1 core)"
            )
        if not Path(args.peer_python).exists():
            print("peer: datatrove venv not found; skipping the ratio")
            return
        res = subprocess.run(
            [args.peer_python, "-c", PEER, str(src), f"{tmp}/dt", f"{tmp}/dtlogs"],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            print("peer failed:", res.stderr[-2000:])
            return
        peer_secs = float(res.stdout.strip().splitlines()[-1])
        import pyarrow.parquet as pq

        peer_docs = sum(pq.read_metadata(p).num_rows for p in Path(f"{tmp}/dt").rglob("*.parquet"))
        rate = peer_docs / peer_secs
        print(f"datatrove read+write:  {peer_docs} docs in {peer_secs:.2f} s = {rate:,.0f} docs/s")
        for name, r in rates.items():
            print(f"ratio (docs/s), winnow {name}: {r / rate:.2f}x datatrove")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
