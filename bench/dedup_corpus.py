"""Evaluation and scale corpora for the dedup benchmarks, built from real text in ../shared/data.

Real Common Crawl data is scarce here, so documents are assembled from real sentences and paragraphs
(Leipzig sentences via lingua-py in 30 languages, CC English documents from Dolma's tests, news
articles from the article-extraction benchmark, Chinese web text from Skywork), and near-duplicates
are injected at known word-level edit rates. Ground truth is the exact Jaccard similarity of the
shingle sets (tuples of normalised tokens), computed here without any hashing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dedup.normalize import normalize, tokens

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def sentence_pools(shared: Path = SHARED) -> dict[str, list[str]]:
    """Language -> real sentences/paragraphs (deduplicated, in file order)."""
    pools: dict[str, list[str]] = {}
    for f in sorted((shared / "langid" / "lingua_sentences").glob("*.txt")):
        pools[f.stem] = [s for s in f.read_text(encoding="utf-8").split("\n") if s.strip()]
    truth = json.loads(
        (shared / "web_text_en" / "article_extraction_benchmark" / "ground-truth.json").read_text()
    )
    for key in sorted(truth):
        pools["en"] += [p for p in (truth[key].get("articleBody") or "").split("\n") if len(p) > 40]
    for f in sorted((shared / "web_text_en" / "dolma_tests").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            pools["en"] += [p for p in json.loads(line)["text"].split("\n") if len(p) > 40]
    for f in sorted((shared / "web_text_zh" / "skywork_eval_loss").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            pools["zh"] += [p for p in json.loads(line)["text"].split("\n") if len(p) > 20]
    return {k: list(dict.fromkeys(v)) for k, v in pools.items()}


def make_document(pool: list[str], rng: np.random.Generator, target_chars: int) -> str:
    """Random real sentences of one language, up to ~target_chars."""
    parts: list[str] = []
    size = 0
    while size < target_chars:
        s = pool[int(rng.integers(len(pool)))]
        parts.append(s)
        size += len(s) + 1
    return "\n".join(parts)


def is_cjk(text: str) -> bool:
    return sum(1 for c in text[:200] if "\u4e00" <= c <= "\u9fff") > 20


def edit(text: str, rate: float, rng: np.random.Generator, vocab: list[str]) -> str:
    """Substitute, delete or insert units (words; characters in Chinese) at the given rate."""
    units = list(text) if is_cjk(text) else text.split(" ")
    out: list[str] = []
    for u in units:
        r = rng.random()
        if r < rate / 3:
            out.append(vocab[int(rng.integers(len(vocab)))])
        elif r < 2 * rate / 3:
            continue
        elif r < rate:
            out += [u, vocab[int(rng.integers(len(vocab)))]]
        else:
            out.append(u)
    return ("" if is_cjk(text) else " ").join(out)


def shingles(text: str, n: int = 5) -> frozenset[tuple[str, ...]]:
    """Ground-truth shingle set: n-grams of normalised tokens (one shingle if shorter than n)."""
    toks = tokens(normalize(text))
    if not toks:
        return frozenset()
    if len(toks) < n:
        return frozenset([tuple(toks)])
    return frozenset(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


def true_jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def synthetic_documents(
    n: int, seed: int = 0, target_chars: int = 4000, dup_fraction: float = 0.1
) -> Iterator[tuple[str, str]]:
    """(id, text) for n documents from real sentences; `dup_fraction` of them are edited copies
    (edit rate 1-10%) of an earlier document, so the dedup stage has real clusters to find."""
    pools = sentence_pools()
    langs = sorted(pools)
    weights = np.array([20.0 if lang == "en" else 5.0 if lang == "zh" else 1.0 for lang in langs])
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    vocab = pools["en"][0].split()
    recent: list[str] = []
    for i in range(n):
        if recent and rng.random() < dup_fraction:
            base = recent[int(rng.integers(len(recent)))]
            text = edit(base, float(rng.uniform(0.01, 0.1)), rng, vocab)
        else:
            lang = langs[int(rng.choice(len(langs), p=weights))]
            text = make_document(pools[lang], rng, target_chars)
        if len(recent) < 2000:
            recent.append(text)
        else:
            recent[int(rng.integers(len(recent)))] = text
        yield f"doc{i:09d}", text


def clough_stevenson(shared: Path = SHARED) -> list[tuple[str, str, str, str]]:
    """(id, task, category, text) of the Corpus of Plagiarised Short Answers (originals: 'orig')."""
    root = shared / "neardup" / "clough_stevenson_short_answers"
    rows = list(csv.DictReader((root / "file_information.csv").open(encoding="utf-8")))
    out = []
    for r in rows:
        text = (root / r["File"]).read_bytes().decode("utf-8", "replace")
        out.append((f"cs-{r['File'].removesuffix('.txt')}", r["Task"], r["Category"], text))
    for task in "abcde":
        text = (root / f"orig_task{task}.txt").read_bytes().decode("utf-8", "replace")
        if not any(i == f"cs-orig_task{task}" for i, *_ in out):
            out.append((f"cs-orig_task{task}", task, "orig", text))
    return out
