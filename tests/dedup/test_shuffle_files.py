"""Shuffle files per phase stay O(writers + partitions); readers get exactly their rows, in order."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from dedup import shuffle
from pipeline import phases as phases_mod
from pipeline.config import parse_config
from pipeline.schema import Document

from .conftest import run_stage

SCHEMA = pa.schema([("key", pa.string()), ("n", pa.int64())])
SHARDS, PARTS = 40, 16


def _writer_table(w: int, rng: np.random.Generator) -> tuple[pa.Table, np.ndarray]:
    n = int(rng.integers(0, 60))
    keys = [f"w{w:02d}-{i:03d}" for i in range(n)]
    parts = rng.integers(0, PARTS, n)
    return pa.table({"key": keys, "n": np.arange(n, dtype=np.int64)}, schema=SCHEMA), parts


def test_one_file_per_writer_and_exact_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    base = str(tmp_path / "x")
    expected: dict[int, list[dict[str, Any]]] = {p: [] for p in range(PARTS)}
    for w in range(SHARDS):
        t, parts = _writer_table(w, rng)
        shuffle.write_partitioned(base, f"s{w:02d}", t, parts, PARTS)
        rows = t.to_pylist()
        for i, p in enumerate(parts.tolist()):  # old layout: writer name order, then row order
            expected[p].append(rows[i])
    files = sorted(os.listdir(base))
    assert len(files) <= SHARDS and all(f.endswith(".parquet") for f in files)
    for p in range(PARTS):
        got = shuffle.read_partition(base, p, SCHEMA)
        assert got.to_pylist() == expected[p]
        assert got.schema.metadata is None
        streamed = [r for b in shuffle.iter_partition(base, p, batch_rows=5) for r in b.to_pylist()]
        assert streamed == expected[p]
        holders = {r["key"].split("-")[0] for r in expected[p]}
        assert [Path(f).stem for f in shuffle.partition_files(base, p)] == sorted(
            "s" + h[1:] for h in holders
        )
        want = pa.array([r["key"] for r in expected[p][::3]] + ["absent"])
        assert shuffle.read_matching(base, p, "key", want, SCHEMA).to_pylist() == expected[p][::3]
    assert shuffle.read_partition(str(tmp_path / "none"), 0, SCHEMA).num_rows == 0


def test_big_partition_spans_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shuffle, "ROW_GROUP_ROWS", 7)
    parts = np.array([2] * 30 + [0] * 5 + [1] * 16)
    t = pa.table({"key": [str(i) for i in range(len(parts))], "n": np.arange(len(parts))}, schema=SCHEMA)
    shuffle.write_partitioned(str(tmp_path), "a", t, parts, 3)
    for p in range(3):
        want = [r for r, q in zip(t.to_pylist(), parts.tolist(), strict=True) if q == p]
        assert shuffle.read_partition(str(tmp_path), p, SCHEMA).to_pylist() == want


def test_partition_count_from_memory_budget(tmp_path: Path) -> None:
    assert shuffle.choose_partitions(1000, 100) == 10
    assert shuffle.choose_partitions(1000, 100, 3) == 3
    # 1e6 rows x 2 KiB x working set 3 over 256 MiB: 23 partitions, more than the row rule's 1
    assert shuffle.choose_partitions(10**6, 10**7, row_bytes=2048, partition_mb=256) == 23
    text = "sources: [{name: web, format: jsonl, paths: [x.jsonl]}]\nstages:\n  - %s\n"
    cfg = parse_config(text % "{type: minhash_dedup, partition_mb: 64}", "t.yaml", str(tmp_path))
    assert cfg.stage_configs()[0].partition_mb == 64
    with pytest.raises((ValidationError, ValueError)):
        parse_config(text % "{type: exact_dedup, partition_megabytes: 64}", "t.yaml", str(tmp_path))


def _corpus(sentences: dict[str, list[str]]) -> dict[str, list[Document]]:
    """40 shards; near-duplicate chains across shards, so MinHash runs label rounds."""
    en = " ".join(sentences["en"][:400]).split()
    shards: dict[str, list[Document]] = {}
    for s in range(SHARDS):
        docs = []
        for j in range(3):
            k = (s * 3 + j) % 30  # 30 base texts, each seen 4 times in different shards
            words = list(en[k * 60 : k * 60 + 60])
            words[(s * 7) % 60] = f"edit{s}"  # 1 word in 60 differs: Jaccard stays high
            docs.append(Document(f"d{s:02d}-{j}", " ".join(words), "web"))
        shards[f"s{s:02d}"] = docs
    return shards


def _files(work: Path) -> set[str]:
    return {
        str(Path(d, n).relative_to(work))
        for d, _, names in os.walk(work)
        if "_phases" not in Path(d).relative_to(work).parts
        for n in names
    }


def _run(tmp: Path, stage: str, shards: dict, workers: int, monkeypatch) -> tuple[dict[str, int], str]:
    counts: dict[str, int] = {}
    original = phases_mod.PhaseRunner.run

    def counting(self, name, items, *a, **k):  # type: ignore[no-untyped-def]
        work = Path(self.ctx.work_dir)
        before = _files(work)
        out = original(self, name, items, *a, **k)
        counts[f"{name}-{k.get('round')}"] = len(_files(work) - before)
        return out

    monkeypatch.setattr(phases_mod.PhaseRunner, "run", counting)
    ctx = run_stage(tmp, stage, shards, workers)
    digest = hashlib.sha256()
    for root in (ctx.stage_dir, ctx.rejected_dir):
        for f in sorted(Path(root).glob("*.parquet")):
            digest.update(f.name.encode() + f.read_bytes())
    return counts, digest.hexdigest()


@pytest.mark.parametrize("stage", ["minhash_dedup, verify: exact", "exact_dedup", "line_dedup"])
def test_files_per_phase_bounded(tmp_path: Path, sentences, ray_session, monkeypatch, stage) -> None:
    yaml = f"{{type: {stage}, name: d, partitions: {PARTS}}}"
    shards = _corpus(sentences)
    counts, two = _run(tmp_path / "w2", yaml, shards, 2, monkeypatch)
    assert counts and max(counts.values()) <= 2 * (SHARDS + PARTS), counts
    if stage.startswith("minhash"):
        assert any(k.startswith("labels-") for k in counts)  # the label rounds were exercised
        _, one = _run(tmp_path / "w1", yaml, shards, 1, monkeypatch)
        assert one == two
