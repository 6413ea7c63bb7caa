"""One large JSONL file, read whole or in byte ranges: what `shard_mb` buys a tokenize run.

Builds one uncompressed JSONL of real English web text (Dolma CC documents and the bundled sample,
repeated with fresh ids until --mb MB), then runs the same `winnow run` (read + tokenize) twice as a
user would, in a subprocess with its own embedded Ray: with `shard_mb: null` (the file is one shard,
so one task reads it and one task tokenizes it) and with `shard_mb: --shard-mb` (several shards read
and tokenized in parallel). For each run: wall time, CPU seconds of every process of the run (Ray's
workers included, sampled from /proc), read shards, and whether the Megatron .bin/.idx files are
byte-identical between the two runs (they must be: documents keep their order).

    python bench/input_ranges.py [--mb 120] [--shard-mb 16]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.proc_cpu import run_measured  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def texts() -> list[str]:
    """Real documents: Dolma CC English (../shared) when present, and the bundled sample."""
    out: list[str] = []
    dolma = DATA / "web_text_en" / "dolma_tests" / "000.json.gz"
    sources = [dolma] if dolma.exists() else []
    sources += [REPO / "data" / "sample" / "en" / "000.json.gz"]
    for path in sources:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out += [json.loads(line)["text"] for line in fh if line.strip()]
    for path in sorted((REPO / "data" / "sample" / "en").glob("*.jsonl")):
        out += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    return [t for t in out if t.strip()]


def build(path: Path, mb: int) -> int:
    docs = texts()
    n = size = 0
    with path.open("w", encoding="utf-8") as fh:
        while size < mb << 20:
            line = json.dumps({"id": f"doc-{n:08d}", "text": docs[n % len(docs)]}) + "\n"
            fh.write(line)
            size += len(line.encode())
            n += 1
    return n


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.suffix in (".bin", ".idx"):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=120, help="size of the JSONL file")
    ap.add_argument("--shard-mb", type=int, default=16, help="shard_mb of the ranged run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="winnow-ranges-"))
    try:
        corpus = tmp / "big.jsonl"
        n = build(corpus, args.mb)
        tokenizer = REPO / "data" / "tokenizers" / "sample-bpe-8k" / "tokenizer.json"
        print(f"corpus: {corpus.stat().st_size / 2**20:.0f} MB, {n} documents, one file")
        rows = []
        for label, shard_mb in (("whole file", "null"), (f"shard_mb {args.shard_mb}", str(args.shard_mb))):
            cfg = tmp / f"{shard_mb}.yaml"
            cfg.write_text(
                f"name: ranges-{shard_mb}\n"
                f"sources: [{{name: web, format: jsonl, paths: ['{corpus}'], shard_mb: {shard_mb}}}]\n"
                f"stages: [{{type: tokenize, tokenizer: '{tokenizer}'}}]\n"
            )
            out = tmp / f"run-{shard_mb}"
            cmd = [sys.executable, "-m", "pipeline.cli", "run", str(cfg), "--output", str(out), "--no-report"]
            with open(tmp / f"{shard_mb}.log", "w") as log, open(tmp / f"{shard_mb}.err", "w") as err:
                m = run_measured(cmd, stdout=log, stderr=err, cwd=REPO)
            if m.returncode:
                sys.exit(f"{label}: winnow run failed, see {tmp / f'{shard_mb}.err'}")
            shards = len(list((out / "00_read" / "_stats").glob("*.json")))
            rows.append((label, m, shards, digest(out / "tokens")))
        print("\n| run | read shards | wall s | CPU s (all processes) | docs/s | tokens .bin/.idx sha256 |")
        print("|---|---|---|---|---|---|")
        for label, m, shards, dig in rows:
            print(f"| {label} | {shards} | {m.wall:.1f} | {m.cpu:.1f} | {n / m.wall:,.0f} | {dig} |")
        (a, ma, _, da), (b, mb_, _, db) = rows
        same = "yes" if da == db else "NO"
        print(f"\nwall {a} / {b}: {ma.wall / mb_.wall:.2f}x; outputs identical: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
