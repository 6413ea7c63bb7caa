"""Tokens/s of winnow's tokenize + write against raw HF `tokenizers` and a Megatron-style preprocessor.

Same tokenizer (a 32k byte-level BPE, trained here by `winnow train-tokenizer` unless --tokenizer is
given), same documents, same cores. Four measurements:
- raw: `Tokenizer.encode_batch` and `encode_batch_fast` over batches of 1,000 texts in memory, ids
  taken out of each encoding; the faster is the reference (nothing written);
- winnow worker: the tokenize stage's own phase-1 worker (TokenizeWorker) on the Parquet shards, in
  this process: read Parquet, encode, append EOD, hash ids, write .bin/.idx/.hash per shard;
- winnow stage: the whole tokenize stage on embedded Ray with one actor per core (tokenize, accounting,
  merge into one dataset per source, blend files), actor start-up included;
- megatron-style: Megatron-LM's tools/preprocess_data.py loop, re-written here (not copied): JSONL
  lines through multiprocessing.Pool.imap(chunksize=32), per document `tokenizer.tokenize(text)` + EOD
  in the workers, `builder.add_document` per document in the main process with megatron-core's own
  IndexedDatasetBuilder. With --peer-python pointing at an interpreter that has transformers (plus
  megatron-core), the tokenizer is megatron-core 0.16.1's own HuggingFaceTokenizer, built as the tool
  builds it for `--tokenizer-type HuggingFaceTokenizer`; without transformers its path is emulated
  (token strings, then one token_to_id per token), which is a little faster than the real thing;
- lean per-doc: the same loop with `encode(text).ids`, the cheapest per-document design.

    python bench/tokenize_speed.py [--mb 8] [--repeat 3] [--peer-python VENV/bin/python]
        [--tokenizer tokenizer.json] [--workers 2]

A peer venv: `python -m venv --system-site-packages V && V/bin/pip install transformers`.

Data: real text from ../shared/data (Skywork zh web documents, Dolma CC English documents, the
article-extraction benchmark's English articles, Leipzig sentences in 30 languages grouped into ~3 KB
documents), repeated until --mb MB. Numbers on a shared 2-core machine are noisy; the ratios are
measured in the same run and are what to compare.
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data"


def cpu_seconds() -> float:
    """User + system CPU of this process (all threads) and of its reaped children (the Pool workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def real_documents() -> list[str]:
    docs: list[str] = []
    for path in sorted(glob.glob(str(SHARED / "web_text_zh/skywork_eval_loss/*.jsonl"))) + sorted(
        glob.glob(str(SHARED / "web_text_en/dolma_tests/*.jsonl"))
    ):
        with open(path, encoding="utf-8") as f:
            docs += [json.loads(line)["text"] for line in f if line.strip()]
    gt = SHARED / "web_text_en/article_extraction_benchmark/ground-truth.json"
    if gt.is_file():
        docs += [v["articleBody"] for v in json.loads(gt.read_text()).values() if v.get("articleBody")]
    for path in sorted(glob.glob(str(SHARED / "langid/lingua_sentences/*.txt"))):
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        docs += ["\n".join(lines[i : i + 25]) for i in range(0, len(lines), 25)]
    docs = [d for d in docs if d.strip()]
    if not docs:
        sys.exit(f"no real text found under {SHARED}: this bench needs ../shared/data")
    return docs


def corpus(mb: float) -> list[str]:
    base = real_documents()
    out, size = [], 0
    while size < mb * 2**20:
        for d in base:
            out.append(d)
            size += len(d.encode())
            if size >= mb * 2**20:
                break
    return out


def ensure_tokenizer(path: str | None, work: Path) -> str:
    if path:
        return path
    cached = Path(tempfile.gettempdir()) / "winnow-bench" / "bpe32k.json"
    if not cached.is_file():
        from tokenization.train import train_tokenizer

        src = work / "train.jsonl"
        with open(src, "w", encoding="utf-8") as f:
            for i, d in enumerate(real_documents()):
                f.write(json.dumps({"id": str(i), "text": d}, ensure_ascii=False) + "\n")
        print("training a 32k byte-level BPE for the bench ...", flush=True)
        train_tokenizer([str(src)], str(cached), vocab_size=32000)
    return str(cached)


def bench_raw(tok_path: str, texts: list[str]) -> dict[str, tuple[int, float, float]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tok_path)
    out = {}
    for name in ("encode_batch", "encode_batch_fast"):
        fn = getattr(tok, name)
        n = 0
        t, c = time.perf_counter(), cpu_seconds()
        for i in range(0, len(texts), 1000):
            for enc in fn(texts[i : i + 1000], add_special_tokens=False):
                n += len(enc.ids)
        out[name] = (n, time.perf_counter() - t, cpu_seconds() - c)
    return out


def write_shards(texts: list[str], folder: Path, shards: int) -> dict[str, list[str]]:
    from pipeline.schema import Document, documents_to_table
    from pipeline.shards import ShardWriter, shard_files

    per = (len(texts) + shards - 1) // shards
    for s in range(shards):
        w = ShardWriter(str(folder), f"web-{s:03d}", target_bytes=1 << 30)
        part = texts[s * per : (s + 1) * per]
        for i in range(0, len(part), 1000):
            docs = [Document(f"{s}-{i + j}", t, "web") for j, t in enumerate(part[i : i + 1000])]
            w.write(documents_to_table(docs))
        w.finish()
    return shard_files(str(folder))


def bench_worker(tok_path: str, shards: dict[str, list[str]], work: Path) -> tuple[int, float, float]:
    from tokenizers import Tokenizer

    from tokenization import megatron
    from tokenization.stage import TokenizeWorker, _shard_prefix

    tok = Tokenizer.from_file(tok_path)
    eod = tok.token_to_id("<|endoftext|>")
    dtype = str(megatron.optimal_dtype(tok.get_vocab_size(with_added_tokens=True)))
    worker = TokenizeWorker(tok_path, eod, dtype, 0, str(work), 1000, os.cpu_count() or 1)
    t, c = time.perf_counter(), cpu_seconds()
    for shard, files in shards.items():
        worker({"shard": shard, "files": files})
    seconds, cpu = time.perf_counter() - t, cpu_seconds() - c
    tokens = sum(megatron.check(_shard_prefix(str(work), "web", s))["tokens"] for s in shards)
    return tokens, seconds, cpu


def bench_stage(tok_path: str, shards: dict[str, list[str]], run: Path, workers: int
                ) -> tuple[int, float, float]:
    import ray

    from pipeline.config import parse_config
    from pipeline.step import StageContext
    from tokenization import blend

    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    cfg = parse_config(
        f"sources: [{{name: web, format: jsonl, paths: [x.jsonl]}}]\nray: {{num_workers: {workers}}}\n"
        f"output: {{batch_rows: 1000}}\nstages:\n  - type: tokenize\n    tokenizer: {tok_path}\n",
        "bench.yaml", str(run))
    ctx = StageContext(config=cfg, run_dir=str(run), stage_index=1, stage_name="tokenize",
                       stage_dir=str(run / "01_tokenize"), rejected_dir=str(run / "rejected/01_tokenize"),
                       work_dir=str(run / "_work/01_tokenize"), shards=shards)
    t = time.perf_counter()
    cfg.stages[0].build().run(ctx)
    seconds = time.perf_counter() - t
    return blend.load_summary(str(run))["sources"]["web"]["tokens_out"], seconds, float("nan")


class _Encoder:
    """preprocess_data.py's Encoder, reduced to one JSON line in, one document's ids out.

    `megatron` mode tokenizes with megatron-core's own tokenizer, built as preprocess_data.py builds
    it for `--tokenizer-type HuggingFaceTokenizer` (MegatronTokenizer.from_pretrained, library
    "huggingface"; needs transformers), and calls its `.tokenize(text)` and `.eod`. Without
    transformers it emulates that path (token strings, then one token_to_id call per token, as
    transformers' convert_tokens_to_ids does). `lean` mode is the cheapest per-document loop
    (`tokenizers` `encode(text).ids`).
    """

    tokenizer = None
    eod = 0
    mode = "megatron"

    def initializer(self, tok_dir: str, mode: str) -> None:
        from tokenizers import Tokenizer

        _Encoder.mode = mode
        if mode == "megatron":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from megatron.core.tokenizers import MegatronTokenizer

            _Encoder.tokenizer = MegatronTokenizer.from_pretrained(
                tokenizer_path=tok_dir, metadata_path={"library": "huggingface"}, vocab_file=None,
                merges_file=None, additional_special_tokens=[], use_fast=True, trust_remote_code=False,
                include_special_tokens=False,
            )
            _Encoder.eod = _Encoder.tokenizer.eod
            return
        _Encoder.tokenizer = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
        _Encoder.eod = _Encoder.tokenizer.token_to_id("<|endoftext|>")

    def encode(self, line: str) -> tuple[list[int], int]:
        text = json.loads(line)["text"]
        tok = _Encoder.tokenizer
        if _Encoder.mode == "megatron":
            ids = tok.tokenize(text)
        elif _Encoder.mode == "emulated":
            ids = [tok.token_to_id(t) for t in tok.encode(text, add_special_tokens=False).tokens]
        else:
            ids = tok.encode(text, add_special_tokens=False).ids
        if ids:
            ids.append(_Encoder.eod)
        return ids, len(line)


def megatron_tokenizer_available() -> bool:
    try:
        import transformers  # noqa: F401
        from megatron.core.tokenizers import MegatronTokenizer  # noqa: F401
    except ImportError:
        return False
    return True


def run_preprocess(tok_dir: str, jsonl: str, out_prefix: str, workers: int, mode: str) -> dict:
    """The preprocess_data.py-style loop in this interpreter; returns tokens, wall and CPU seconds."""
    import warnings

    import numpy as np

    if mode == "megatron" and not megatron_tokenizer_available():
        mode = "emulated"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
        builder = IndexedDatasetBuilder(out_prefix + ".bin", dtype=np.uint16)
        kind = "megatron-core IndexedDatasetBuilder"
    except ImportError:
        from tokenization.megatron import DatasetWriter

        builder = DatasetWriter(out_prefix, np.uint16)
        kind = "winnow DatasetWriter"
    per_doc = kind.startswith("winnow")  # winnow's writer takes one document; Megatron's, (ids, lengths)
    enc = _Encoder()
    t, c = time.perf_counter(), cpu_seconds()
    n = 0
    with open(jsonl, encoding="utf-8") as fin:
        pool = mp.get_context("fork").Pool(workers, initializer=enc.initializer, initargs=(tok_dir, mode))
        for ids, _ in pool.imap(enc.encode, fin, 32):
            if not ids:
                continue
            if per_doc:
                builder.add_document(ids)
            else:
                builder.add_document(ids, [len(ids)])
            n += len(ids)
    if per_doc:
        builder.finish()
    else:
        builder.finalize(out_prefix + ".idx")
    pool.close()
    pool.join()
    tokenizer = {"megatron": "megatron-core HuggingFaceTokenizer (transformers)",
                 "emulated": "emulated HuggingFaceTokenizer path", "lean": "tokenizers encode"}[mode]
    return {"tokens": n, "seconds": time.perf_counter() - t, "cpu": cpu_seconds() - c,
            "kind": f"{tokenizer} + {kind}"}


def bench_preprocess(peer_python: str, tok_dir: Path, jsonl: Path, out_prefix: str, workers: int,
                     mode: str) -> tuple[int, float, float, str]:
    """Run the preprocess loop in `peer_python` (e.g. a venv with transformers) and read its result."""
    cmd = [peer_python, __file__, "--peer-run", str(tok_dir), str(jsonl), out_prefix, str(workers), mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        sys.exit(f"preprocess peer failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    r = json.loads(lines[-1])
    return r["tokens"], r["seconds"], r["cpu"], r["kind"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8, help="corpus size in MB of UTF-8 text")
    ap.add_argument("--tokenizer", help="tokenizer.json to use (default: train a 32k BPE once, cached)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="cores for every contender")
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the best time of each contender counts")
    ap.add_argument("--peer-python", default=sys.executable,
                    help="interpreter for the preprocess_data.py-style peer (one with transformers and "
                    "megatron-core runs Megatron's own HuggingFaceTokenizer; else its path is emulated)")
    ap.add_argument("--peer-run", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_run:
        tok_dir, jsonl, prefix, workers, mode = args.peer_run
        print(json.dumps(run_preprocess(tok_dir, jsonl, prefix, int(workers), mode)))
        return
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.workers))
    with tempfile.TemporaryDirectory(prefix="winnow-tokbench-") as tmp:
        work = Path(tmp)
        tok_path = ensure_tokenizer(args.tokenizer, work)
        texts = corpus(args.mb)
        mb = sum(len(t.encode()) for t in texts) / 2**20
        print(f"corpus: {len(texts)} documents, {mb:.1f} MB; tokenizer {tok_path}; {args.workers} cores")
        shards = write_shards(texts, work / "00_read", args.shards)
        tok_dir = work / "tokenizer"  # what the stage writes to RUN/tokens/tokenizer, for --tokenizer-model
        tok_dir.mkdir()
        shutil.copyfile(tok_path, tok_dir / "tokenizer.json")
        (tok_dir / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>"}))
        jsonl = work / "docs.jsonl"
        with open(jsonl, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        best: dict[str, tuple[int, float, float]] = {}

        def keep(name: str, result: tuple) -> None:
            if name not in best or result[1] < best[name][1]:
                best[name] = (result[0], result[1], best.get(name, (0, 0, float("inf")))[2])
            if result[2] == result[2]:  # not NaN (the stage's CPU is not measured)
                best[name] = (*best[name][:2], min(best[name][2], result[2]))

        kind = ""
        for r in range(args.repeat):  # interleaved rounds, best time of each: robust to a noisy machine
            for name, res in bench_raw(tok_path, texts).items():
                keep(name, res)
            keep("worker", bench_worker(tok_path, shards, work / f"worker{r}"))
            for mode in ("megatron", "lean"):
                *res, k = bench_preprocess(args.peer_python, tok_dir, jsonl, str(work / f"{mode}{r}"),
                                           args.workers, mode)
                kind = k if mode == "megatron" else kind
                keep(mode, res)
            keep("stage", bench_stage(tok_path, shards, work / f"run{r}", args.workers))
        raw = {k: best[k] for k in ("encode_batch", "encode_batch_fast")}
        worker, stage, mega, lean = best["worker"], best["stage"], best["megatron"], best["lean"]

    rate = {name: n / s for name, (n, s, _) in raw.items()}
    best_raw = max(rate.values())
    cpu_rate = {name: n / c for name, (n, _, c) in raw.items()}
    best_raw_cpu = max(cpu_rate.values())
    rows = [
        ("raw tokenizers encode_batch (no write)", *raw["encode_batch"]),
        ("raw tokenizers encode_batch_fast (no write)", *raw["encode_batch_fast"]),
        ("winnow tokenize worker (read+encode+write)", *worker),
        ("winnow tokenize stage on Ray (all phases)", *stage),
        ("megatron-style preprocess_data (pool.imap)", *mega),
        ("lean per-doc encode().ids (pool.imap per doc)", *lean),
    ]
    print(f"{'':48s} {'tokens':>10s} {'wall s':>7s} {'tokens/s':>11s} {'CPU s':>7s} {'tokens/CPU-s':>12s}")
    for name, n, s, c in rows:
        cpu = f"{c:7.2f} {n / c:12,.0f}" if c != float("inf") else f"{'n/a':>7s} {'n/a':>12s}"
        print(f"{name:48s} {n:10d} {s:7.2f} {n / s:11,.0f} {cpu}")
    print(f"(megatron-style builder: {kind}; best of {args.repeat} interleaved rounds;"
          " the stage's CPU is in its Ray actors, not measured here)")
    w, st, m, ln = (x[0] / x[1] for x in (worker, stage, mega, lean))
    wc, mc, lc = (x[0] / x[2] for x in (worker, mega, lean))
    print("ratios                                   wall-clock   per CPU-second")
    print(f"winnow worker / best raw encode_batch :  {w / best_raw:6.2f}       {wc / best_raw_cpu:6.2f}"
          "   (target >= 0.90)")
    print(f"winnow worker / megatron-style        :  {w / m:6.2f}x      {wc / mc:6.2f}x  (target >= 1.8x)")
    print(f"winnow worker / lean per-doc encode   :  {w / ln:6.2f}x      {wc / lc:6.2f}x")
    print(f"winnow stage  / best raw encode_batch :  {st / best_raw:6.2f}")
    print(f"winnow stage  / megatron-style        :  {st / m:6.2f}x")

if __name__ == "__main__":
    main()
