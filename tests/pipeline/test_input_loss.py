"""Loss is counted, never hidden: a cut or corrupt file keeps what was readable and is one row that says
what it cost; a binary file is one row, never nothing; the manifest and the CLI say the run lost input;
a stage that is mostly errors stops the run."""

from __future__ import annotations

import gzip
import io
import json
import random
import struct
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from pipeline.ceiling import ErrorCeilingExceeded, check, is_error
from pipeline.cli import main
from pipeline.config import ConfigError, JsonlSource, WarcSource, WetSource, parse_config
from pipeline.readers import InputFile, reader_for
from pipeline.schema import Document, rejected_to_table
from pipeline.shards import ShardWriter, load_stats

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
JSONL = [SAMPLE / "multilingual" / "lingua_docs.jsonl", *sorted((SAMPLE / "en").glob("*.jsonl"))]
WARC_GZ = SAMPLE / "commoncrawl" / "resiliparse__warcfile.warc.gz"


def _read(fmt: str, path: Path) -> tuple[list, Counter]:
    kinds = {"warc": WarcSource, "wet": WetSource, "jsonl": JsonlSource}
    cfg = kinds[fmt](name="s", format=fmt, paths=[str(path)])
    skipped: Counter = Counter()
    return list(reader_for(fmt)(InputFile("s", str(path), path.name, "x"), cfg, skipped)), skipped


def _sample_body() -> bytes:
    return b"".join(p.read_bytes() for p in JSONL)


def _ids(lines: bytes) -> list[str]:
    """Ids of the complete lines of a decoded prefix (what a reader must keep)."""
    return [json.loads(line)["id"] for line in lines.split(b"\n")[:-1]]


def _assert_tail_row(records: list, skipped: Counter, size: int) -> dict:
    """The damage is the last row, one row, and its figures are what the counter sums."""
    reasons = [r for _, r in records if r]
    assert reasons == ["corrupt_compression"] and records[-1][1] == "corrupt_compression"
    meta = records[-1][0].metadata
    assert 0 <= meta["offset"] <= size and meta["bytes_lost"] == size - meta["offset"]
    assert "truncated" in meta["error"] or "Error" in meta["error"]
    assert skipped == Counter(
        files_with_loss=1, bytes_lost=meta["bytes_lost"], records_lost_estimate=meta["records_lost_estimate"]
    )
    return meta


