"""`winnow train-tokenizer`: deterministic sample, run-dir input, the three models, the CLI."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from pipeline.schema import Document, documents_to_table
from pipeline.shards import ShardWriter
from tokenization import train


def _run_dir(tmp: Path) -> Path:
    """A run directory with a read stage and a later stage; the later one holds the cleaned text."""
    import argparse as a
    import pathlib as p
    import shutil as s

    texts = [inspect.getdoc(o) for m in (a, p, s) for _, o in sorted(vars(m).items())
             if callable(o) and inspect.getdoc(o)]
    run = tmp / "run"
    for stage, prefix in (("00_read", "raw"), ("02_gopher_quality", "clean")):
        w = ShardWriter(str(run / stage), "src-0", target_bytes=1 << 30)
        w.write(documents_to_table([Document(f"{prefix}-{i}", t, "src") for i, t in enumerate(texts)]))
        w.finish()
    (run / "rejected").mkdir()
    return run


def test_bpe_is_deterministic_and_reads_the_last_stage(tmp_path):
    run = _run_dir(tmp_path)
    last = sorted(str(p) for p in (run / "02_gopher_quality").glob("*.parquet"))
    assert train.resolve_inputs([str(run)]) == last
    opts = {"vocab_size": 600, "special_tokens": ("<|eod|>",)}
    a = train.train_tokenizer([str(run)], str(tmp_path / "a.json"), **opts)
    b = train.train_tokenizer([str(run)], str(tmp_path / "b.json"), **opts)
    assert a["sha256"] == b["sha256"]
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    tok = Tokenizer.from_file(str(tmp_path / "a.json"))
    assert tok.token_to_id("<|eod|>") == 0
    assert tok.get_vocab_size() == 600
    text = "Copy data and metadata. Return the destination: ünïcödé and 中文 survive byte-level BPE."
    assert tok.decode(tok.encode(text).ids) == text


def test_sample_fraction_is_deterministic(tmp_path):
    run = _run_dir(tmp_path)
    files = train.resolve_inputs([str(run)])
    picks = []
    for _ in range(2):
        stats = {"documents": 0, "characters": 0}
        picks.append(list(train.sample_texts(files, 0.5, 3, None, stats)))
    assert picks[0] == picks[1]
    total = sum(1 for _ in train.iter_documents(files))
    assert 0.3 * total < len(picks[0]) < 0.7 * total
    stats = {"documents": 0, "characters": 0}
    assert len(list(train.sample_texts(files, 1.0, 3, 10, stats))) == 10


@pytest.mark.parametrize(("model", "unk"), [("unigram", "<unk>"), ("wordpiece", "[UNK]")])
def test_unigram_and_wordpiece(tmp_path, model, unk):
    run = _run_dir(tmp_path)
    out = train.train_tokenizer([str(run)], str(tmp_path), model=model, vocab_size=400)
    tok = Tokenizer.from_file(out["output"])
    assert out["output"].endswith("tokenizer.json")
    assert tok.token_to_id("<|endoftext|>") == 0 and tok.token_to_id(unk) is not None
    assert len(tok.encode("Return the destination directory").ids) > 0


def test_cli(tmp_path, capsys):
    run = _run_dir(tmp_path)
    parser = argparse.ArgumentParser()
    train.register(parser.add_subparsers())
    args = parser.parse_args(["train-tokenizer", str(run), "-o", str(tmp_path / "t.json"),
                              "--vocab-size", "500", "--sample-fraction", "0.8"])
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vocab_size"] == 500 and summary["documents"] > 0
    args = parser.parse_args(["train-tokenizer", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.json")])
    assert args.func(args) == 1
    assert "no such file" in capsys.readouterr().out
