"""WARC (HTML responses to text) and WET (conversion records) readers, on FastWARC.

A corrupt gzip member does not end the file: the reader quarantines it with its offset and the bytes
it cost (`pipeline/readers/loss.py`) and resumes at the next gzip member. A record whose body is shorter
than its Content-Length (a truncated file) is quarantined as `truncated_record`; a file with no WARC
record at all (random bytes, an image) is one `not_a_warc_file` row. Request, metadata and warcinfo
records are not documents: they are skipped by record type and never counted as input.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from fastwarc.warc import ArchiveIterator, WarcRecordType

from pipeline import storage
from pipeline.readers import loss, sniff
from pipeline.readers.html import ExtractionError, extract_text
from pipeline.readers.inputs import InputFile
from pipeline.readers.quarantine import quarantine, sized
from pipeline.schema import Document

GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_RESYNCS = 1000


def _next_member(f: IO[bytes], after: int) -> int | None:
    """Offset of the next gzip member header after `after`, scanning forward; None at end of file."""
    pos = after + 1
    f.seek(pos)
    tail = b""
    while chunk := f.read(1 << 20):
        buf = tail + chunk
        i = buf.find(GZIP_MAGIC)
        if i >= 0:
            return pos - len(tail) + i
        tail = buf[-2:]
        pos += len(chunk)
    return None


@dataclass
class _Lost:
    """A span [start, end) of the file that gave no record: a corrupt region, or the whole file."""

    start: int
    end: int
    error: str
    no_record: bool = False  # the file held no WARC record at all: it is not a WARC file


def _records(
    file: InputFile, record_types: WarcRecordType, parse_http: bool, skipped: Counter
) -> Iterator[tuple[Any, bytes] | _Lost]:
    """Yield (record, body bytes) of the wanted types, and a `_Lost` span per region that gave no record,
    resyncing at the next gzip member after a corrupt one.

    Every record type is iterated (the unwanted ones are skipped here), so that a file of requests and
    metadata still counts as a WARC file. A span ends where the next record starts, so bytes FastWARC
    passes over without a word (a corrupt head, a binary file) are a span too.
    """
    gz = file.path.endswith(".gz")
    recognised = 0
    with storage.open_input(file.path) as f:
        start = 0
        lost: _Lost | None = None  # the open span: it ends where the next record starts
        for _ in range(MAX_RESYNCS):
            f.seek(start)
            last, n_read, last_whole = start, 0, False
            try:
                # quirks_mode: ClueWeb09's WARC/0.18 ends header lines with a bare LF.
                records = ArchiveIterator(
                    f, record_types=WarcRecordType.any_type, parse_http=parse_http, quirks_mode=True
                )
                for rec in records:
                    last, last_whole = rec.stream_pos, False  # FastWARC's offsets are absolute
                    n_read += 1
                    recognised += 1
                    if lost is None and n_read == 1 and last > start:  # bytes skipped before it
                        lost = _Lost(start, start, f"no WARC record header at offset {start}")
                    if lost is not None:
                        lost.end = last
                        yield lost
                        lost = None
                    if rec.record_type & record_types:
                        body = rec.reader.read()
                        last_whole = True
                        yield rec, body
                if n_read:
                    break
                lost = lost or _Lost(start, start, f"no WARC record at offset {start}: {_head(f, start)}")
            except BaseException as exc:  # FastWARC's Rust panics derive from BaseException
                if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | storage.StorageError):
                    raise
                if lost is None:
                    # A record read whole is good: the damage starts at the member after it.
                    begin = (_next_member(f, last) or last) if last_whole else last
                    lost = _Lost(begin, begin, f"{type(exc).__name__}: {exc}")
            if not gz:
                break
            nxt = _next_member(f, last)
            if nxt is None:
                break
            skipped["resyncs"] += 1
            start = nxt
        if lost is not None:
            lost.end = storage.size(file.path)
            if not recognised:
                lost.error, lost.no_record = f"no WARC or ARC record in the file: {_head(f, 0)}", True
            if lost.end > lost.start:
                yield lost


def _head(f: IO[bytes], offset: int) -> str:
    """What the bytes at `offset` look like, for the error of a span with no WARC record."""
    f.seek(offset)
    return f"it starts with {sniff.describe(f.read(sniff.SNIFF_BYTES))}"


def _warc_meta(rec: Any, file: InputFile) -> dict[str, Any]:
    h = rec.headers
    meta = {
        "file": file.rel,
        "offset": rec.stream_pos,
        "warc_record_id": h.get("WARC-Record-ID"),
        "warc_date": h.get("WARC-Date"),
    }
    for key, name in (
        ("WARC-Identified-Content-Language", "content_language"),
        ("WARC-Refers-To", "refers_to"),
    ):
        if h.get(key):
            meta[name] = h.get(key)
    return meta


def _inline_http(body: bytes) -> tuple[int | None, str, str | None, bytes] | None:
    """Split an HTTP response block into status, content type, charset and body.

    Done here rather than by FastWARC because old files (ClueWeb09's WARC/0.18) end header lines with
    a bare LF, which FastWARC's parser reads as one endless header block.
    """
    if not body.startswith(b"HTTP/"):
        return None
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, rest = body.partition(sep)
        if found:
            break
    else:
        return None
    lines = head.decode("latin-1").splitlines()
    parts = lines[0].split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    ctype = headers.get("content-type", "")
    return status, ctype, _charset(ctype), rest


def _charset(content_type: str) -> str | None:
    parts = content_type.split(";")
    return next((p.split("=", 1)[1].strip() for p in parts if "charset=" in p.lower()), None)


def _target_uri(rec: Any) -> str | None:
    """WARC/1.0 writers may wrap the URI in angle brackets; the URL column never has them."""
    uri = rec.headers.get("WARC-Target-URI")
    return uri.strip().strip("<>") if uri else None


def _record_id(rec: Any, file: InputFile) -> str:
    rid = rec.headers.get("WARC-Record-ID")
    return rid.strip("<>") if rid else f"{file.rel}#offset:{rec.stream_pos}"


@dataclass
class _Whole:
    """A record whose body arrived complete, with what every document made from it needs."""

    body: bytes
    doc_id: str
    url: str | None
    meta: dict[str, Any]
    where: str
    content_type: str  # the WARC header's, before any HTTP headers are split off the body


def _whole_records(
    file: InputFile, record_types: WarcRecordType, parse_http: bool, skipped: Counter
) -> Iterator[_Whole | tuple[Document, str]]:
    """Complete records, or quarantined rows for unreadable spans and truncated records."""
    docs = bytes_gone = 0  # records of the wanted types so far; bytes of the spans lost so far
    for item in _records(file, record_types, parse_http, skipped):
        if isinstance(item, _Lost):
            yield _lost_row(file, item, docs, bytes_gone, skipped)
            bytes_gone += item.end - item.start
            continue
        rec, body = item
        docs += 1
        whole = _Whole(
            body,
            _record_id(rec, file),
            _target_uri(rec),
            _warc_meta(rec, file),
            f"offset:{rec.stream_pos}",
            rec.headers.get("Content-Type") or "",
        )
        if len(body) < rec.content_length:
            # The file ends inside this record: it was cut, and whatever followed is not in it.
            yield loss.lost(
                file,
                "truncated_record",
                where=whole.where,
                offset=rec.stream_pos,
                bytes_lost=max(storage.size(file.path) - rec.stream_pos, 0),
                records_lost_estimate=1,
                error=f"body has {len(body)} of {rec.content_length} bytes; the file ends inside it",
                skipped=skipped,
                metadata=whole.meta,
                doc_id=whole.doc_id,
                url=whole.url,
            )
            continue
        yield whole


def _lost_row(
    file: InputFile, span: _Lost, docs: int, bytes_gone: int, skipped: Counter
) -> tuple[Document, str]:
    """One row for a span that gave no record: `not_a_warc_file` when the file held none at all."""
    n = span.end - span.start
    if span.no_record:
        return loss.whole_file(file, "not_a_warc_file", size=n, cause=span.error, skipped=skipped)
    return loss.lost(
        file,
        "corrupt_record",
        where=f"offset:{span.start}",
        offset=span.start,
        bytes_lost=n,
        records_lost_estimate=loss.estimate_records(n, span.start - bytes_gone, docs),
        error=f"{span.error}; bytes {span.start}-{span.end} gave no record",
        skipped=skipped,
    )


def is_arc(path: str) -> bool:
    """ARC (the Internet Archive's format before WARC; Common Crawl 2008-2012): its first record's
    header line starts with `filedesc://`, gzipped or not."""
    with storage.open_input(path) as f:
        head = f.read(1 << 16)
    if head[:2] == GZIP_MAGIC[:2]:
        try:
            head = zlib.decompressobj(wbits=47).decompress(head, 64)
        except zlib.error:
            return False
    return head.lstrip().startswith(b"filedesc://")


ARC_HEADER = re.compile(rb"(\S+) (\S+) (\d{14}) (\S*) (\d+)")
"""An ARC v1 record header line: URL, IP, 14-digit date, MIME type, block length."""
ARC_HEADER_INSIDE = re.compile(rb"\n((?:https?://|ftp://|dns:|filedesc://)\S+ \S+ \d{14} \S* \d+)\r?\n")
MAX_ARC_LINE = 1 << 16


class _Lookahead:
    """A byte stream read in 1 MiB chunks with lines, exact reads, push-back and the current offset."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.buf, self.i, self.offset, self.eof = f, b"", 0, 0, False

    def _fill(self, n: int) -> None:
        """At least `n` unread bytes buffered, unless the stream ends first."""
        if len(self.buf) - self.i >= n or self.eof:
            return
        parts = [self.buf[self.i :]]
        have = len(parts[0])
        while have < n and not self.eof:
            chunk = self.f.read(max(1 << 20, n - have))
            self.eof = not chunk
            parts.append(chunk)
            have += len(chunk)
        self.buf, self.i = b"".join(parts), 0

    def line(self) -> bytes:
        """The next line with its newline (at most MAX_ARC_LINE bytes of it)."""
        self._fill(MAX_ARC_LINE)
        nl = self.buf.find(b"\n", self.i, self.i + MAX_ARC_LINE)
        return self.take(nl + 1 - self.i if nl >= 0 else MAX_ARC_LINE)

    def take(self, n: int) -> bytes:
        self._fill(n)
        data = self.buf[self.i : self.i + n]
        self.i += len(data)
        self.offset += len(data)
        return data

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self.buf[self.i : self.i + n]

    def push(self, data: bytes) -> None:
        self.buf, self.i = data + self.buf[self.i :], 0
        self.offset -= len(data)


def _arc_records(file: InputFile, skipped: Counter) -> Iterator[_Whole | tuple[Document, str]]:
    """ARC records (the format of Common Crawl 2008-2012 and the Internet Archive), plain or gzipped.

    Lengths in real ARC files are sometimes wrong; a record header found inside a block ends that
    block there, and lines that are no header are skipped until the next one, so a wrong length costs
    at most its own record. Ids are `file#offset:N` (offsets into the decompressed stream): ARC records
    have no id of their own.
    """
    with storage.open_input(file.path) as raw:
        gz = raw.read(2) == GZIP_MAGIC[:2]
        raw.seek(0)
        f: Any = gzip.GzipFile(fileobj=raw) if gz else raw
        stream = _Lookahead(f)
        docs = 0
        try:
            while line := stream.line():
                start = stream.offset - len(line)
                m = ARC_HEADER.fullmatch(line.rstrip(b"\r\n"))
                if m is None:
                    if line.strip():
                        skipped["arc_unparsed_lines"] += 1
                    continue
                url, _, date, mime, length = (g.decode("latin-1") for g in m.groups())
                block = stream.take(int(length))
                where = f"offset:{start}"
                # A header inside the block, or one the block ends in the middle of: the length is wrong.
                inside = ARC_HEADER_INSIDE.search(block + stream.peek(MAX_ARC_LINE))
                if inside is not None and inside.start(1) >= len(block):
                    inside = None
                if inside is not None:
                    stream.push(block[inside.start(1) :])
                    block = block[: inside.start(1)]
                    skipped["arc_wrong_length"] += 1
                if url.startswith(("filedesc:", "dns:")):
                    skipped["arc_" + url.split(":", 1)[0]] += 1
                    continue
                meta = {"file": file.rel, "offset": start, "arc_date": date}
                if len(block) < int(length) and inside is None:
                    at = _stored_offset(stream, raw.tell() if gz else None, start)
                    yield loss.lost(
                        file,
                        "truncated_record",
                        where=where,
                        offset=at,
                        bytes_lost=max(storage.size(file.path) - at, 0),
                        records_lost_estimate=1,
                        error=f"block has {len(block)} of {length} bytes; the file ends inside it",
                        skipped=skipped,
                        metadata=meta,
                        doc_id=f"{file.rel}#{where}",
                        url=url,
                    )
                    return
                docs += 1
                yield _Whole(block, f"{file.rel}#{where}", url, meta, where, mime)
        except (EOFError, OSError, zlib.error) as exc:
            if isinstance(exc, storage.StorageError):
                raise
            yield _arc_tail(file, exc, stream, raw.tell() if gz else None, docs, skipped)


def _stored_offset(stream: _Lookahead, raw_pos: int | None, offset: int) -> int:
    """The offset in the file as stored of `offset` in the decompressed stream: the same in a plain
    file; in a gzipped one, estimated from how far the decompressor had read (`raw_pos`) for the bytes
    it produced."""
    if raw_pos is None:
        return offset
    produced = stream.offset + len(stream.buf) - stream.i
    return raw_pos * offset // produced if produced else 0


def _arc_tail(
    file: InputFile, exc: BaseException, stream: _Lookahead, raw_pos: int | None, docs: int, skipped: Counter
) -> tuple[Document, str]:
    """The row for an ARC file's unreadable tail, from where reading stopped to the end of the file."""
    size = storage.size(file.path)
    at = min(_stored_offset(stream, raw_pos, stream.offset), size)
    return loss.lost(
        file,
        "corrupt_record",
        where=f"offset:{stream.offset}",
        offset=at,
        bytes_lost=size - at,
        records_lost_estimate=loss.estimate_records(size - at, at, docs),
        error=f"{type(exc).__name__}: {exc}; records after this point are unreadable",
        skipped=skipped,
    )


def read_warc(
    file: InputFile, cfg: Any, skipped: Counter | None = None
) -> Iterator[tuple[Document, str | None]]:
    """HTML response records to text documents (id = WARC-Record-ID; ARC files: file#offset)."""
    skipped = skipped if skipped is not None else Counter()
    types = WarcRecordType.response | WarcRecordType.resource
    arc = is_arc(file.path)
    records = _arc_records(file, skipped) if arc else _whole_records(file, types, False, skipped)
    for item in records:
        if isinstance(item, tuple):
            yield item
            continue
        body, doc_id, url, meta, where = item.body, item.doc_id, item.url, item.meta, item.where
        status, ctype, charset = None, item.content_type, None
        http = _inline_http(body)
        if http is not None:
            status, ctype, charset, body = http
        meta.update({"http_status": status, "content_type": ctype.split(";")[0].strip()})
        if status is not None and status != 200:
            yield quarantine(file, "http_status_not_200", where=where, doc_id=doc_id, url=url, metadata=meta)
            continue
        if "html" not in ctype.lower():
            yield quarantine(file, "not_html", where=where, doc_id=doc_id, url=url, metadata=meta)
            continue
        if len(body) > cfg.max_document_bytes:
            yield quarantine(
                file,
                "too_large",
                where=where,
                doc_id=doc_id,
                url=url,
                metadata=meta,
                error=f"{len(body)} bytes of HTML > max_document_bytes {cfg.max_document_bytes}",
            )
            continue
        try:
            text = extract_text(body, cfg.extractor, url=url, encoding_hint=charset)
        except ExtractionError as exc:
            yield quarantine(
                file, exc.reason, where=where, doc_id=doc_id, url=url, metadata=meta, error=str(exc)
            )
            continue
        if len(text.strip()) < max(cfg.min_text_chars, 1):
            yield quarantine(file, "empty_text", where=where, doc_id=doc_id, url=url, metadata=meta)
            continue
        yield sized(
            Document(id=doc_id, text=text, source=file.source, url=url, metadata=meta),
            file,
            cfg.max_document_bytes,
            where,
        )


def read_wet(
    file: InputFile, cfg: Any, skipped: Counter | None = None
) -> Iterator[tuple[Document, str | None]]:
    """WET conversion records (already text) to documents (id = the record's WARC-Record-ID)."""
    skipped = skipped if skipped is not None else Counter()
    for item in _whole_records(file, WarcRecordType.conversion, False, skipped):
        if isinstance(item, tuple):
            yield item
            continue
        body, doc_id, url, meta, where = item.body, item.doc_id, item.url, item.meta, item.where
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield quarantine(
                file,
                "invalid_utf8",
                where=where,
                doc_id=doc_id,
                url=url,
                metadata=meta,
                error=str(exc),
                text=body.decode("utf-8", "replace"),
            )
            continue
        if not text.strip():
            yield quarantine(file, "empty_text", where=where, doc_id=doc_id, url=url, metadata=meta)
            continue
        yield sized(
            Document(id=doc_id, text=text, source=file.source, url=url, metadata=meta),
            file,
            cfg.max_document_bytes,
            where,
        )
