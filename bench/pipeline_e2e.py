"""The whole pipeline as a user runs it: CPU per document of `winnow run` against its parts in-process.

Builds JSONL corpora of real text (bench/dedup_corpus.py: real sentences in 30 languages assembled
into ~4 KB documents, most of them English, 10% edited near-copies) at each --docs size and runs
`winnow run` with every stage of configs/sample.yaml on them, in a subprocess with its own embedded
Ray, as a user would. For each size: wall time, CPU seconds of every process of the run (Ray's
workers included, sampled from /proc), docs/s/core, per-stage wall time from the manifest. Then, on
--sample documents of the same corpus in this one process, each document stage's own CPU per
document (its `process_batch`, models loaded beforehand), and the ratio of the whole run's CPU to the
document stages' in-process CPU.

    python bench/pipeline_e2e.py [--docs 10000 40000] [--sample 2000]

Not yet here (issue 16): the same documents through datatrove's nearest pipeline in the same script.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from dedup_corpus import synthetic_documents  # noqa: E402

from bench.proc_cpu import run_measured  # noqa: E402
from pipeline.config import parse_config  # noqa: E402
from pipeline.schema import Document  # noqa: E402

SAMPLE_CONFIG = REPO / "configs" / "sample.yaml"


def build(path: Path, docs: int) -> int:
    size = 0
    with path.open("w", encoding="utf-8") as fh:
        for doc_id, text in synthetic_documents(docs):
            line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n"
            fh.write(line)
            size += len(line.encode())
    return size


def config_for(corpus: Path) -> str:
    """configs/sample.yaml's stages on one JSONL source; its relative paths made absolute."""
    text = SAMPLE_CONFIG.read_text(encoding="utf-8")
    stages = text[text.index("stages:") : text.index("output:")]
    stages = re.sub(r"\.\./data/", f"{REPO}/data/", stages)
    return (f"name: e2e\nseed: 1234\nsources:\n  - {{name: web, format: jsonl, paths: [\"{corpus}\"]}}\n"
            f"{stages}output: {{batch_rows: 500, report: false}}\n")


def in_process(cfg_text: str, corpus: Path, n: int) -> dict[str, float]:
    """CPU seconds per document of each document stage on the first n documents, in this process."""
    cfg = parse_config(cfg_text, "e2e.yaml", str(corpus.parent))
    docs = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            docs.append(Document(row["id"], row["text"], "web"))
            if len(docs) == n:
                break
    out: dict[str, float] = {}
    for stage in cfg.stage_configs():
        if stage.kind != "document":
            continue
        step = stage.build()
        step.name = stage.stage_name
        step.setup()
        batch = [Document(d.id, d.text, d.source) for d in docs]
        start = time.process_time()
        for k in range(0, len(batch), 500):
            step.process_batch(batch[k : k + 500])
        out[stage.stage_name] = (time.process_time() - start) / len(batch)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[10_000, 40_000])
    ap.add_argument("--sample", type=int, default=2000, help="documents for the in-process costs")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="e2e-"))
    rows = []
    try:
        for n in args.docs:
            corpus = tmp / f"corpus-{n}.jsonl"
            size = build(corpus, n)
            cfg = tmp / f"e2e-{n}.yaml"
            cfg.write_text(config_for(corpus), encoding="utf-8")
            out = tmp / f"run-{n}"
            m = run_measured([sys.executable, "-m", "pipeline.cli", "run", str(cfg), "--output", str(out)],
                             cwd=REPO, stdout=subprocess_devnull(), stderr=subprocess_devnull())
            if m.returncode != 0:
                raise SystemExit(f"winnow run failed on {n} documents")
            manifest = json.loads((out / "manifest.json").read_text())
            rows.append((n, size, m, manifest["timings"]))
            print(f"{n:,} documents ({size / 2**20:.0f} MiB): wall {m.wall:.0f} s, CPU {m.cpu:.0f} s = "
                  f"{1000 * m.cpu / n:.1f} ms/doc, {n / m.cpu:.0f} docs/s/core; peak RSS of one process "
                  f"{m.peak_rss_mb:.0f} MiB, driver {m.driver_rss_mb:.0f} MiB", flush=True)
            print("  stage wall (s): " + ", ".join(f"{k} {v:.0f}" for k, v in manifest["timings"].items()))
            shutil.rmtree(out, ignore_errors=True)
        first = tmp / f"corpus-{args.docs[0]}.jsonl"
        parts = in_process(config_for(first), first, args.sample)
        total = sum(parts.values())
        print(f"\ndocument stages in one process, {args.sample} documents (CPU ms per document):")
        for name, sec in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"  {name:20s} {1000 * sec:7.2f}")
        print(f"  {'all':20s} {1000 * total:7.2f}")
        for n, _, m, _ in rows:
            print(f"{n:,} documents: the whole run costs {m.cpu / n / total:.2f}x the document stages' "
                  "in-process CPU")
        if len(rows) > 1:
            (a, _, ma, _), (b, _, mb, _) = rows[0], rows[-1]
            print(f"time({b:,}) / time({a:,}) = {mb.wall / ma.wall:.2f} for {b / a:.1f}x the documents; "
                  f"CPU {mb.cpu / ma.cpu:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def subprocess_devnull() -> int:
    import subprocess

    return subprocess.DEVNULL


if __name__ == "__main__":
    main()