def test_half_a_jsonl_gz_keeps_every_line_decoded_before_the_cut(tmp_path: Path) -> None:
    body = _sample_body()
    packed = gzip.compress(body)
    cut = packed[: len(packed) // 2]
    p = tmp_path / "half.jsonl.gz"
    p.write_bytes(cut)
    readable = zlib.decompressobj(wbits=47).decompress(cut)  # all that any decoder gets out of it
    records, skipped = _read("jsonl", p)
    kept = [d.id for d, r in records if r is None]
    assert kept == _ids(readable) and len(kept) > 30
    meta = _assert_tail_row(records, skipped, len(cut))
    assert records[-1][0].metadata["where"] == f"line:{len(kept) + 1}"
    # The partial line at the cut is in the file and lost; what was cut off is not in the file at all.
    assert 0 < meta["bytes_lost"] < len(cut) // 4 and meta["records_lost_estimate"] >= 1


def test_half_a_jsonl_zst_keeps_every_block_decoded_before_the_cut(tmp_path: Path) -> None:
    # zstd decodes whole 128 KiB blocks: English first, so that half the file holds a whole one.
    body = b"".join(p.read_bytes() for p in [*JSONL[1:], JSONL[0]])
    packed = zstandard.ZstdCompressor().compress(body)
    cut = packed[: len(packed) // 2]
    p = tmp_path / "half.jsonl.zst"
    p.write_bytes(cut)
    readable = zstandard.ZstdDecompressor().decompressobj().decompress(cut)
    records, skipped = _read("jsonl", p)
    kept = [d.id for d, r in records if r is None]
    assert kept == _ids(readable) and len(kept) >= 10
    meta = _assert_tail_row(records, skipped, len(cut))
    assert meta["bytes_lost"] > 0 and meta["records_lost_estimate"] >= 1


def test_a_corrupt_gzip_member_ends_the_file_with_an_estimate_of_what_followed(tmp_path: Path) -> None:
    """Two gzip members with a damaged header between them: the first member's lines are kept, and the
    rest of the file is one row whose estimate, at the mean compressed size of the lines read, is about
    the lines that were there (for documents of one kind). Garbage inside a deflate stream often
    decodes as valid codes and zlib finds it only at the member's CRC: those lines are rejected one by
    one."""
    lines = b"".join(p.read_bytes() for p in JSONL[1:]).split(b"\n")[:-1]  # 20 CC English documents
    head, rest = b"".join(x + b"\n" for x in lines[:8]), b"".join(x + b"\n" for x in lines[8:])
    first = gzip.compress(head)
    packed = first + random.Random(7).randbytes(200) + gzip.compress(rest)
    p = tmp_path / "bad.jsonl.gz"
    p.write_bytes(packed)
    records, skipped = _read("jsonl", p)
    assert [d.id for d, r in records if r is None] == _ids(head)
    meta = _assert_tail_row(records, skipped, len(packed))
    assert meta["offset"] <= len(first) and meta["bytes_lost"] >= len(packed) - len(first)
    assert "incorrect header check" in meta["error"]
    assert len(lines[8:]) / 2 <= meta["records_lost_estimate"] <= 2 * len(lines[8:])


def _png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(JSONL[0], JSONL[0].name)
    return buf.getvalue()


BINARIES = {"random": lambda: random.Random(0).randbytes(50_000), "png": _png, "zip": _zip}


@pytest.mark.parametrize("kind", sorted(BINARIES))
@pytest.mark.parametrize(
    ("fmt", "name", "reason"),
    [
        ("jsonl", "x.jsonl", "not_jsonl"),
        ("warc", "x.warc", "not_a_warc_file"),
        ("warc", "x.warc.gz", "not_a_warc_file"),
        ("wet", "x.warc.wet.gz", "not_a_warc_file"),
    ],
)
def test_a_binary_file_is_one_row_with_its_size(
    tmp_path: Path, kind: str, fmt: str, name: str, reason: str
) -> None:
    data = BINARIES[kind]()
    p = tmp_path / name
    p.write_bytes(data)
    records, skipped = _read(fmt, p)
    assert [r for _, r in records] == [reason]
    meta = records[0][0].metadata
    assert meta["bytes_lost"] == len(data) and meta["records_lost_estimate"] == 0 and meta["offset"] == 0
    expected = {"random": "binary data", "png": "PNG image", "zip": "ZIP archive"}[kind]
    assert expected in meta["error"]
    assert skipped == Counter(files_with_loss=1, bytes_lost=len(data), records_lost_estimate=0)


def test_a_zeroed_block_inside_a_jsonl_file_costs_only_its_line(tmp_path: Path) -> None:
    lines = JSONL[1].read_bytes().split(b"\n")
    p = tmp_path / "x.jsonl"
    p.write_bytes(b"\n".join([lines[0], b"\0" * 4000, *lines[1:]]))
    records, skipped = _read("jsonl", p)
    assert Counter(r or "ok" for _, r in records) == Counter(ok=10, invalid_json=1)
    assert not skipped


def test_a_warc_gz_with_a_destroyed_head_reads_the_members_after_it(tmp_path: Path) -> None:
    data = WARC_GZ.read_bytes()
    members, pos = [], 0
    while pos < len(data):
        members.append(pos)
        d = zlib.decompressobj(wbits=31)
        d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)
    p = tmp_path / "head.warc.gz"
    p.write_bytes(b"\0" * 5000 + data[5000:])
    records, skipped = _read("warc", p)
    reasons = Counter(r or "ok" for _, r in records)
    assert reasons["corrupt_record"] == 1 and reasons["ok"] >= 13
    bad = next(d for d, r in records if r == "corrupt_record")
    first_good = min(m for m in members if m >= 5000)
    assert bad.metadata["offset"] == 0 and bad.metadata["bytes_lost"] == first_good
    assert skipped["bytes_lost"] == first_good and skipped["files_with_loss"] == 1


def test_an_empty_file_is_no_row_and_no_loss(tmp_path: Path) -> None:
    for name, fmt in (("e.warc.gz", "warc"), ("e.jsonl.gz", "jsonl"), ("e.jsonl", "jsonl")):
        (tmp_path / name).write_bytes(b"")
        assert _read(fmt, tmp_path / name) == ([], Counter())


# ---------------------------------------------------------------- the error ceiling, without Ray


def _stage_with(tmp_path: Path, reasons: list[str | None]) -> tuple[dict, str]:
    """A document stage's shard stats and rejected rows, written as the runner writes them."""
    stage_dir, rejected = str(tmp_path / "03_lang"), str(tmp_path / "rejected" / "03_lang")
    writer = ShardWriter(stage_dir, "s1", target_bytes=1 << 20, rejected_dirs={"lang": rejected})
    drop, why = [], []
    for i, r in enumerate(reasons):
        writer.tally.seen("lang", "web")
        if r is None:
            writer.tally.kept("lang", "web")
        else:
            writer.tally.rejected("lang", "web", r)
            drop.append(Document(id=f"doc-{i}", text="t", source="web"))
            why.append(r)
    writer.reject("lang", rejected_to_table(drop, "lang", why))
    writer.finish()
    return load_stats(stage_dir), rejected


def test_error_ceiling_counts_errors_not_filter_rejections(tmp_path: Path) -> None:
    assert is_error("read", "corrupt_compression") and is_error("read", "html_decode_error")
    assert not is_error("read", "not_html") and not is_error("read", "empty_text")
    assert is_error("document", "error") and not is_error("document", "language_low_score")
    reasons = ["language_low_score"] * 5 + [None] * 3 + ["error"] * 2  # 2 errors of 10
    stats, rejected = _stage_with(tmp_path, reasons)
    check(stats, "lang", "document", rejected, 0.2, "03 'lang'")  # at the ceiling: goes on
    with pytest.raises(ErrorCeilingExceeded) as err:
        check(stats, "lang", "document", rejected, 0.1, "03 'lang'")
    assert str(err.value) == (
        "stage 03 'lang' quarantined 2 of its 10 input documents as errors (20.0%), "
        "more than max_error_fraction 0.1; the first: error in document 'doc-8'"
    )


def test_max_error_fraction_is_a_checked_top_level_key() -> None:
    base = "sources: [{name: web, format: jsonl, paths: [x.jsonl]}]\n"
    assert parse_config(base, "c.yaml").max_error_fraction == 0.1
    assert parse_config(base + "max_error_fraction: 0.5\n", "c.yaml").max_error_fraction == 0.5
    with pytest.raises(ConfigError, match=r"c\.yaml:2: max_error_fraction"):
        parse_config(base + "max_error_fraction: 1.5\n", "c.yaml")


# ---------------------------------------------------------------- whole runs (the shared Ray session)


def test_a_run_that_lost_input_says_so(ray_session, tmp_path: Path, capsys) -> None:
    (tmp_path / "en").mkdir()
    for path in JSONL[1:]:
        (tmp_path / "en" / path.name).write_bytes(path.read_bytes())
    packed = gzip.compress(JSONL[0].read_bytes())
    (tmp_path / "half.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    (tmp_path / "blob.warc.gz").write_bytes(_png())
    (tmp_path / "c.yaml").write_text(
        "name: lossy\n"
        "sources:\n"
        "  - {name: web, format: jsonl, paths: [en/*.jsonl, half.jsonl.gz]}\n"
        "  - {name: crawl, format: warc, paths: [blob.warc.gz]}\n"
        "stages: []\n"
    )
    run_dir = tmp_path / "run"
    assert main(["run", str(tmp_path / "c.yaml"), "--output", str(run_dir), "--no-report"]) == 0
    out = capsys.readouterr().out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    lost = manifest["input_lost"]
    half = next(f for f in lost["by_file"] if f["path"] == "half.jsonl.gz")
    assert [f["path"] for f in lost["by_file"]] == ["blob.warc.gz", "half.jsonl.gz"]
    assert lost["files"] == 2 and lost["bytes"] == len(_png()) + half["bytes"]
    assert lost["records_estimate"] == half["records_estimate"] >= 1
    read = manifest["stages"][0]
    assert read["balanced"] and manifest["errors"] == []
    assert read["sources"]["web"]["rejected"] == {"corrupt_compression": 1}
    assert read["sources"]["crawl"] == {"in": 1, "out": 0, "rejected": {"not_a_warc_file": 1}}
    assert read["counters"]["skipped_bytes_lost"] == lost["bytes"]
    assert read["counters"]["skipped_files_with_loss"] == 2
    n = lost["records_estimate"]
    summary = f"2 files, {lost['bytes']} bytes, ~{n} record" + ("s" if n != 1 else "")
    assert f"counts add up: yes; errors: 0; input lost: {summary}" in out
    assert f"WARNING: this run lost input: {summary} could not be read" in out


def test_a_stage_over_the_error_ceiling_fails_the_run_after_it(ray_session, tmp_path: Path, capsys) -> None:
    """A wrong text_field makes every document an error: the run stops after the read stage with one
    line, exit 1; a rerun with a higher ceiling resumes from the finished read stage."""
    config = (
        "name: wrong-field\n"
        f"sources: [{{name: web, format: jsonl, paths: ['{SAMPLE}/en/*.jsonl'], text_field: body}}]\n"
        "stages: [{type: c4_quality}]\n"
    )
    (tmp_path / "c.yaml").write_text(config)
    run_dir = tmp_path / "run"
    args = ["run", str(tmp_path / "c.yaml"), "--output", str(run_dir), "--no-report"]
    assert main(args) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("winnow:")]
    first_id = json.loads(sorted((SAMPLE / "en").glob("*.jsonl"))[0].read_text().splitlines()[0])["id"]
    assert err == [
        "winnow: stage 00 'read' quarantined 20 of its 20 input documents as errors (100.0%), more than "
        f"max_error_fraction 0.1; the first: missing_text_field in document {first_id!r}"
    ]
    assert not (run_dir / "manifest.json").exists() and not (run_dir / "01_c4_quality").exists()
    (tmp_path / "c.yaml").write_text(config + "max_error_fraction: 1\n")
    assert main(args) == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"][0]["sources"]["web"]["rejected"] == {"missing_text_field": 20}
    assert manifest["input_lost"]["files"] == 0
