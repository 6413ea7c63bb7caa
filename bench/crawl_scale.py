"""Global stages at growing size on a 3-node Ray cluster: exact + MinHash dedup + tokenize, 1x and 4x.

For each --docs size, builds a corpus of real text (bench/dedup_corpus.py: real sentences, ~4 KB
documents, 10% edited near-copies) plus 5% exact copies under new ids, as JSONL files of --file-docs
documents; starts 3 Ray nodes on this machine (`ray start`, loopback only, 1 CPU each, as
tests/pipeline/test_cluster.py does) and submits `winnow run` with `ray job submit`, as a user would.
Reported per size: wall time, CPU seconds of every process of the 3 nodes (driver and Ray workers
included, sampled from /proc), per phase of each global stage its seconds, task core-seconds per
document, rows and bytes shuffled and the largest worker peak RSS; the driver's peak RSS; and the
ratios between sizes.

    python bench/crawl_scale.py                      # 50,000 and 200,000 documents (~20 min, 2 cores)
    python bench/crawl_scale.py --docs 1000000 4000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dedup_corpus import synthetic_documents  # noqa: E402

from bench.proc_cpu import _tree, _usage  # noqa: E402
from tests.pipeline import ray_nodes  # noqa: E402

TOKENIZER = REPO / "data" / "tokenizers" / "sample-bpe-8k" / "tokenizer.json"
STAGES = ("exact_dedup", "minhash_dedup", "tokenize")


def build(folder: Path, docs: int, file_docs: int) -> tuple[int, int]:
    """JSONL files of `docs` documents; every 20th is an exact copy of an earlier one (new id)."""
    folder.mkdir(parents=True)
    n = size = 0
    out = None
    earlier: list[str] = []
    for doc_id, text in synthetic_documents(docs - docs // 20):
        for i, t in ((doc_id, text), *(((f"{doc_id}-copy", earlier[-7]),) if n % 19 == 18 else ())):
            if n % file_docs == 0:
                if out:
                    out.close()
                out = (folder / f"part-{n // file_docs:05d}.jsonl").open("w", encoding="utf-8")
            line = json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
            out.write(line)
            n += 1
            size += len(line.encode())
        earlier.append(text)
        earlier = earlier[-64:]
    if out:
        out.close()
    return n, size


def config(folder: Path) -> str:
    return f"""name: crawl-scale
sources: [{{name: web, format: jsonl, paths: ["{folder}/*.jsonl"]}}]
stages:
  - {{type: exact_dedup}}
  - {{type: minhash_dedup, threshold: 0.8}}
  - {{type: tokenize, tokenizer: {TOKENIZER}}}
output: {{report: false}}
"""


class Sampler:
    """CPU seconds and peak RSS of every process of the cluster's nodes, from /proc."""

    def __init__(self, roots: list[int]) -> None:
        self.roots, self.cpu, self.peak, self.driver = roots, {}, 0.0, 0.0

    def sample(self) -> None:
        for root in self.roots:
            for pid in _tree(root):
                got = _usage(pid)
                if not got:
                    continue
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), got[0])
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"winnow" in cmd and b"run" in cmd:
                    self.driver = max(self.driver, got[1])
                elif b"ray::" in cmd or b"default_worker" in cmd:
                    self.peak = max(self.peak, got[1])


