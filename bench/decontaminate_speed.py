"""Decontamination throughput (docs/s on one core) against datatrove's NGramsDecontFilter.

Training side: real English web documents (CCNet-head documents and human-extracted news/blog
articles from ../shared/data), repeated to --docs documents; every 20th has a paragraph of a
Clough-Stevenson source text planted in it. Eval side: the five Clough-Stevenson sources plus
synthetic eval examples made of real English sentences (langid/lingua_sentences/en.txt) shuffled with
a fixed seed, up to about --eval-ngrams 13-grams. Both tools get the same eval texts, n=13, and run
single-process on the same documents.

Run with the bench venv (it has datatrove):
    /work/.venv-bench/bin/python bench/decontaminate_speed.py [--docs 2000] [--eval-ngrams 300000]
Single process each; throughput is given per CPU-second (process time, one core) and wall-clock.
Numbers on a shared machine are noisy; the ratio is the meaningful part.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dedup.decontaminate import DecontaminateConfig, tokenize  # noqa: E402
from pipeline.schema import Document  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def load_corpus(n_docs: int) -> tuple[list[str], list[str], set[int]]:
    """Real web documents with planted source paragraphs, and the eval source texts."""
    sources = [
        (DATA / f"neardup/clough_stevenson_short_answers/orig_task{t}.txt")
        .read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        for t in "abcde"
    ]
    web: list[str] = []
    for p in sorted(glob.glob(str(DATA / "web_text_en/dolma_tests/*.jsonl"))):
        web += [json.loads(x)["text"] for x in Path(p).read_text(encoding="utf-8").split("\n") if x]
    gold = json.loads((DATA / "web_text_en/article_extraction_benchmark/ground-truth.json").read_text())
    web += [v["articleBody"] for _, v in sorted(gold.items())]
    paragraphs = [p.strip() for s in sources for p in re.split(r"\n+", s) if len(p.split()) > 30]
    docs, planted = [], set()
    for i in range(n_docs):
        text = web[i % len(web)]
        if i % 20 == 7:
            cut = text.rfind("\n", 0, len(text) // 2) + 1
            text = text[:cut] + paragraphs[i % len(paragraphs)] + "\n" + text[cut:]
            planted.add(i)
        docs.append(text)
    return docs, sources, planted


def synthetic_eval(target_ngrams: int, seed: int = 0) -> list[str]:
    """Eval-like examples of ~20 real English sentences each, shuffled deterministically."""
    sentences = (DATA / "langid/lingua_sentences/en.txt").read_text(encoding="utf-8").split("\n")
    sentences = [s for s in sentences if s.strip()]
    rng = random.Random(seed)
    out, total = [], 0
    while total < target_ngrams:
        text = " ".join(rng.choice(sentences) for _ in range(20))
        out.append(text)
        total += max(0, len(tokenize(text)) - 12)
    return out


Timing = tuple[float, float, float, int, dict]


def run_winnow(docs: list[str], eval_path: str, cache: str, batch: int) -> Timing:
    cfg = DecontaminateConfig(eval_sets=[{"name": "bench", "paths": [eval_path]}], cache_dir=cache)
    step = cfg.build()
    t0 = time.perf_counter()
    step.setup()
    build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    flagged = 0
    for i in range(0, len(docs), batch):
        chunk = [Document(id=str(j), text=t, source="b") for j, t in enumerate(docs[i : i + batch], i)]
        flagged += sum(r == "contaminated" for r in step.process_batch(chunk))
    return build, time.perf_counter() - t0, time.process_time() - c0, flagged, step.index.info


def run_datatrove(docs: list[str], eval_texts: list[str]) -> tuple[float, float, float, int] | None:
    try:
        import numpy as np
        from datatrove.data import Document as DTDocument
        from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter
        from datatrove.utils.hashing import create_hash_func
        from datatrove.utils.text import ngrams, simplify_text
        from datatrove.utils.word_tokenizers import load_word_tokenizer
    except ImportError as exc:
        print(f"datatrove not importable ({exc}); run with /work/.venv-bench/bin/python for the ratio")
        return None
    config = NGramsDecontConfig(n_grams=13)
    index_dir = tempfile.mkdtemp(prefix="dt-decont-")
    t0 = time.perf_counter()
    # datatrove's indexer needs lighteval tasks; build the same index file with its own functions.
    tok = load_word_tokenizer("en")
    hash_func = create_hash_func(config.hash_config)
    hashes: set[int] = set()
    for text in eval_texts:
        tokens = tok.word_tokenize(simplify_text(text, config.norm_config))
        hashes.update(map(hash_func, map(" ".join, ngrams(tokens, config.n_grams))))
    index_file = os.path.join(index_dir, "bench.index.hashes")
    np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(index_file)
    filt = NGramsDecontFilter(index_folder=index_dir, config=config)
    filt.load_index_hashes()
    build = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    flagged = 0
    for i, text in enumerate(docs):
        res = filt.filter(DTDocument(text=text, id=str(i)))
        flagged += res is not True
    return build, time.perf_counter() - t0, time.process_time() - c0, flagged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--eval-ngrams", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()

    docs, sources, planted = load_corpus(args.docs)
    eval_texts = sources + synthetic_eval(args.eval_ngrams)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    with tempfile.TemporaryDirectory(prefix="winnow-decont-bench-") as tmp:
        eval_path = os.path.join(tmp, "eval.jsonl")
        with open(eval_path, "w", encoding="utf-8") as fh:
            for t in eval_texts:
                fh.write(json.dumps({"text": t}) + "\n")
        build, secs, cpu, flagged, info = run_winnow(docs, eval_path, os.path.join(tmp, "cache"), args.batch)
        cached_t0 = time.perf_counter()
        run_winnow(docs[:1], eval_path, os.path.join(tmp, "cache"), args.batch)
        cached = time.perf_counter() - cached_t0
    print(f"corpus: {len(docs)} real web docs ({mb:.1f} MB), {len(planted)} with a planted eval paragraph")
    print(f"eval:   {len(eval_texts)} examples, {info['unique_ngrams']:,} unique 13-grams")
    print(f"winnow:    index build {build:.2f} s (cached load {cached:.2f} s); {len(docs) / cpu:,.0f} docs/s "
          f"per CPU-second ({mb / cpu:.2f} MB/s), {len(docs) / secs:,.0f} docs/s wall; flagged {flagged}")
    if args.skip_peer:
        return
    peer = run_datatrove(docs, eval_texts)
    if peer is None:
        return
    pbuild, psecs, pcpu, pflagged = peer
    print(f"datatrove: index build {pbuild:.2f} s; {len(docs) / pcpu:,.0f} docs/s per CPU-second "
          f"({mb / pcpu:.2f} MB/s), {len(docs) / psecs:,.0f} docs/s wall; flagged {pflagged}")
    print(f"ratio winnow/datatrove: {pcpu / cpu:.1f}x docs per CPU-second ({psecs / secs:.1f}x wall)")


if __name__ == "__main__":
    main()
