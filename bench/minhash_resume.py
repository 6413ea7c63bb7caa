"""A MinHash stage killed part-way and rerun: how much of its work the rerun redoes.

Builds ~--docs documents of real text with near duplicates (bench/dedup_corpus.py, ~4 KB each) as
--files JSONL files and reads them once (`winnow run` with no stages). Then, on two copies of that run
directory, the same `winnow run` (read done + minhash_dedup) as a user runs it, each in a subprocess
with its own embedded Ray, so both pay the same start-up (Ray, and Ray Data's first tasks):
1. uninterrupted: the stage's time T (from the manifest's timings);
2. SIGKILLed (driver, raylet and every Ray worker) when the stage has run --kill-at x T, then the same
   command again: the rerun's stage time R, R / T, and the tasks the rerun took from the killed run;
3. the output Parquet files of the rerun against those of the uninterrupted run (byte-identical).

    python bench/minhash_resume.py [--docs 24000] [--files 8] [--kill-at 0.6]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dedup_corpus import synthetic_documents  # noqa: E402

from bench.proc_cpu import _tree  # noqa: E402

STAGE = "01_minhash_dedup"


def build(folder: Path, docs: int, files: int) -> None:
    folder.mkdir(parents=True)
    handles = [(folder / f"part-{k:03d}.jsonl").open("w", encoding="utf-8") for k in range(files)]
    for i, (doc_id, text) in enumerate(synthetic_documents(docs)):
        handles[i % files].write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    for h in handles:
        h.close()


def config(folder: Path, workers: int, stages: bool = True) -> str:
    stage = "\n  - {type: minhash_dedup, threshold: 0.8}" if stages else " []"
    return f"""name: minhash-resume
sources: [{{name: web, format: jsonl, paths: ["{folder}/*.jsonl"]}}]
stages:{stage}
output: {{report: false}}
ray: {{num_workers: {workers}}}
"""


def winnow(cfg: Path, out: Path, log: Path) -> subprocess.Popen:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "run", str(cfg), "--output", str(out)],
            cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )


def finish(proc: subprocess.Popen, log: Path) -> None:
    if proc.wait() != 0:
        raise SystemExit(f"winnow run failed; its log:\n{log.read_text()[-3000:]}")


def stage_seconds(out: Path) -> float:
    return json.loads((out / "manifest.json").read_text())["timings"][STAGE]


def outputs(out: Path) -> dict[str, str]:
    files = sorted((out / STAGE).glob("*.parquet"))
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def kill_tree(proc: subprocess.Popen) -> int:
    """SIGKILL the run and everything it started (embedded Ray's raylet, GCS and workers)."""
    pids = _tree(proc.pid)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    return len(pids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=24_000)
    ap.add_argument("--files", type=int, default=8, help="input files: the signature phase's tasks")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-at", type=float, default=0.6)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="minhash-resume-"))
    try:
        build(tmp / "in", args.docs, args.files)
        cfg, read_only = tmp / "c.yaml", tmp / "read.yaml"
        cfg.write_text(config(tmp / "in", args.workers))
        read_only.write_text(config(tmp / "in", args.workers, stages=False))
        base = tmp / "base"
        finish(winnow(read_only, base, tmp / "read.log"), tmp / "read.log")
        whole, killed = tmp / "whole", tmp / "killed"
        shutil.copytree(base, whole)
        shutil.copytree(base, killed)

        started = time.perf_counter()
        finish(winnow(cfg, whole, tmp / "whole.log"), tmp / "whole.log")
        wall = time.perf_counter() - started
        t = stage_seconds(whole)
        print(f"uninterrupted: {STAGE} {t:.1f} s (whole run {wall:.1f} s wall)")

        proc = winnow(cfg, killed, tmp / "killed.log")
        work = killed / "_work" / STAGE
        while not work.exists():  # the stage has begun: the phase runner made its work dir
            if proc.poll() is not None:
                raise SystemExit("the run ended before the stage began")
            time.sleep(0.05)
        begun = time.perf_counter()
        time.sleep(max(0.0, args.kill_at * t - (time.perf_counter() - begun)))
        n = kill_tree(proc)
        phases = sorted(p.name for p in (work / "_phases").iterdir() if (p / "_phase.json").exists())
        print(f"killed after {time.perf_counter() - begun:.1f} s of the stage ({n} processes); "
              f"phases finished: {', '.join(phases) or 'none'}")
        time.sleep(2)
        started = time.perf_counter()
        finish(winnow(cfg, killed, tmp / "rerun.log"), tmp / "rerun.log")
        rerun_wall = time.perf_counter() - started
        r = stage_seconds(killed)
        extra = json.loads((killed / "_extra" / "minhash_dedup.json").read_text())
        reused = sum(p.get("tasks_from_earlier_run", 0) for p in extra.get("phases", {}).values())
        print(f"rerun: {STAGE} {r:.1f} s (whole run {rerun_wall:.1f} s wall), "
              f"{reused} tasks from the killed run")
        before = json.loads((whole / "_extra" / "minhash_dedup.json").read_text())["phases"]
        print("phase seconds (uninterrupted / rerun, tasks from the killed run):")
        for name, st in before.items():
            again = extra["phases"].get(name, {})
            print(f"  {name:14s} {st['seconds']:6.1f} / {again.get('seconds', 0):6.1f}"
                  f"  ({again.get('tasks_from_earlier_run', 0)} of {again.get('tasks', 0)} tasks reused;"
                  f" task seconds {st.get('task_seconds', 0):.1f} / {again.get('task_seconds', 0):.1f})")
        same = outputs(killed) == outputs(whole)
        print(f"rerun / uninterrupted stage time: {r / t:.2f}   output byte-identical: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
