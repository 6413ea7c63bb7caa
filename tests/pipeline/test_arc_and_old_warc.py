"""Real crawl files of older formats: ARC (Common Crawl 2008-2012, the Internet Archive) and ClueWeb09's
WARC/0.18 with bare-LF header lines; wrong ARC lengths cost at most their own record."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

import pytest

from pipeline.config import WarcSource
from pipeline.readers import InputFile, reader_for

HEADER = re.compile(rb"^(https?://|dns:|filedesc://|ftp://)\S+ \S+ \d{14} \S* \d+\r?$", re.M)


def _read(path: Path) -> tuple[list, Counter]:
    cfg = WarcSource(name="s", format="warc", paths=[str(path)])
    skipped: Counter = Counter()
    records = list(reader_for("warc")(InputFile("s", str(path), path.name, "x"), cfg, skipped))
    return records, skipped


def _arc_block(url: str, html: str) -> bytes:
    http = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>{html}</p></body></html>"
    data = http.encode()
    return f"{url} 10.0.0.1 20100106234911 text/html {len(data)}\n".encode() + data + b"\n"


def _arc(blocks: list[bytes]) -> bytes:
    desc = b"1 0 CommonCrawl\nURL IP-address Archive-date Content-type Archive-length\n"
    head = f"filedesc://x.arc 0.0.0.0 20100106234911 text/plain {len(desc)}\n".encode()
    return head + desc + b"\n" + b"".join(blocks)


PAGES = [(f"http://example.com/{i}", f"Page {i}: " + "a sentence of real words. " * 20) for i in range(3)]


@pytest.mark.parametrize("gzipped", [False, True])
def test_arc_records_become_documents(tmp_path: Path, gzipped: bool) -> None:
    data = _arc([_arc_block(u, t) for u, t in PAGES])
    path = tmp_path / ("a.arc.gz" if gzipped else "a.arc")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    records, skipped = _read(path)
    assert [r for _, r in records] == [None] * 3
    assert [d.url for d, _ in records] == [u for u, _ in PAGES]
    assert all(d.id.startswith(f"{path.name}#offset:") and "Page" in d.text for d, _ in records)
    assert skipped["arc_filedesc"] == 1


def test_a_wrong_arc_length_costs_at_most_its_record(tmp_path: Path) -> None:
    blocks = [_arc_block(u, t) for u, t in PAGES]
    # The first record claims 40 bytes more than it has (it runs into the next header), the second 40 fewer.
    too_long = re.sub(rb" (\d+)\n", lambda m: b" %d\n" % (int(m.group(1)) + 40), blocks[0], count=1)
    too_short = re.sub(rb" (\d+)\n", lambda m: b" %d\n" % (int(m.group(1)) - 40), blocks[1], count=1)
    path = tmp_path / "wrong.arc"
    path.write_bytes(_arc([too_long, too_short, blocks[2]]))
    records, skipped = _read(path)
    assert [d.url for d, _ in records] == [u for u, _ in PAGES]
    assert skipped["arc_wrong_length"] == 1


def test_truncated_arc(tmp_path: Path) -> None:
    data = _arc([_arc_block(u, t) for u, t in PAGES])
    path = tmp_path / "cut.arc"
    path.write_bytes(data[: len(data) - 200])
    reasons = Counter(r for _, r in _read(path)[0])
    assert reasons == Counter({None: 2, "truncated_record": 1})


def test_real_arc_files_every_record_accounted(shared_data: Path) -> None:
    root = shared_data / "cc_warc" / "more_real_web"
    files = sorted(root.glob("*/*.arc")) + sorted(root.glob("*/*.arc.gz"))
    assert len(files) == 3
    for path in files:
        raw = path.read_bytes()
        text = gzip.decompress(raw) if path.suffix == ".gz" else raw
        headers = len(HEADER.findall(text))
        records, skipped = _read(path)
        assert "corrupt_record" not in {r for _, r in records}, path
        assert len(records) + skipped["arc_filedesc"] + skipped["arc_dns"] == headers, path
        assert sum(r is None for _, r in records) >= 8


def test_clueweb09_bare_lf_headers(shared_data: Path) -> None:
    folder = shared_data / "cc_warc" / "more_real_web" / "chatnoir-eu__chatnoir-copycat"
    path = folder / "clueweb09-en0000-00.warc.gz"
    records, _ = _read(path)
    reasons = Counter(r for _, r in records)
    assert "corrupt_record" not in reasons and reasons[None] >= 20
