"""Train the main-content block model on WCXB: ``winnow train-extractor --wcxb DIR --output FILE``.

WCXB (Web Content eXtraction Benchmark, CC-BY-4.0) gives, per real page, its HTML and the text a
person marked as the main content. Each page is cut into blocks (:mod:`pipeline.readers.blocks`);
a block is labelled main content when its words occur in that text in page order (blocks of fewer
than four words only right after the previous match, so a menu's "Home" is not matched by chance).
A LightGBM model learns the labels, each block weighted by its share of its page's words (WCXB scores
word F1 per page, averaged over pages).

Before the final model is fitted on every page, 5-fold cross-validation **grouped by registered
domain** (no site is in both a training and a test fold) picks the probability threshold and gives
the word F1 per page type that ``docs/extractors.md`` reports. Same data and options give the same
model file, byte for byte.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from pipeline.readers import blocks as blk
from pipeline.readers import main_content

_WORD = re.compile(r"\w+")
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


@dataclass
class Example:
    """One WCXB page as the model sees it."""

    page_id: str
    page_type: str
    domain: str
    gold: str
    blocks: list[blk.Block]
    features: np.ndarray
    labels: np.ndarray
    weights: np.ndarray


def word_f1(predicted: str, reference: str) -> float:
    """WCXB's metric: F1 of lower-cased ``\\w+`` word counts (1.0 when both are empty)."""
    pred, ref = _WORD.findall(predicted.lower()), _WORD.findall(reference.lower())
    if not ref:
        return 0.0 if pred else 1.0
    if not pred:
        return 0.0
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if not overlap:
        return 0.0
    p, r = overlap / len(pred), overlap / len(ref)
    return 2 * p * r / (p + r)


def align_labels(texts: list[str], gold: str) -> list[int]:
    """1 for each block whose words occur in ``gold`` in page order, else 0."""
    words = _WORD.findall(gold.lower())
    joined = " " + " ".join(words) + " "
    trigrams = set(zip(words, words[1:], words[2:], strict=False))
    cursor = 0
    labels: list[int] = []
    for text in texts:
        tokens = _WORD.findall(text.lower())
        if not tokens:
            labels.append(0)
            continue
        needle = " " + " ".join(tokens) + " "
        if len(tokens) >= 4:
            pos = joined.find(needle, cursor)
            if pos < 0:
                pos = joined.find(needle)
            if pos >= 0:
                labels.append(1)
                cursor = max(cursor, pos + len(needle) - 1)
            elif len(tokens) >= 6:
                grams = list(zip(tokens, tokens[1:], tokens[2:], strict=False))
                labels.append(int(sum(g in trigrams for g in grams) / len(grams) >= 0.5))
            else:
                labels.append(0)
            continue
        pos = joined.find(needle, cursor, cursor + len(needle) + 80)
        if pos >= 0:
            labels.append(1)
            cursor = pos + len(needle) - 1
        else:
            labels.append(0)
    return labels


def _page_type(record: dict[str, Any]) -> str:
    kind = ((record.get("_internal") or {}).get("page_type") or {}).get("primary", "article")
    return "collection" if kind == "category" else kind


def registered_domain(url: str) -> str:
    """The last two labels of the host: pages of one site share a cross-validation fold."""
    host = urlsplit(url).hostname or ""
    return ".".join(host.split(".")[-2:])


def load_wcxb(directory: Path, limit: int | None = None) -> list[Example]:
    """Every page of a WCXB split folder (``html/NNNN.html.gz`` + ``ground-truth/NNNN.json``)."""
    from pipeline.readers.html import prepare_html

    examples = []
    for path in sorted((directory / "ground-truth").glob("*.json"))[:limit]:
        record = json.loads(path.read_text(encoding="utf-8"))
        truth = record.get("ground_truth")
        if not isinstance(truth, dict):
            continue
        gold = truth.get("main_content") or ""
        html = prepare_html(gzip.decompress((directory / "html" / f"{path.stem}.html.gz").read_bytes()))
        root = blk.parse(html)
        page = blk.segment(root) if root is not None else blk.Page()
        texts = [b.text for b in page.blocks]
        words = np.array([len(_WORD.findall(t)) for t in texts], dtype=np.float64)
        weights = (words + 1) / (words.sum() + len(words)) * 100 if len(words) else words
        examples.append(
            Example(
                path.stem,
                _page_type(record),
                registered_domain(record.get("url") or ""),
                gold,
                page.blocks,
                blk.block_features(page),
                np.array(align_labels(texts, gold), dtype=np.int8),
                weights,
            )
        )
    return examples


