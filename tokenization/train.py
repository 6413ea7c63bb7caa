"""`winnow train-tokenizer`: a tokenizer.json trained with HF `tokenizers` on cleaned documents.

Input is a run directory (its last stage with Parquet output), a stage directory, or Parquet/JSONL
files. The sample is deterministic: a document is in it when a hash of (seed, id) falls below the
sample fraction, so the same input always trains on the same documents, in file order.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq

from tokenization.mixture import FULL, doc_hash

MODELS = ("bpe", "unigram", "wordpiece")
_STAGE_DIR = re.compile(r"^(\d+)_")


def resolve_inputs(paths: list[str]) -> list[str]:
    """Parquet/JSONL files for a mix of run dirs, stage dirs and files (sorted, each group in order)."""
    files: list[str] = []
    for path in paths:
        if os.path.isfile(path):
            files.append(path)
            continue
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{path}: no such file or directory")
        parts = sorted(glob.glob(os.path.join(path, "part-*.parquet")))
        if not parts:
            stages = sorted(
                (int(m.group(1)), d)
                for d in os.listdir(path)
                if (m := _STAGE_DIR.match(d)) and glob.glob(os.path.join(path, d, "part-*.parquet"))
            )
            if stages:
                parts = sorted(glob.glob(os.path.join(path, stages[-1][1], "part-*.parquet")))
        if not parts:
            exts = ("*.parquet", "*.jsonl*", "*.txt")
            parts = sorted(f for ext in exts for f in glob.glob(os.path.join(path, ext)))
        if not parts:
            raise FileNotFoundError(f"{path}: no Parquet shards (part-*.parquet) or JSONL files found")
        files += parts
    return files


def iter_documents(files: list[str], text_field: str = "text", id_field: str = "id"
                   ) -> Iterator[tuple[str, str]]:
    """(id, text) of every document, in file order.

    Parquet and JSONL(.gz) rows are documents; a `.txt` file has one document per line. A document
    without an id gets `file:row`.
    """
    for path in files:
        if path.endswith(".parquet"):
            pf = pq.ParquetFile(path)
            cols = [c for c in (id_field, text_field) if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(batch_size=1000, columns=cols):
                texts = batch.column(text_field).to_pylist()
                ids = batch.column(id_field).to_pylist() if id_field in cols else [None] * len(texts)
                for i, (doc_id, text) in enumerate(zip(ids, texts, strict=True)):
                    yield (doc_id if doc_id is not None else f"{path}:{i}"), text or ""
        elif path.endswith(".txt"):
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f):
                    if line.strip():
                        yield f"{path}:{n}", line.rstrip("\n")
        else:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as f:
                for n, line in enumerate(f):
                    if not line.strip():
                        continue
                    rec = json.loads(line)
                    doc_id = rec.get(id_field)
                    yield (str(doc_id) if doc_id is not None else f"{path}:{n}"), rec.get(text_field) or ""


def sample_texts(files: list[str], fraction: float, seed: int, max_docs: int | None,
                 stats: dict[str, int]) -> Iterator[str]:
    """Texts of the deterministic sample; `stats` counts documents and characters as they stream."""
    threshold = round(fraction * FULL)
    for doc_id, text in iter_documents(files):
        if max_docs is not None and stats["documents"] >= max_docs:
            return
        if not text or (doc_hash(seed, "train-tokenizer", doc_id) & 0xFFFFFFFF) >= threshold:
            continue
        stats["documents"] += 1
        stats["characters"] += len(text)
        yield text


def build_tokenizer(model: str, vocab_size: int, special_tokens: list[str], min_frequency: int
                    ) -> tuple[Any, Any]:
    """An untrained tokenizer and its trainer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    if model == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special_tokens,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
        )
    elif model == "unigram":
        unk = "<unk>"
        specials = special_tokens if unk in special_tokens else [*special_tokens, unk]
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=specials, unk_token=unk, show_progress=False
        )
    elif model == "wordpiece":
        unk = "[UNK]"
        specials = special_tokens if unk in special_tokens else [*special_tokens, unk]
        tok = Tokenizer(models.WordPiece(unk_token=unk))
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials, show_progress=False
        )
    else:
        raise ValueError(f"unknown tokenizer model {model!r}; choose one of {', '.join(MODELS)}")
    return tok, trainer


def train_tokenizer(inputs: list[str], output: str, *, model: str = "bpe", vocab_size: int = 32000,
                    special_tokens: tuple[str, ...] = ("<|endoftext|>",), sample_fraction: float = 1.0,
                    max_docs: int | None = None, seed: int = 0, min_frequency: int = 2) -> dict[str, Any]:
    """Train and save `output` (a tokenizer.json path, or a directory to put one in). Returns a summary."""
    files = resolve_inputs(inputs)
    tok, trainer = build_tokenizer(model, vocab_size, list(special_tokens), min_frequency)
    stats = {"documents": 0, "characters": 0}
    tok.train_from_iterator(sample_texts(files, sample_fraction, seed, max_docs, stats), trainer=trainer)
    if stats["documents"] == 0:
        raise ValueError("the sample is empty: no document with text was selected")
    if os.path.isdir(output) or output.endswith(os.sep):
        output = os.path.join(output, "tokenizer.json")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    tok.save(output)
    with open(output, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"output": output, "model": model, "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "files": len(files), **stats, "sha256": digest}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-tokenizer",
        help="train a byte-level BPE (or Unigram / WordPiece) tokenizer.json on cleaned shards",
        description="Train an HF tokenizers tokenizer.json on a deterministic sample of cleaned documents.",
    )
    p.add_argument("inputs", nargs="+", help="run dir, stage dir, or Parquet/JSONL files")
    p.add_argument("--output", "-o", required=True, help="tokenizer.json path (or a directory)")
    p.add_argument("--model", choices=MODELS, default="bpe")
    p.add_argument("--vocab-size", type=int, default=32000)
    p.add_argument("--special-tokens", nargs="+", default=["<|endoftext|>"],
                   help="special tokens, the end-of-document token first (default: <|endoftext|>)")
    p.add_argument("--sample-fraction", type=float, default=1.0, help="share of documents to train on")
    p.add_argument("--max-docs", type=int, default=None, help="stop after this many sampled documents")
    p.add_argument("--min-frequency", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    if not 0 < args.sample_fraction <= 1:
        print("error: --sample-fraction must be in (0, 1]")
        return 2
    try:
        summary = train_tokenizer(
            args.inputs, args.output, model=args.model, vocab_size=args.vocab_size,
            special_tokens=tuple(args.special_tokens), sample_fraction=args.sample_fraction,
            max_docs=args.max_docs, seed=args.seed, min_frequency=args.min_frequency,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    print(json.dumps(summary, indent=1))
    return 0
