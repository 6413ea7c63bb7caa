"""Near-duplicate quality of the minhash_dedup stage, measured against exact Jaccard ground truth.

Corpus (real text, see bench/dedup_corpus.py): base documents in 30 languages (English, Chinese and
others), each of the first half copied with word- (Chinese: character-) level edits at known rates,
unrelated background documents, and the Clough & Stevenson plagiarised short answers (graded
cut/light/heavy/non against 5 originals). The real stage runs on embedded Ray through its
StageContext; then, with ground truth = exact Jaccard of 5-gram shingle sets:
  recall    = share of pairs with true J >= threshold + 0.05 that end in the same cluster;
  precision = share of removed documents that have a true near-duplicate (J >= threshold) in their
              cluster (and, stricter, with the very document that was kept).
    python bench/dedup_quality.py [--verify exact|signature|none] [--threshold 0.8] [--bases 300]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from dedup_corpus import clough_stevenson, edit, make_document, sentence_pools, shingles, true_jaccard

from pipeline.config import parse_config
from pipeline.schema import Document, documents_to_table
from pipeline.shards import ShardWriter, shard_files
from pipeline.step import StageContext

RATES = (0.002, 0.005, 0.01, 0.02, 0.04, 0.08)


def build(bases: int, background: int, seed: int) -> tuple[dict[str, str], list[list[str]], dict[str, tuple]]:
    """Documents by id, the families whose pairs are ground-truth candidates, Clough info by id."""
    pools = sentence_pools()
    rng = np.random.default_rng(seed)
    langs = sorted(pools)
    vocab = pools["en"][0].split()
    docs: dict[str, str] = {}
    families: list[list[str]] = []
    for i in range(bases + background):
        lang = "en" if i % 2 == 0 else "zh" if i % 6 == 1 else langs[int(rng.integers(len(langs)))]
        text = make_document(pools[lang], rng, int(rng.integers(1500, 5000)))
        doc_id = f"base{i:05d}-{lang}"
        docs[doc_id] = text
        if i < bases // 2:
            fam = [doc_id]
            for rate in RATES:
                vid = f"var{i:05d}-{lang}-{rate}"
                cjk_vocab = list(pools["zh"][i % len(pools["zh"])])
                docs[vid] = edit(text, rate, rng, cjk_vocab if lang in ("zh", "ja") else vocab)
                fam.append(vid)
            families.append(fam)
    clough = {}
    by_task: dict[str, list[str]] = defaultdict(list)
    for doc_id, task, category, text in clough_stevenson():
        docs[doc_id] = text
        clough[doc_id] = (task, category)
        by_task[task].append(doc_id)
    families += [by_task[t] for t in sorted(by_task)]
    return docs, families, clough


def run_stage(docs: dict[str, str], tmp: Path, verify: str, threshold: float, shards: int) -> dict[str, dict]:
    """Write the corpus as input shards (shuffled), run minhash_dedup on Ray, return rejected rows by id."""
    ids = sorted(docs)
    order = np.random.default_rng(1).permutation(len(ids))
    prev = tmp / "01_prev"
    for s in range(shards):
        chunk = [ids[j] for j in order[s::shards]]
        w = ShardWriter(str(prev), f"shard{s}", target_bytes=1 << 30)
        w.write(documents_to_table([Document(i, docs[i], "eval") for i in chunk]))
        w.finish()
    yaml = (
        "sources: [{name: eval, format: jsonl, paths: [x.jsonl]}]\nray: {num_cpus: 2, num_workers: 2}\n"
        "stages:\n  - {type: minhash_dedup, name: fuzzy, partitions: 4, "
        f"verify: {verify}, threshold: {threshold}}}\n"
    )
    config = parse_config(yaml, "bench.yaml", str(tmp))
    ctx = StageContext(
        config=config,
        run_dir=str(tmp),
        stage_index=2,
        stage_name="fuzzy",
        stage_dir=str(tmp / "02_fuzzy"),
        rejected_dir=str(tmp / "rejected" / "02_fuzzy"),
        work_dir=str(tmp / "_work" / "02_fuzzy"),
        shards=shard_files(str(prev)),
    )
    config.stage_configs()[0].build().run(ctx)
    rejected = {}
    for f in sorted((tmp / "rejected" / "02_fuzzy").glob("*.parquet")):
        for r in pq.read_table(f, columns=["id", "attributes"]).to_pylist():
            rejected[r["id"]] = json.loads(r["attributes"])["fuzzy"]
    return rejected


def ratio(a: int, b: int) -> str:
    return f"{a}/{b} = {a / b:.4f}" if b else f"{a}/0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verify", default="exact", choices=["exact", "signature", "none"])
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--bases", type=int, default=300, help="base documents (half get one copy per rate)")
    ap.add_argument("--background", type=int, default=700, help="unrelated documents")
    args = ap.parse_args()
    docs, families, clough = build(args.bases, args.background, seed=0)
    print(f"corpus: {len(docs)} documents, {len(families)} families, verify={args.verify}")
    sets = {k: shingles(v) for k, v in docs.items()}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        rejected = run_stage(docs, Path(tmp), args.verify, args.threshold, shards=4)
        seconds = time.monotonic() - start
        extra = json.loads((Path(tmp) / "_extra" / "fuzzy.json").read_text())
    cluster = {d: rejected[d]["kept_id"] if d in rejected else d for d in docs}
    members = defaultdict(list)
    for d, c in cluster.items():
        members[c].append(d)

    hi = args.threshold + 0.05
    pairs = [
        (a, b, true_jaccard(sets[a], sets[b])) for fam in families for a, b in itertools.combinations(fam, 2)
    ]
    pos = [(a, b) for a, b, j in pairs if j >= hi]
    caught = sum(cluster[a] == cluster[b] for a, b in pos)
    pos_t = [(a, b) for a, b, j in pairs if j >= args.threshold]
    caught_t = sum(cluster[a] == cluster[b] for a, b in pos_t)
    good = strict = 0
    for d, info in rejected.items():
        others = [m for m in members[cluster[d]] if m != d]
        good += max(true_jaccard(sets[d], sets[m]) for m in others) >= args.threshold
        strict += true_jaccard(sets[d], sets[info["kept_id"]]) >= args.threshold
    print(f"stage wall time {seconds:.1f}s on 2 workers; bands x rows = {extra['bands']}x{extra['rows']}")
    print(f"rounds {extra['rounds']}; removed {len(rejected)} in {extra['clusters']} clusters")
    print(f"cluster sizes {extra['cluster_size_histogram']}")
    t = args.threshold
    print(f"recall    (pairs with true J >= {hi:.2f}): {ratio(caught, len(pos))}")
    print(f"recall    (pairs with true J >= {t:.2f}): {ratio(caught_t, len(pos_t))}")
    print(
        f"precision (removed doc has a true J >= {t} duplicate in its cluster): {ratio(good, len(rejected))}"
    )
    print(f"precision, strict (true J with the kept doc >= {t}): {ratio(strict, len(rejected))}")
    for rate in RATES:
        fam_pairs = [(a, b, j) for a, b, j in pairs if a.startswith("base") and b.endswith(f"-{rate}")]
        same = sum(cluster[a] == cluster[b] for a, b, _ in fam_pairs)
        mean_j = np.mean([j for *_, j in fam_pairs])
        print(f"  edit rate {rate:.3f}: mean true J {mean_j:.3f}, found with base {same}/{len(fam_pairs)}")
    originals = {task: d for d, (task, cat) in clough.items() if cat == "orig"}
    for cat in ("cut", "light", "heavy", "non"):
        ids = [d for d, (_, c) in clough.items() if c == cat]
        js = [true_jaccard(sets[d], sets[originals[clough[d][0]]]) for d in ids]
        same = sum(cluster[d] == cluster[originals[clough[d][0]]] for d in ids)
        mean_j = np.mean(js)
        print(
            f"  clough-stevenson {cat:5s}: mean J with original {mean_j:.3f}, same cluster {same}/{len(ids)}"
        )


if __name__ == "__main__":
    main()
