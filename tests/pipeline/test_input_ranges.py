"""Large inputs are read as several shards: raw JSON Lines by line ranges, Parquet by row groups.

Every line (row) is read by exactly one range, in file order, whatever the cut points; compressed files
stay whole; what concerns the whole file (not text, no text column) is said once; a run with ranges
gives the same documents in the same order as a run without.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import JsonlSource, ParquetSource, parse_config
from pipeline.readers import InputFile, expand_source, reader_for
from pipeline.readers.inputs import split_file
from pipeline.runner import run
from pipeline.shards import file_digest, load_stats, shard_files

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _lines(n: int, seed: int = 0) -> list[bytes]:
    """Real text lines of very different lengths (a few over the document limit), some blank."""
    texts = [
        json.loads(line)["text"]
        for path in sorted((SAMPLE / "en").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.05:
            out.append(b"\n")
            continue
        text = rng.choice(texts)[: rng.choice([5, 80, 600, 4000, 20000])]
        out.append(json.dumps({"id": f"d{i}", "text": text}).encode() + b"\n")
    return out


def _read(fmt: str, file: InputFile, **cfg: object) -> list:
    kinds = {"jsonl": JsonlSource, "parquet": ParquetSource}
    src = kinds[fmt](name="s", format=fmt, paths=[file.path], **cfg)
    return list(reader_for(fmt)(file, src, Counter()))


def _whole(path: Path) -> InputFile:
    return InputFile("s", str(path), path.name, "s-x")


@pytest.mark.parametrize("shard_bytes", [53, 700, 4096, 65537, 10**6])
def test_jsonl_ranges_read_every_line_once_in_order(tmp_path: Path, shard_bytes: int) -> None:
    path = tmp_path / "big.jsonl"
    lines = _lines(120)
    path.write_bytes(b"".join(lines)[:-1])  # the last line has no newline
    whole = _read("jsonl", _whole(path), max_document_bytes=10_000)
    parts = split_file(_whole(path), path.stat().st_size, shard_bytes)
    assert len(parts) == -(-path.stat().st_size // shard_bytes)
    ranged = [rec for part in parts for rec in _read("jsonl", part, max_document_bytes=10_000)]
    assert [(d.text, r) for d, r in ranged] == [(d.text, r) for d, r in whole]
    assert Counter(r for _, r in whole)["too_large"] > 0  # long lines cut by ranges are still one row
    if len(parts) > 1:  # inside a range a line is named by its byte offset, which is where it starts
        body = path.read_bytes()
        for doc, reason in ranged:
            offset = int(doc.metadata["where"].split(":")[1])
            assert body[offset - 1 : offset] in (b"", b"\n")
            if reason is None:
                assert json.loads(body[offset:].split(b"\n", 1)[0])["text"] == doc.text


def test_a_boundary_on_a_line_start_gives_that_line_to_the_next_range(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    first = json.dumps({"id": "a", "text": "first line"}).encode() + b"\n"
    second = json.dumps({"id": "b", "text": "second line"}).encode() + b"\n"
    path.write_bytes(first + second)
    a = InputFile("s", str(path), "two.jsonl", "x-p0", 0, len(first))
    b = InputFile("s", str(path), "two.jsonl", "x-p1", len(first), len(first + second))
    assert [d.id for d, _ in _read("jsonl", a)] == ["a"]
    assert [d.id for d, _ in _read("jsonl", b)] == ["b"]


def test_a_binary_file_in_ranges_is_one_row(tmp_path: Path) -> None:
    path = tmp_path / "image.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    parts = split_file(_whole(path), path.stat().st_size, 1000)
    rows = [r for part in parts for _, r in _read("jsonl", part)]
    assert len(parts) > 3 and rows == ["not_jsonl"]


def test_parquet_ranges_read_each_row_group_once(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    texts = [line.decode() for line in _lines(400, seed=1) if line.strip()]
    table = pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts})
    pq.write_table(table, path, row_group_size=25)
    whole = _read("parquet", _whole(path))
    for shard_bytes in (20_000, 100_000, 10**7):
        parts = split_file(_whole(path), path.stat().st_size, shard_bytes)
        ranged = [rec for part in parts for rec in _read("parquet", part)]
        assert [(d.id, d.text, d.metadata["where"]) for d, _ in ranged] == [
            (d.id, d.text, d.metadata["where"]) for d, _ in whole
        ]


def test_a_parquet_file_without_the_text_column_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"body": ["x" * 500] * 400}), path, row_group_size=20)
    parts = split_file(_whole(path), path.stat().st_size, 500)
    assert len(parts) > 2
    assert [r for part in parts for _, r in _read("parquet", part)] == ["missing_text_field"]


def test_only_raw_jsonl_and_parquet_are_split(tmp_path: Path) -> None:
    body = b"".join(_lines(1500))
    (tmp_path / "raw.jsonl").write_bytes(body)
    (tmp_path / "packed.jsonl.gz").write_bytes(gzip.compress(body, mtime=0))
    big = len(body) // (1 << 20) + 1
    src = JsonlSource(name="w", format="jsonl", paths=[f"{tmp_path}/*.jsonl*"], shard_mb=1)
    ids = [f.shard_id for f in expand_source(src)]
    assert len(body) > 1 << 20 and len(ids) == 1 + big  # the .gz is one shard however large
    assert ids == sorted(ids)  # ranges sort in file order
    src = JsonlSource(name="w", format="jsonl", paths=[f"{tmp_path}/*.jsonl*"], shard_mb=None)
    assert len(expand_source(src)) == 2


def test_range_digests_add_up_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(_lines(100)))
    parts = split_file(_whole(path), path.stat().st_size, 3000)
    assert sum(file_digest(str(path), p.start, p.end)["bytes"] for p in parts) == path.stat().st_size
    assert file_digest(str(path), 0, None) == file_digest(str(path))


def test_a_run_with_ranges_keeps_every_document_in_file_order(ray_session, tmp_path: Path) -> None:
    """A 2.6 MB JSONL with shard_mb 1: three read shards, in parallel; the same texts in the same
    order as one shard; the manifest lists the three ranges, which add up to the file."""
    path = tmp_path / "big.jsonl"
    lines = _lines(900, seed=2)
    while sum(map(len, lines)) < 2_600_000:
        lines += _lines(300, seed=len(lines))
    lines = [json.dumps({**json.loads(x), "id": None}).encode() + b"\n" if x.strip() else x for x in lines]
    path.write_bytes(b"".join(lines))
    texts = {}
    for shard_mb in ("1", "null"):
        source = f"{{name: web, format: jsonl, paths: ['{path}'], shard_mb: {shard_mb}}}"
        config = parse_config(f"name: ranges\nsources: [{source}]\nstages: []\n")
        out = tmp_path / f"run-{shard_mb}"
        manifest = run(config, str(out))
        assert all(s["balanced"] for s in manifest["stages"])
        final = out / manifest["final_dir"]
        shards = shard_files(str(final))
        texts[shard_mb] = [
            t for s in sorted(shards) for f in shards[s] for t in pq.read_table(f)["text"].to_pylist()
        ]
        inputs = manifest["inputs"]
        if shard_mb == "1":
            assert len(load_stats(str(out / "00_read"))) == 3 == len(inputs)
            assert [i["start"] for i in inputs] == sorted(i["start"] for i in inputs)
            assert sum(i["bytes"] for i in inputs) == path.stat().st_size
        else:
            assert len(inputs) == 1 and "start" not in inputs[0]
    assert texts["1"] == texts["null"] and len(texts["1"]) > 500
