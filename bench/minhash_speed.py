"""MinHash signature speed on ~4 KB real-text documents, one core: winnow vs datatrove vs datasketch.

Run with the bench venv (datatrove 0.10.1 is installed there, never in the main Python):
    /work/.venv-bench/bin/python bench/minhash_speed.py [--docs 2000] [--perm 112]
All three compute 112-permutation signatures of word 5-gram shingles of the same documents; winnow's
time includes normalisation, shingling, signature AND the LSH band hashes. The machine is shared, so
absolute numbers are noisy; the ratio, measured on the same documents in the same process, is the
figure to quote.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from dedup_corpus import make_document, sentence_pools  # bench/ is the script's folder

from dedup.lsh import MinHasher, band_hashes
from dedup.normalize import normalize, tokens


def winnow_rate(texts: list[str], num_perm: int) -> float:
    hasher = MinHasher(num_perm=num_perm)
    hasher.signature(texts[0])  # builds the punctuation table once, as a worker's first document does
    start = time.perf_counter()
    sigs = [hasher.signature(t) for t in texts]
    band_hashes(np.stack(sigs), 14, num_perm // 14)
    return len(texts) / (time.perf_counter() - start)


def datasketch_rate(texts: list[str], num_perm: int) -> float:
    """Plain datasketch usage: one `update` per shingle, SHA-1 per shingle (its default)."""
    from datasketch import MinHash

    start = time.perf_counter()
    for t in texts:
        m = MinHash(num_perm=num_perm)
        toks = tokens(normalize(t))
        for i in range(max(1, len(toks) - 4)):
            m.update(" ".join(toks[i : i + 5]).encode("utf-8"))
    return len(texts) / (time.perf_counter() - start)


def datatrove_rate(texts: list[str], num_perm: int) -> float:
    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        step = MinhashDedupSignature(
            tmp, config=MinhashConfig(num_buckets=14, hashes_per_bucket=num_perm // 14)
        )
        step.get_shingles(texts[0])  # loads its word tokenizer before timing
        start = time.perf_counter()
        out = step.run(iter(docs), rank=0, world_size=1)
        if out is not None:
            for _ in out:
                pass
        return len(texts) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--perm", type=int, default=112)
    ap.add_argument("--datasketch-docs", type=int, default=200, help="plain datasketch is slow: fewer docs")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    pool = sentence_pools()["en"]
    texts = [make_document(pool, rng, 4000) for _ in range(args.docs)]
    mean = np.mean([len(t.encode()) for t in texts])
    print(f"{len(texts)} documents, mean {mean:.0f} bytes, {args.perm} perms")
    ours = winnow_rate(texts, args.perm)
    print(f"winnow     : {ours:8.0f} docs/s per core (signature + band hashes)")
    plain = datasketch_rate(texts[: args.datasketch_docs], args.perm)
    print(f"datasketch : {plain:8.0f} docs/s (update per shingle); winnow/datasketch = {ours / plain:.1f}x")
    try:
        peer = datatrove_rate(texts, args.perm)
    except ImportError as exc:
        print(f"datatrove  : not importable here ({exc}); run with /work/.venv-bench/bin/python")
        return
    print(f"datatrove  : {peer:8.0f} docs/s (MinhashDedupSignature); winnow/datatrove = {ours / peer:.1f}x")


if __name__ == "__main__":
    main()
