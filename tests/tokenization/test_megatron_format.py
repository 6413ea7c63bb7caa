"""The Megatron indexed dataset writer, reader, merge and check (numpy only, no torch)."""

from __future__ import annotations

import argparse
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from tokenization import megatron


def _docs(seed: int, n: int, vocab: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=int(rng.integers(1, 300))) for _ in range(n)]


def _write(prefix: str, docs: list[np.ndarray], dtype=np.uint16) -> dict:
    w = megatron.DatasetWriter(prefix, dtype)
    for d in docs[:3]:
        w.add_document(d)
    rest = docs[3:]
    if rest:
        w.add_documents(np.concatenate(rest), np.array([len(d) for d in rest]))
    return w.finish()


def _reference_idx(docs: list[np.ndarray], code: int, itemsize: int) -> bytes:
    """The index exactly as megatron-core 0.16.1's _IndexWriter lays it out, built by hand."""
    lengths = np.array([len(d) for d in docs], dtype=np.int32)
    pointers = np.concatenate([[0], np.cumsum(lengths.astype(np.int64) * itemsize)[:-1]]).astype(np.int64)
    doc_idx = np.arange(len(docs) + 1, dtype=np.int64)
    head = b"MMIDIDX\x00\x00" + struct.pack("<Q", 1) + struct.pack("<B", code)
    head += struct.pack("<Q", len(docs)) + struct.pack("<Q", len(docs) + 1)
    return head + lengths.tobytes() + pointers.tobytes() + doc_idx.tobytes()


@pytest.mark.parametrize(("dtype", "code", "vocab"), [(np.uint16, 8, 8000), (np.int32, 4, 100_000)])
def test_round_trip_matches_the_reference_layout(tmp_path, dtype, code, vocab):
    docs = _docs(1, 50, vocab)
    prefix = str(tmp_path / "a_text_document")
    info = _write(prefix, docs, dtype)
    assert info["documents"] == 50 and info["tokens"] == sum(len(d) for d in docs)
    with open(prefix + ".idx", "rb") as f:
        assert f.read() == _reference_idx(docs, code, np.dtype(dtype).itemsize)
    with open(prefix + ".bin", "rb") as f:
        assert f.read() == np.concatenate(docs).astype(dtype).tobytes()
    reader = megatron.DatasetReader(prefix)
    assert len(reader) == 50
    for got, want in zip(reader, docs, strict=True):
        assert got.tolist() == want.tolist()
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p]


def test_optimal_dtype_is_megatrons_rule():
    assert megatron.optimal_dtype(65499) == np.uint16
    assert megatron.optimal_dtype(65500) == np.int32
    assert megatron.optimal_dtype(151_000) == np.int32


def test_merge_streams_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(megatron, "CHUNK", 7)  # force many chunks through the streamed index writer
    parts = [_docs(s, 20, 8000) for s in range(3)]
    prefixes = []
    for i, docs in enumerate(parts):
        prefixes.append(str(tmp_path / f"p{i}"))
        _write(prefixes[-1], docs)
    out = str(tmp_path / "merged")
    info = megatron.merge(prefixes, out)
    flat = [d for docs in parts for d in docs]
    assert info["documents"] == 60
    assert [d.tolist() for d in megatron.DatasetReader(out)] == [d.tolist() for d in flat]
    with open(out + ".idx", "rb") as f:
        assert f.read() == _reference_idx(flat, 8, 2)
    assert megatron.check(out, 8000)["ok"]


def test_check_accepts_a_good_dataset(tmp_path):
    prefix = str(tmp_path / "good")
    docs = _docs(2, 10, 8000)
    _write(prefix, docs)
    r = megatron.check(prefix, vocab_size=8000)
    assert r["ok"], r["errors"]
    assert r["documents"] == 10 and r["tokens"] == sum(len(d) for d in docs)
    assert r["max_token_id"] == max(int(d.max()) for d in docs)


def test_check_catches_a_truncated_bin(tmp_path):
    prefix = str(tmp_path / "trunc")
    _write(prefix, _docs(3, 10, 8000))
    size = os.path.getsize(prefix + ".bin")
    with open(prefix + ".bin", "r+b") as f:
        f.truncate(size - 10)
    r = megatron.check(prefix)
    assert not r["ok"]
    assert any("truncated" in e for e in r["errors"])


def test_check_catches_an_empty_dataset(tmp_path):
    prefix = str(tmp_path / "empty")
    megatron.DatasetWriter(prefix, np.uint16).finish()
    r = megatron.check(prefix)
    assert not r["ok"]
    assert any("empty dataset" in e for e in r["errors"])


def test_check_catches_zero_token_documents_and_vocab_overflow(tmp_path):
    prefix = str(tmp_path / "bad")
    w = megatron.DatasetWriter(prefix, np.uint16)
    w.add_document([5, 6, 7])
    w.add_document([])
    w.add_document([9000])
    w.finish()
    r = megatron.check(prefix, vocab_size=8000)
    assert any("0 tokens" in e for e in r["errors"])
    assert any("9000 is out of range" in e for e in r["errors"])


def test_check_catches_a_corrupt_header_and_pointers(tmp_path):
    prefix = str(tmp_path / "hdr")
    _write(prefix, _docs(4, 5, 8000))
    idx = Path(prefix + ".idx")
    good = idx.read_bytes()
    idx.write_bytes(b"NOTMEGA\x00\x00" + good[9:])
    assert any("bad magic" in e for e in megatron.check(prefix)["errors"])
    ptr_off = megatron.HEADER_BYTES + 4 * 5 + 8  # second pointer
    idx.write_bytes(good[:ptr_off] + struct.pack("<q", 3) + good[ptr_off + 8 :])
    assert any("pointer" in e for e in megatron.check(prefix)["errors"])
    idx.write_bytes(good[:-8])
    assert any("need" in e for e in megatron.check(prefix)["errors"])


def test_check_megatron_cli_exit_codes(tmp_path, capsys):
    good, trunc = str(tmp_path / "good"), str(tmp_path / "t")
    _write(good, _docs(5, 5, 8000))
    _write(trunc, _docs(5, 5, 8000))
    with open(trunc + ".bin", "r+b") as f:
        f.truncate(4)
    parser = argparse.ArgumentParser()
    megatron.register_check(parser.add_subparsers())
    args = parser.parse_args(["check-megatron", good, "--vocab-size", "8000"])
    assert args.func(args) == 0
    args = parser.parse_args(["check-megatron", good + ".bin", trunc])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "ok   " in out and "FAIL" in out and "truncated" in out