def _fit(examples: list[Example], trees: int, leaves: int, seed: int) -> Any:
    import lightgbm

    rows = [e for e in examples if len(e.labels)]
    data = lightgbm.Dataset(
        np.vstack([e.features for e in rows]),
        np.concatenate([e.labels for e in rows]),
        weight=np.concatenate([e.weights for e in rows]),
        free_raw_data=True,
    )
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "learning_rate": 0.05,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 0.8,
        "min_data_in_leaf": 50,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }
    return lightgbm.train(params, data, num_boost_round=trees)


def _text(example: Example, scores: np.ndarray, threshold: float) -> str:
    if not len(scores):
        return ""
    return main_content.render(example.blocks, scores >= threshold)


def cross_validate(
    examples: list[Example], folds: int, trees: int, leaves: int, seed: int
) -> tuple[float, dict[str, dict[str, float]]]:
    """Out-of-fold scores for every page, folds grouped by domain; the best threshold and
    F1 per page type at each threshold."""
    fold_of = {e.page_id: zlib.crc32(e.domain.encode()) % folds for e in examples}
    scores: dict[str, np.ndarray] = {}
    for fold in range(folds):
        train = [e for e in examples if fold_of[e.page_id] != fold]
        booster = _fit(train, trees, leaves, seed)
        for e in examples:
            if fold_of[e.page_id] == fold:
                scores[e.page_id] = (
                    booster.predict(e.features, num_threads=1) if len(e.labels) else np.zeros(0)
                )
    table: dict[str, dict[str, float]] = {}
    for threshold in THRESHOLDS:
        by_type: dict[str, list[float]] = defaultdict(list)
        for e in examples:
            f1 = word_f1(_text(e, scores[e.page_id], threshold), e.gold)
            by_type[e.page_type].append(f1)
            by_type["all"].append(f1)
        table[str(threshold)] = {t: round(sum(v) / len(v), 4) for t, v in sorted(by_type.items())}
    best = max(THRESHOLDS, key=lambda t: table[str(t)]["all"])
    return best, table


def train(args: argparse.Namespace) -> int:
    started = time.time()
    examples = load_wcxb(Path(args.wcxb), args.limit)
    pages_by_type = Counter(e.page_type for e in examples)
    print(f"{len(examples)} pages, {sum(len(e.labels) for e in examples)} blocks: {dict(pages_by_type)}")
    threshold, table = cross_validate(examples, args.folds, args.trees, args.leaves, args.seed)
    for t, row in table.items():
        mark = " <- chosen" if float(t) == threshold else ""
        print(f"threshold {t}: " + " ".join(f"{k}={v:.3f}" for k, v in row.items()) + mark)
    booster = _fit(examples, args.trees, args.leaves, args.seed)
    output = Path(args.output)
    main_content.save_model(booster, threshold, output)
    card = {
        "model": output.name,
        "trained_by": "winnow train-extractor "
        f"--wcxb DIR --folds {args.folds} --trees {args.trees} --leaves {args.leaves} --seed {args.seed}",
        "data": "WCXB development split (Web Content eXtraction Benchmark, 2026, CC-BY-4.0, "
        "Murrough-Foley/web-content-extraction-benchmark)",
        "pages": len(examples),
        "pages_by_type": dict(sorted(pages_by_type.items())),
        "threshold": threshold,
        "cross_validation": f"{args.folds}-fold, grouped by registered domain; word F1 per page",
        "cv_word_f1": table[str(threshold)],
        "cv_word_f1_by_threshold": table,
    }
    card_path = output.with_name(output.name.removesuffix(".txt.gz") + ".card.json")
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(f"model: {output}\ncard:  {card_path}\n({time.time() - started:.0f} s)")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train-extractor",
        help="train the main-content block model of the `winnow` HTML extractor on WCXB",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--wcxb", required=True, help="a WCXB split folder (html/, ground-truth/)")
    p.add_argument("--output", default=str(main_content.MODEL_PATH), help="model file (.txt.gz)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--trees", type=int, default=300)
    p.add_argument("--leaves", type=int, default=31)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="only the first N pages (for a quick try)")
    p.set_defaults(func=train)