def run_size(tmp: Path, docs: int, file_docs: int) -> dict:
    folder = tmp / f"in-{docs}"
    t0 = time.monotonic()
    n, size = build(folder, docs, file_docs)
    print(f"{n} documents, {size / 2**20:.0f} MiB of JSONL in {n // file_docs + 1} files "
          f"(built in {time.monotonic() - t0:.0f} s)", flush=True)
    cfg = tmp / f"c-{docs}.yaml"
    cfg.write_text(config(folder))
    out = tmp / f"run-{docs}"
    env = ray_nodes.ray_env()
    temp = Path(tempfile.mkdtemp(prefix="rs", dir="/tmp"))
    head, gcs, address = ray_nodes.start_head(temp, 1, env, (22000, 22199))
    workers = []
    try:
        for k in range(2):
            w = ray_nodes.start_worker(gcs, 1, env, (22200 + 200 * k, 22399 + 200 * k), temp / f"w{k}")
            workers.append(w)
            ray_nodes.wait_nodes(address, env, 2 + k, workers)
        sampler = Sampler([head.pid, *(w.pid for w in workers)])
        sampler.sample()
        base = sum(sampler.cpu.values())
        import subprocess

        cmd = ray_nodes.submit_cmd(address, ["run", str(cfg), "--output", str(out)])
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            sampler.sample()
            time.sleep(0.5)
        wall = time.monotonic() - start
        log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        if proc.returncode != 0 or "succeeded" not in log:
            raise SystemExit(f"the job failed:\n{log[-3000:]}")
    finally:
        for node in [*workers, head]:
            ray_nodes.stop(node)
        shutil.rmtree(temp, ignore_errors=True)
    manifest = json.loads((out / "manifest.json").read_text())
    phases = {}
    for stage in STAGES:
        extra = manifest["extra"].get(stage, {})
        for name, st in extra.get("phases", {}).items():
            phases[f"{stage}:{name}"] = st
    result = {
        "docs": n,
        "bytes": size,
        "wall_s": round(wall, 1),
        "cpu_s": round(sum(sampler.cpu.values()) - base, 1),
        "peak_worker_rss_mb": round(sampler.peak, 0),
        "driver_rss_mb": round(sampler.driver, 0),
        "timings": manifest["timings"],
        "phases": phases,
        "exact_removed": manifest["extra"].get("exact_dedup", {}).get("removed"),
        "near_removed": manifest["extra"].get("minhash_dedup", {}).get("removed"),
        "tokens": sum(s.get("tokens_out", 0) for s in manifest["extra"]["tokenize"]["sources"].values()),
        "partitions": manifest["extra"].get("minhash_dedup", {}).get("partitions"),
    }
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return result


def show(r: dict) -> None:
    n = r["docs"]
    print(f"\n{n:,} documents: wall {r['wall_s']:.0f} s, CPU {r['cpu_s']:.0f} s "
          f"({1000 * r['cpu_s'] / n:.2f} ms/doc), peak worker RSS {r['peak_worker_rss_mb']:.0f} MiB, "
          f"driver {r['driver_rss_mb']:.0f} MiB; exact removed {r['exact_removed']}, "
          f"near {r['near_removed']}, MinHash partitions {r['partitions']}, {r['tokens']:,} tokens")
    print("  stage timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["timings"].items()))
    print(f"  {'phase':34s} {'s':>7s} {'task ms/doc':>12s} {'rows':>11s} {'MiB':>8s} {'RSS MiB':>8s}")
    for name, st in r["phases"].items():
        mib = sum(v for k, v in st.items() if k.endswith("bytes")) / 2**20
        print(f"  {name:34s} {st['seconds']:7.1f} {1000 * st.get('task_seconds', 0) / n:12.3f} "
              f"{st.get('rows', 0):11,} {mib:8.1f} {st.get('max_rss_mb', 0):8.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--file-docs", type=int, default=10_000, help="documents per input file")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crawl-scale-"))
    results = []
    try:
        for docs in args.docs:
            results.append(run_size(tmp, docs, args.file_docs))
            show(results[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(results) > 1:
        a, b = results[0], results[-1]
        print(f"\n{b['docs']:,} / {a['docs']:,} documents ({b['docs'] / a['docs']:.1f}x): "
              f"wall {b['wall_s'] / a['wall_s']:.2f}x, CPU {b['cpu_s'] / a['cpu_s']:.2f}x, "
              f"peak worker RSS {b['peak_worker_rss_mb'] / max(a['peak_worker_rss_mb'], 1):.2f}x, "
              f"driver RSS {b['driver_rss_mb'] / max(a['driver_rss_mb'], 1):.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
