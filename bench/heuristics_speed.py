"""Speed of the heuristic chain (Gopher quality, Gopher repetition, C4, FineWeb) vs datatrove 0.10.1.

Run: /work/.venv-bench/bin/python bench/heuristics_speed.py [--docs 3000] [--datatrove-docs 300]

Documents: ~4 KB English web-like documents assembled from real text (dolma_tests Common Crawl
documents, article_extraction_benchmark article texts, lingua English sentences): paragraphs are
drawn (seeded) from the real texts until a document reaches 4,000 characters, and a few lower-quality
documents (boilerplate lines, repeats) from bench/heuristics_agreement.py are mixed in at 10%.

Both chains run in this process on one core, documents one at a time, a document leaving the chain at
its first drop, as a pipeline runs them. winnow's chain is gopher_quality, gopher_repetition,
c4_quality, c4_lines (the line removal datatrove's C4 filter does inside it), fineweb_quality.
datatrove's chain is GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter,
FineWebQualityFilter. Datatrove runs on the first --datatrove-docs documents (it is ~50 docs/s), winnow
on those same documents and on all --docs; the ratio uses the same documents for both.
The machine may be shared: absolute numbers are noisy, the ratio less so.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from heuristics_agreement import KINDS, degrade, lingua_sentences, load_real  # noqa: E402

from filters.c4 import C4LinesConfig, C4QualityConfig  # noqa: E402
from filters.fineweb import FineWebQualityConfig  # noqa: E402
from filters.gopher import GopherQualityConfig, GopherRepetitionConfig  # noqa: E402
from pipeline.schema import Document  # noqa: E402


def build_docs(data: Path, n: int, seed: int = 0, size: int = 4000) -> list[str]:
    rng = random.Random(seed)
    real = [t for _, t in load_real(data)]
    sentences = lingua_sentences(data)
    paragraphs = [p for t in real for p in t.split("\n") if p.strip()]
    paragraphs += [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    docs: list[str] = []
    seen: set[str] = set()
    while len(docs) < n:
        parts: list[str] = []
        length = 0
        while length < size:
            p = paragraphs[rng.randrange(len(paragraphs))]
            parts.append(p)
            length += len(p) + 1
        text = "\n".join(parts)
        if rng.random() < 0.1:
            text = degrade(text, sentences, rng, rng.choice(KINDS[:6]))
        if text not in seen:  # datatrove caches word splits per text: keep documents distinct
            seen.add(text)
            docs.append(text)
    return docs


def run_winnow(texts: list[str]) -> tuple[float, float, Counter]:
    steps = [
        GopherQualityConfig().build(),
        GopherRepetitionConfig().build(),
        C4QualityConfig().build(),
        C4LinesConfig().build(),
        FineWebQualityConfig().build(),
    ]
    docs = [Document(id=str(i), text=t, source="bench") for i, t in enumerate(texts)]
    outcome: Counter = Counter()
    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs:
        reason = None
        for step in steps:
            reason = step.process(doc)
            if reason is not None:
                break
        outcome[reason or "kept"] += 1
    return time.perf_counter() - start, time.process_time() - cpu, outcome


def run_datatrove(texts: list[str]) -> tuple[float, float, Counter]:
    from datatrove.data import Document as DTDocument
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.utils.text import split_into_words

    filters = [GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(), FineWebQualityFilter()]
    split_into_words("Load the spaCy tokenizer before timing. It takes a second.")
    docs = [DTDocument(text=t, id=str(i)) for i, t in enumerate(texts)]
    outcome: Counter = Counter()
    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs:
        reason = None
        for flt in filters:
            res = flt.filter(doc)
            if res is not True:
                reason = res[1] if isinstance(res, tuple) else "dropped"
                break
        outcome[reason or "kept"] += 1
    return time.perf_counter() - start, time.process_time() - cpu, outcome


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--docs", type=int, default=3000, help="documents for winnow alone")
    ap.add_argument("--datatrove-docs", type=int, default=300, help="first N documents run on both")
    args = ap.parse_args()

    texts = build_docs(args.data, max(args.docs, args.datatrove_docs))
    mean_kb = sum(len(t.encode()) for t in texts) / len(texts) / 1024
    print(f"{len(texts)} documents, mean {mean_kb:.2f} KB (UTF-8), assembled from real English text")
    shared = texts[: args.datatrove_docs]

    run_winnow(texts[:50])  # warm up
    w_all, w_all_cpu, w_out = run_winnow(texts)
    w_same, w_same_cpu, w_same_out = run_winnow(shared)
    d_same, d_same_cpu, d_out = run_datatrove(shared)
    n, m = len(texts), len(shared)
    print("docs/s per core = documents / CPU seconds of this process (wall-clock figure in brackets)")
    print(
        f"winnow    chain: {n / w_all_cpu:8.0f} docs/s [{n / w_all:.0f}] on {n} docs "
        f"({n / w_all_cpu * mean_kb / 1024:.2f} MB/s)"
    )
    print(f"winnow    chain: {m / w_same_cpu:8.0f} docs/s [{m / w_same:.0f}] on the first {m} docs")
    print(f"datatrove chain: {m / d_same_cpu:8.1f} docs/s [{m / d_same:.1f}] on the first {m} docs")
    print(
        f"ratio winnow/datatrove (same {m} docs): {d_same_cpu / w_same_cpu:.1f}x CPU time "
        f"[{d_same / w_same:.1f}x wall] (target >= 20x)"
    )
    print(f"winnow outcomes, all {n}:", dict(sorted(w_out.items(), key=lambda kv: -kv[1])))
    print(f"winnow outcomes, first {m}:", dict(sorted(w_same_out.items(), key=lambda kv: -kv[1])))
    print(f"datatrove outcomes, first {m}:", dict(sorted(d_out.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
