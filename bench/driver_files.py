"""What the driver pays for many input files: listing, planning, resume checks; and a whole run.

Creates --files tiny JSONL files (one real document each, from the bundled sample) and measures, in a
subprocess each so the figures are the driver's own:
- plan: `expand_source` (glob, sizes from the listing, shard ids) plus the resume check of the read
  stage (one listing of its stats folder), the work the driver does before Ray starts: seconds and
  peak RSS;
- run (with --run): `winnow run` with no stages on those files: wall time, CPU of every process of the
  run (sampled from /proc), and the driver's peak RSS; then a no-op rerun (everything done).

    python bench/driver_files.py [--files 20000] [--run]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.proc_cpu import run_measured  # noqa: E402

PLAN = r"""
import resource, sys, time
from pipeline.config import load_config
from pipeline.readers import expand_source
from pipeline.runner import _pending
t = time.perf_counter()
config = load_config(sys.argv[1])
inputs = [f for src in config.sources for f in expand_source(src)]
todo = _pending(sys.argv[2] + "/00_read", [f.to_dict() for f in inputs])
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(len(inputs), len(todo), time.perf_counter() - t, rss)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--run", action="store_true", help="also run `winnow run` on them (slow on 2 cores)")
    args = ap.parse_args()
    sample = REPO / "data" / "sample" / "en" / "cc_en_head-0091.jsonl"
    text = json.loads(sample.read_text(encoding="utf-8").splitlines()[0])["text"]
    tmp = Path(tempfile.mkdtemp(prefix="winnow-files-"))
    try:
        data = tmp / "data"
        for i in range(args.files):
            sub = data / f"{i // 1000:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"{i:06d}.jsonl").write_text(json.dumps({"id": f"d{i}", "text": text}) + "\n")
        cfg = tmp / "c.yaml"
        cfg.write_text(
            f"name: many\nsources: [{{name: web, format: jsonl, paths: ['{data}/**/*.jsonl']}}]\nstages: []\n"
        )
        out = tmp / "run"
        plan = [sys.executable, "-c", PLAN, str(cfg), str(out)]
        res = subprocess.run(plan, capture_output=True, text=True, cwd=REPO, check=True)
        n, _, secs, rss = res.stdout.split()
        print(
            f"{n} input files: listing + shard ids + resume check on the driver {float(secs):.2f} s, "
            f"peak RSS {float(rss):.0f} MB"
        )
        if args.run:
            cmd = [sys.executable, "-m", "pipeline.cli", "run", str(cfg), "--output", str(out), "--no-report"]
            for label in ("run", "no-op rerun"):
                with open(tmp / "log", "w") as log:
                    m = run_measured(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
                if m.returncode:
                    sys.exit(f"winnow run failed: {(tmp / 'log').read_text()[-2000:]}")
                print(
                    f"{label}: wall {m.wall:.1f} s, CPU of all processes {m.cpu:.1f} s, "
                    f"driver peak RSS {m.driver_rss_mb:.0f} MB, largest process {m.peak_rss_mb:.0f} MB"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
