"""Readers on real Common Crawl / web data, and every kind of bad input: quarantined, never raised."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline.config import JsonlSource, ParquetSource, TextSource, WarcSource, WetSource
from pipeline.readers import InputError, InputFile, expand_source, reader_for
from pipeline.readers.inputs import shard_id_for

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _read(fmt: str, path: Path, **kw) -> list:
    kinds = {
        "warc": WarcSource,
        "wet": WetSource,
        "jsonl": JsonlSource,
        "parquet": ParquetSource,
        "text": TextSource,
    }
    cfg = kinds[fmt](name="s", format=fmt, paths=[str(path)], **kw)
    return list(reader_for(fmt)(InputFile("s", str(path), path.name, "x"), cfg))


def _reasons(records: list) -> Counter:
    return Counter(r or "ok" for _, r in records)


def test_common_crawl_warc_gives_text_documents_with_record_ids() -> None:
    recs = _read("warc", SAMPLE / "commoncrawl" / "resiliparse__warcfile.warc.gz")
    reasons = _reasons(recs)
    assert reasons["ok"] >= 15 and sum(reasons.values()) == 16  # 16 HTML responses; a page may be empty
    assert set(reasons) <= {"ok", "empty_text"}
    doc = recs[0][0]
    assert doc.id.startswith("urn:uuid:") and doc.url and doc.text.strip()
    assert doc.metadata["warc_date"].startswith("2020-")


def test_truncated_warc_record_is_quarantined() -> None:
    recs = _read("warc", SAMPLE / "web" / "resiliparse__clipped.warc.gz")
    assert _reasons(recs) == Counter(truncated_record=1)
    assert "bytes" in recs[0][0].metadata["error"]


def test_corrupt_gzip_member_is_quarantined_and_reading_resumes(tmp_path: Path) -> None:
    data = (SAMPLE / "commoncrawl" / "resiliparse__warcfile.warc.gz").read_bytes()
    bad = tmp_path / "bad.warc.gz"
    bad.write_bytes(data[:50_000] + b"\0" * 300 + data[50_300:])
    reasons = _reasons(_read("warc", bad))
    assert reasons["corrupt_record"] == 1
    assert reasons["ok"] >= 14  # only the records inside the damaged member are lost


def test_wet_conversion_records() -> None:
    recs = _read("wet", SAMPLE / "commoncrawl" / "whirlwind__whirlwind.warc.wet.gz")
    assert _reasons(recs) == Counter(ok=1)
    assert recs[0][0].metadata["content_language"] == "spa"


def test_jsonl_bad_lines_are_quarantined_with_reasons(tmp_path: Path) -> None:
    lines = [
        b'{"text": "good", "id": 1}',
        b'{"text": "bad \xff utf8"}',
        b"not json",
        b'{"body": "x"}',
        b'{"text": ""}',
        b'{"text": "also good"}',
    ]
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    recs = _read("jsonl", p)
    assert [r for _, r in recs] == [
        None,
        "invalid_utf8",
        "invalid_json",
        "missing_text_field",
        "empty_text",
        None,
    ]
    assert recs[0][0].id == "1" and recs[5][0].id == "x.jsonl:6"
    assert recs[2][0].metadata["where"] == "line:3"


def test_a_100_mb_document_is_quarantined_without_holding_it(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    with p.open("wb") as f:
        f.write(b'{"text": "small"}\n{"text": "')
        for _ in range(100):
            f.write(b"a" * 1_000_000)
        f.write(b'"}\n{"text": "after"}\n')
    recs = _read("jsonl", p, max_document_bytes=10_000_000)
    assert [r for _, r in recs] == [None, "too_large", None]
    assert len(recs[1][0].text) <= 65_536


def test_truncated_gzip_keeps_lines_before_the_break(tmp_path: Path) -> None:
    body = b"\n".join(b'{"text": "line %d"}' % i for i in range(5000))
    g = gzip.compress(body)
    p = tmp_path / "t.jsonl.gz"
    p.write_bytes(g[: len(g) // 2])
    reasons = _reasons(_read("jsonl", p))
    assert reasons["corrupt_compression"] == 1 and reasons["ok"] > 1000


def test_zstd_and_multi_member_gzip(tmp_path: Path) -> None:
    body = b"\n".join(b'{"text": "line %d"}' % i for i in range(100)) + b"\n"
    (tmp_path / "a.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(body[:50]) + gzip.compress(body[50:]))
    assert _reasons(_read("jsonl", tmp_path / "a.jsonl.zst")) == Counter(ok=100)
    assert _reasons(_read("jsonl", tmp_path / "b.jsonl.gz")) == Counter(ok=100)


def test_empty_file_gives_no_records(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert _read("jsonl", tmp_path / "e.jsonl") == []


def test_malformed_parquet_is_quarantined(tmp_path: Path) -> None:
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1 this is not parquet")
    assert _reasons(_read("parquet", p)) == Counter(unreadable_file=1)


def test_parquet_text_column(tmp_path: Path) -> None:
    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["hello", "world"], "url": [None, "http://x"]}), p)
    recs = _read("parquet", p)
    assert [(d.id, d.text, d.url, r) for d, r in recs] == [
        ("a", "hello", None, None),
        ("b", "world", "http://x", None),
    ]


def test_missing_path_is_an_error_before_work(tmp_path: Path) -> None:
    src = JsonlSource(name="s", format="jsonl", paths=[str(tmp_path / "nope.jsonl")])
    with pytest.raises(InputError, match="does not exist"):
        expand_source(src)
    src = JsonlSource(name="s", format="jsonl", paths=[str(tmp_path / "*.jsonl")])
    with pytest.raises(InputError, match="matched no files"):
        expand_source(src)


def test_shard_ids_come_from_relative_paths_not_order(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.jsonl"):
        (tmp_path / name).write_text(json.dumps({"text": "x"}) + "\n")
    files = expand_source(JsonlSource(name="s", format="jsonl", paths=[str(tmp_path / "*.jsonl")]))
    assert [f.rel for f in files] == ["a.jsonl", "b.jsonl"]
    assert files[0].shard_id == shard_id_for("s", "a.jsonl")


def test_common_crawl_paths_listing(tmp_path: Path) -> None:
    (tmp_path / "crawl-data").mkdir()
    (tmp_path / "crawl-data" / "x.jsonl").write_text('{"text": "hi"}\n')
    listing = tmp_path / "wet.paths.gz"
    listing.write_bytes(gzip.compress(b"crawl-data/x.jsonl\n"))
    files = expand_source(
        JsonlSource(name="s", format="jsonl", paths=[str(listing)], listing_prefix=str(tmp_path))
    )
    assert [f.rel for f in files] == ["crawl-data/x.jsonl"]
    assert Path(files[0].path).is_file()


def test_warc_target_uri_in_angle_brackets_is_unwrapped(tmp_path: Path) -> None:
    """WARC/1.0 files from some writers wrap WARC-Target-URI in <>; url must be the bare URL."""
    html = b"<html><body><p>" + b"Hello there, this is a page. " * 20 + b"</p></body></html>"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + html
    rec = (
        b"WARC/1.0\r\nWARC-Type: response\r\n"
        b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
        b"WARC-Target-URI: <http://example.com/page>\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        b"Content-Type: application/http; msgtype=response\r\nContent-Length: "
        + str(len(http)).encode()
        + b"\r\n\r\n"
        + http
        + b"\r\n\r\n"
    )
    p = tmp_path / "x.warc.gz"
    p.write_bytes(gzip.compress(rec))
    recs = _read("warc", p, extractor="resiliparse")
    assert [(d.url, r) for d, r in recs] == [("http://example.com/page", None)]


def test_text_files_are_one_document_each(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9")
    (tmp_path / "empty.txt").write_text("  \n")
    assert [(d.id, r) for d, r in _read("text", tmp_path / "a.py")] == [("a.py", None)]
    assert [r for _, r in _read("text", tmp_path / "bad.txt")] == ["invalid_utf8"]
    assert [r for _, r in _read("text", tmp_path / "empty.txt")] == ["empty_text"]


def test_a_damaged_parquet_row_group_costs_only_its_rows(tmp_path: Path) -> None:
    """300 rows in 3 row groups, the middle one overwritten: 200 documents, and one row that says 100
    rows were lost (counted as skipped_rows_lost in the manifest)."""
    p = tmp_path / "d.parquet"
    words = [f"document {i} " + "with some words of text " * 30 for i in range(300)]
    pq.write_table(
        pa.table({"id": [str(i) for i in range(300)], "text": words}),
        p,
        row_group_size=100,
        compression="snappy",
    )
    meta = pq.ParquetFile(p).metadata.row_group(1)
    col = meta.column(1)  # text
    data = bytearray(p.read_bytes())
    begin = min(o for o in (col.dictionary_page_offset, col.data_page_offset) if o is not None) + 40
    data[begin : begin + col.total_compressed_size - 80] = b"\xff" * (col.total_compressed_size - 80)
    p.write_bytes(bytes(data))
    cfg = ParquetSource(name="s", format="parquet", paths=[str(p)])
    skipped: Counter = Counter()
    records = list(reader_for("parquet")(InputFile("s", str(p), p.name, "x"), cfg, skipped))
    reasons = _reasons(records)
    assert reasons == Counter(ok=200, unreadable_row_group=1)
    bad = next(d for d, r in records if r)
    assert bad.metadata["row_group"] == 1 and bad.metadata["rows_lost"] == 100
    assert skipped["rows_lost"] == 100
    assert bad.metadata["records_lost_estimate"] == 100 and 0 < bad.metadata["bytes_lost"] < p.stat().st_size
    assert skipped["records_lost_estimate"] == 100 and skipped["files_with_loss"] == 1
    assert [d.id for d, r in records if not r][100] == "200"  # later groups keep their row numbers
