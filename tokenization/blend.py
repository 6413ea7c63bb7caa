"""What a Megatron-LM trainer reads from a run: blend files, and the flags that point at them (the hook).

The tokenize stage writes into `RUN/tokens/`:
- `data_args.txt`: `w1 prefix1 w2 prefix2 ...`, the train blend, for `--data-args-path`;
- `per_split_data_args.json`: `{"train": [w, prefix, ...], "valid": [...], "test": [...]}`, for
  `--per-split-data-args-path` (Megatron-LM's `get_blend_and_blend_per_split`);
- `tokens.json`: what was written (prefixes, documents, tokens per source and split, tokenizer);
- `tokenizer/`: the tokenizer used (tokenizer.json + tokenizer_config.json, for `--tokenizer-model`).
Weights are computed from the tokens actually written, so the blend Megatron samples hits the mixture
the config asked for (see `blend_weights`).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from pipeline import storage
from pipeline.schema import dumps

TOKENS_DIR = "tokens"
DATA_ARGS = "data_args.txt"
PER_SPLIT_ARGS = "per_split_data_args.json"
SUMMARY = "tokens.json"
TOKENIZER_DIR = "tokenizer"


def format_weight(w: float) -> str:
    """Weights as text with 12 significant digits: stable bytes, ample precision for sampling."""
    return f"{w:.12g}"


def blend_weights(datasets: list[dict[str, Any]], weights: dict[str, float] | None) -> list[float]:
    """Normalised weights for the datasets of one split (each: {"source", "tokens"}).

    Without configured weights, a dataset's weight is its share of the split's tokens: Megatron then
    reads every written token about equally often, so the mixture is whatever the sampling (epochs,
    token budgets) made it. With weights, each source's weight is used as given (Megatron samples a
    source in proportion to its weight), normalised over the sources present in the split; a source
    written as several datasets (tokenization.parts) shares its weight among them by their tokens.
    """
    if not datasets:
        return []
    per_source: dict[str, int] = {}
    for d in datasets:
        per_source[d["source"]] = per_source.get(d["source"], 0) + int(d["tokens"])
    raw = [
        weights[d["source"]] * (d["tokens"] / per_source[d["source"]]) if weights else float(d["tokens"])
        for d in datasets
    ]
    total = sum(raw)
    return [r / total for r in raw]


def write_blend_files(tokens_dir: str, per_split: dict[str, list[dict[str, Any]]],
                      weights: dict[str, float] | None) -> dict[str, list[str]]:
    """Write `data_args.txt` (train blend) and `per_split_data_args.json`; return the per-split lists."""
    lists: dict[str, list[str]] = {}
    for split in ("train", "valid", "test"):
        datasets = per_split.get(split, [])
        items: list[str] = []
        for d, w in zip(datasets, blend_weights(datasets, weights), strict=True):
            items += [format_weight(w), d["prefix"]]
        lists[split] = items
    _atomic_text(storage.join(tokens_dir, DATA_ARGS), " ".join(lists["train"]) + "\n")
    _atomic_text(storage.join(tokens_dir, PER_SPLIT_ARGS), json.dumps(lists, indent=1) + "\n")
    return lists


def _atomic_text(path: str, text: str) -> None:
    storage.atomic_write(path, text.encode("utf-8"))


def tokens_dir(run_dir: str) -> str:
    """`RUN/tokens`, absolute when local: Megatron resolves the blend's prefixes as given."""
    return storage.join(run_dir if storage.is_uri(run_dir) else os.path.abspath(run_dir), TOKENS_DIR)


def load_summary(run_dir: str) -> dict[str, Any]:
    path = storage.join(run_dir, TOKENS_DIR, SUMMARY)
    if not storage.is_file(path):
        raise FileNotFoundError(f"{path} not found: did the run have a 'tokenize' stage that finished?")
    return json.loads(storage.read_bytes(path))


def megatron_args(run_dir: str, local_dir: str | None = None) -> list[str]:
    """The Megatron-LM trainer flags for a run's tokens (the hook for a training script).

    With valid/test splits in the mixture: `--per-split-data-args-path` (Megatron ignores `--split`).
    Without: `--data-args-path` with the train blend (Megatron's own `--split` then applies).
    Always: the HF tokenizer the tokens were made with.
    A run on object storage: Megatron reads the `.bin`/`.idx` from S3 itself but opens args files and
    the tokenizer locally, so the blend goes inline (`--data-path`, or `--train-data-path` ... per
    split), the tokenizer is copied into `local_dir`, which also caches Megatron's `.idx` copies.
    """
    summary = load_summary(run_dir)
    tokens = tokens_dir(run_dir)
    splits = summary["split"]
    per_split = any(splits.get(s, 0) > 0 for s in ("valid", "test"))
    if not storage.is_uri(run_dir):
        if per_split:
            args = ["--per-split-data-args-path", storage.join(tokens, PER_SPLIT_ARGS)]
        else:
            args = ["--data-args-path", storage.join(tokens, DATA_ARGS)]
        return [*args, "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model",
                storage.join(tokens, TOKENIZER_DIR)]
    if local_dir is None:
        raise ValueError(f"{run_dir} is on object storage: give a local folder for the tokenizer and "
                         "Megatron's index cache (winnow megatron-args RUN --local-dir DIR)")
    local_dir = os.path.abspath(local_dir)
    tok_local = os.path.join(local_dir, TOKENIZER_DIR)
    os.makedirs(tok_local, exist_ok=True)
    for path in storage.listdir(storage.join(tokens, TOKENIZER_DIR)):
        with open(os.path.join(tok_local, path.rsplit("/", 1)[-1]), "wb") as f:
            f.write(storage.read_bytes(path))
    blend = summary["blend"]
    if per_split:
        args = []
        for split in ("train", "valid", "test"):
            if blend.get(split):
                args += [f"--{split}-data-path", *blend[split]]
    else:
        args = ["--data-path", *blend["train"]]
    return [*args, "--object-storage-cache-path", os.path.join(local_dir, "idx_cache"), "--no-mmap-bin-files",
            "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", tok_local]


def write_summary(tokens_dir: str, summary: dict[str, Any]) -> None:
    _atomic_text(storage.join(tokens_dir, SUMMARY), dumps(summary) + "\n")


def register_args(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "megatron-args",
        help="print the Megatron-LM trainer flags for a run's tokens",
        description="Print the flags that feed RUN_DIR/tokens to Megatron-LM's pretrain_gpt.py.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--local-dir", default=None, metavar="DIR",
                   help="for a run on s3://: where the tokenizer is copied and Megatron caches .idx files")
    p.set_defaults(func=_args_main)


def _args_main(args: argparse.Namespace) -> int:
    try:
        flags = megatron_args(args.run_dir, args.local_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    print(" ".join(flags))
    return 0
