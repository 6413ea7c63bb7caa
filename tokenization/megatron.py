"""Megatron-LM's indexed dataset (`<prefix>.bin` + `<prefix>.idx`), written and checked without torch.

Layout (megatron-core 0.16.1, `megatron/core/datasets/indexed_dataset.py`):
- `.bin`: every sequence's token ids back to back, in the index's dtype;
- `.idx`: `MMIDIDX\\x00\\x00`, version 1 (uint64 LE), dtype code (uint8), sequence count S (uint64),
  document count D+1 (uint64), S int32 lengths, S int64 byte pointers, D+1 int64 document indices.
winnow writes one sequence per document (Megatron's preprocess tool without sentence splitting), so the
document indices are 0..S. The writer streams: tokens go straight to `.bin` and lengths to a side file,
and the index is assembled chunk by chunk at the end, so memory stays flat whatever the corpus size.
Megatron's own reader checks only the header and the last document index; `check()` is what catches a
truncated `.bin`, an empty dataset or an out-of-range token before a training job does.
A prefix may be local or on object storage (s3://...): local files are memory-mapped, remote ones read
by byte ranges; megatron-core reads the same layout from S3 (`ObjectStorageConfig`).
"""

from __future__ import annotations

import argparse
import os
import struct
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline import storage

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER_BYTES = len(MAGIC) + 8 + 1 + 8 + 8  # 34

# megatron.core.datasets.indexed_dataset.DType (0.16.1): name -> code.
DTYPE_CODES: dict[type[np.number], int] = {
    np.uint8: 1,
    np.int8: 2,
    np.int16: 3,
    np.int32: 4,
    np.int64: 5,
    np.float64: 6,
    np.float32: 7,
    np.uint16: 8,
}
CODE_DTYPES = {code: np.dtype(t) for t, code in DTYPE_CODES.items()}

CHUNK = 1 << 20  # elements per streamed chunk (lengths, pointers, tokens)


def optimal_dtype(vocab_size: int) -> np.dtype:
    """Megatron's rule (DType.optimal_dtype): uint16 when the vocabulary is below 65,500, else int32."""
    return np.dtype(np.uint16) if vocab_size < 65500 else np.dtype(np.int32)


def bin_path(prefix: str) -> str:
    return prefix + ".bin"


def idx_path(prefix: str) -> str:
    return prefix + ".idx"


class DatasetWriter:
    """Streams documents into `<prefix>.bin`/`.idx`; files appear under their final names on `finish()`.

    Memory is bounded by the caller's batches: tokens are written as they come, lengths go to a
    temporary side file, and the index is built from it in fixed-size chunks.
    """

    def __init__(self, prefix: str, dtype: np.dtype | type) -> None:
        self.prefix = prefix
        self.dtype = np.dtype(dtype)
        if self.dtype.type not in DTYPE_CODES:
            raise ValueError(f"dtype {self.dtype} has no Megatron code")
        self._bin = storage.AtomicFile(bin_path(prefix))
        # The lengths side file is always local: it is read twice to build the index.
        fd, self._len_tmp = tempfile.mkstemp(prefix="winnow-lengths-", suffix=".tmp")
        self._len = os.fdopen(fd, "wb")
        self.documents = 0
        self.tokens = 0

    def add_document(self, tokens: np.ndarray | Sequence[int]) -> None:
        arr = np.asarray(tokens, dtype=self.dtype)
        self.add_documents(arr, np.array([arr.size], dtype=np.int64))

    def add_documents(self, flat: np.ndarray, lengths: np.ndarray) -> None:
        """Append several documents at once: `flat` is their tokens back to back, `lengths` per document."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.size == 0:
            return
        if int(lengths.sum()) != flat.size:
            raise ValueError(f"lengths sum to {int(lengths.sum())} but {flat.size} tokens were given")
        if lengths.max(initial=0) > np.iinfo(np.int32).max:
            raise ValueError("a document longer than 2**31-1 tokens does not fit Megatron's int32 lengths")
        self._bin.write(np.ascontiguousarray(flat, dtype=self.dtype).tobytes())
        self._len.write(lengths.astype(np.int32).tobytes())
        self.documents += int(lengths.size)
        self.tokens += int(flat.size)

    def finish(self) -> dict[str, Any]:
        """Write the index, then rename `.bin` and `.idx` into place (`.idx` last). Returns counts."""
        self._len.close()
        n = self.documents
        itemsize = self.dtype.itemsize
        out = storage.AtomicFile(idx_path(self.prefix))
        try:
            out.write(MAGIC)
            out.write(struct.pack("<Q", VERSION))
            out.write(struct.pack("<B", DTYPE_CODES[self.dtype.type]))
            out.write(struct.pack("<Q", n))
            out.write(struct.pack("<Q", n + 1))
            for chunk in _read_int32_chunks(self._len_tmp):
                out.write(chunk.tobytes())
            offset = 0
            for chunk in _read_int32_chunks(self._len_tmp):
                sizes = chunk.astype(np.int64) * itemsize
                ends = np.cumsum(sizes) + offset
                out.write((ends - sizes).tobytes())
                offset = int(ends[-1])
            for start in range(0, n + 1, CHUNK):
                out.write(np.arange(start, min(n + 1, start + CHUNK), dtype=np.int64).tobytes())
            self._bin.commit()
        except BaseException:
            out.abort()
            self.abort()
            raise
        out.commit()
        os.remove(self._len_tmp)
        return {"prefix": self.prefix, "documents": n, "tokens": self.tokens}

    def abort(self) -> None:
        self._len.close()
        self._bin.abort()  # after a commit there is no temporary file left to remove
        if os.path.exists(self._len_tmp):
            os.remove(self._len_tmp)


def _read_int32_chunks(path: str) -> Iterator[np.ndarray]:
    with open(path, "rb") as f:
        while data := f.read(CHUNK * 4):
            yield np.frombuffer(data, dtype=np.int32)


@dataclass
class Index:
    """A parsed `.idx` (arrays are read-only memory maps, so opening a huge index costs nothing)."""

    dtype: np.dtype
    sequence_count: int
    document_count: int  # as stored: documents + 1
    lengths: np.ndarray
    pointers: np.ndarray
    document_indices: np.ndarray
    trailing_bytes: int


def read_index(prefix: str) -> Index:
    """Parse `<prefix>.idx`; raise ValueError with the reason when it is not a valid Megatron index."""
    path = idx_path(prefix)
    data = storage.read_bytes(path) if storage.is_uri(path) else None  # remote: read whole, else mmap
    if data is not None:
        size, head = len(data), data[:HEADER_BYTES]
    else:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES:
        raise ValueError(f"{path}: {size} bytes, shorter than the {HEADER_BYTES}-byte header")
    if head[:9] != MAGIC:
        raise ValueError(f"{path}: bad magic {head[:9]!r} (expected {MAGIC!r})")
    (version,) = struct.unpack("<Q", head[9:17])
    if version != VERSION:
        raise ValueError(f"{path}: version {version}, expected {VERSION}")
    code = head[17]
    if code not in CODE_DTYPES:
        raise ValueError(f"{path}: unknown dtype code {code}")
    seq, docs = struct.unpack("<QQ", head[18:34])
    expected = HEADER_BYTES + 4 * seq + 8 * seq + 8 * docs
    if size < expected:
        raise ValueError(f"{path}: {size} bytes, but {seq} sequences and {docs} document indices "
                         f"need {expected}")
    if seq == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Index(CODE_DTYPES[code], 0, docs, empty.astype(np.int32), empty,
                     np.zeros(docs, np.int64), size - expected)
    mm = data if data is not None else np.memmap(path, mode="r", dtype=np.uint8)
    off = HEADER_BYTES
    lengths = np.frombuffer(mm, dtype=np.int32, count=seq, offset=off)
    pointers = np.frombuffer(mm, dtype=np.int64, count=seq, offset=off + 4 * seq)
    doc_idx = np.frombuffer(mm, dtype=np.int64, count=docs, offset=off + 12 * seq)
    return Index(CODE_DTYPES[code], seq, docs, lengths, pointers, doc_idx, size - expected)


class RemoteTokens:
    """The tokens of a `.bin` on object storage, sliced like an array: each slice is one ranged read."""

    def __init__(self, path: str, dtype: np.dtype, nbytes: int) -> None:
        self.dtype = dtype
        self.size = nbytes // dtype.itemsize
        self._file = storage.open_input(path)

    def __getitem__(self, key: slice) -> np.ndarray:
        start, stop, _ = key.indices(self.size)
        if stop <= start:
            return np.zeros(0, self.dtype)
        item = self.dtype.itemsize
        data = self._file.read_at((stop - start) * item, start * item)
        return np.frombuffer(data, dtype=self.dtype)


def open_tokens(prefix: str, dtype: np.dtype) -> np.ndarray | RemoteTokens:
    """The `.bin` of `prefix` as a read-only token array (a memory map, or ranged reads when remote)."""
    path = bin_path(prefix)
    nbytes = storage.size(path)
    if storage.is_uri(path):
        return RemoteTokens(path, dtype, nbytes)
    return np.memmap(path, mode="r", dtype=dtype) if nbytes else np.zeros(0, dtype)


class DatasetReader:
    """Random access to the documents of a dataset (numpy only; what merges and tests read with)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.index = read_index(prefix)
        self.tokens = open_tokens(prefix, self.index.dtype)

    def __len__(self) -> int:
        return self.index.sequence_count

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.index.pointers[i]) // self.index.dtype.itemsize
        return np.asarray(self.tokens[start : start + int(self.index.lengths[i])])

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self[i]


def copy_selected(reader: DatasetReader, keep: np.ndarray, writer: DatasetWriter, batch: int = 8192) -> int:
    """Append the documents of `reader` where `keep` is true to `writer`, in order; returns tokens copied.

    Streams in batches of documents; a batch that is kept whole is one contiguous slice of `.bin`.
    """
    copied = 0
    n = len(reader)
    lengths = reader.index.lengths
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        mask = keep[start:stop]
        if not mask.any():
            continue
        lens = lengths[start:stop].astype(np.int64)
        first = int(reader.index.pointers[start]) // reader.index.dtype.itemsize
        span = np.asarray(reader.tokens[first : first + int(lens.sum())])
        if mask.all():
            flat, kept = span, lens
        else:
            ends = np.cumsum(lens)
            pieces = [span[e - ln : e] for e, ln, m in zip(ends, lens, mask, strict=True) if m]
            flat, kept = np.concatenate(pieces), lens[mask]
        writer.add_documents(flat, kept)
        copied += int(flat.size)
    return copied


def merge(prefixes: Sequence[str], out_prefix: str) -> dict[str, Any]:
    """Concatenate datasets (same dtype) into one, streaming; documents keep their order."""
    if not prefixes:
        raise ValueError("nothing to merge")
    dtypes = {read_index(p).dtype for p in prefixes}
    if len(dtypes) != 1:
        raise ValueError(f"cannot merge datasets of different dtypes: {sorted(map(str, dtypes))}")
    writer = DatasetWriter(out_prefix, dtypes.pop())
    try:
        for p in prefixes:
            reader = DatasetReader(p)
            copy_selected(reader, np.ones(len(reader), dtype=bool), writer)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()


def check(prefix: str, vocab_size: int | None = None) -> dict[str, Any]:
    """Validate a dataset the way a training job would need it to be; never raises on bad data.

    Returns {"ok", "errors", "prefix", "dtype", "documents", "tokens", "max_token_id"}. Catches what
    Megatron's reader does not: 0 sequences (cannot be memory-mapped), 0-token documents, pointers
    that disagree with lengths, a `.bin` shorter or longer than the index says, token ids >= vocab.
    """
    report: dict[str, Any] = {"prefix": prefix, "ok": False, "errors": [], "dtype": None,
                              "documents": 0, "tokens": 0, "max_token_id": None}
    errors: list[str] = report["errors"]
    for path in (idx_path(prefix), bin_path(prefix)):
        if not storage.is_file(path):
            errors.append(f"missing {path}")
    if errors:
        return report
    try:
        index = read_index(prefix)
    except ValueError as exc:
        errors.append(str(exc))
        return report
    report["dtype"] = str(index.dtype)
    s = index.sequence_count
    report["documents"] = index.document_count - 1
    if index.trailing_bytes:
        errors.append(f"{idx_path(prefix)}: {index.trailing_bytes} unexpected bytes after the index")
    if s == 0:
        errors.append("empty dataset: 0 sequences (Megatron cannot memory-map it)")
        return report
    doc_idx = index.document_indices
    if index.document_count < 1 or doc_idx[0] != 0 or doc_idx[-1] != s or np.any(np.diff(doc_idx) < 0):
        errors.append(f"document indices must rise from 0 to the sequence count {s}")
    itemsize = index.dtype.itemsize
    offset = 0
    zero = 0
    for start in range(0, s, CHUNK):
        lens = index.lengths[start : start + CHUNK].astype(np.int64)
        if np.any(lens < 0):
            errors.append(f"negative sequence length near sequence {start}")
            return report
        zero += int(np.count_nonzero(lens == 0))
        sizes = lens * itemsize
        ends = np.cumsum(sizes) + offset
        bad = np.flatnonzero(index.pointers[start : start + CHUNK] != ends - sizes)
        if bad.size:
            errors.append(f"sequence {start + int(bad[0])}: byte pointer disagrees with the lengths")
            return report
        offset = int(ends[-1])
    if zero:
        errors.append(f"{zero} sequences have 0 tokens")
    report["tokens"] = offset // itemsize
    actual = storage.size(bin_path(prefix))
    if actual < offset:
        errors.append(f"{bin_path(prefix)} is truncated: {actual} bytes, the index needs {offset}")
        return report
    if actual > offset:
        errors.append(f"{bin_path(prefix)} has {actual - offset} bytes beyond the last sequence")
    tokens = open_tokens(prefix, index.dtype)
    hi, lo = None, None
    for start in range(0, offset // itemsize, CHUNK * 8):
        part = tokens[start : start + CHUNK * 8]
        hi = int(part.max()) if hi is None else max(hi, int(part.max()))
        lo = int(part.min()) if lo is None else min(lo, int(part.min()))
    report["max_token_id"] = hi
    if lo is not None and lo < 0:
        errors.append(f"negative token id {lo}")
    if vocab_size is not None and hi is not None and hi >= vocab_size:
        errors.append(f"token id {hi} is out of range for a vocabulary of {vocab_size}")
    report["ok"] = not errors
    return report


def register_check(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check-megatron",
        help="validate a Megatron .bin/.idx dataset (header, sizes, pointers, token range)",
        description="Validate PREFIX.bin/PREFIX.idx without torch. Exit code 1 when anything is wrong.",
    )
    p.add_argument("prefixes", nargs="+", metavar="PREFIX", help="dataset prefix (without .bin/.idx)")
    p.add_argument("--vocab-size", type=int, default=None, help="fail when a token id is >= this")
    p.set_defaults(func=_check_main)


def _check_main(args: argparse.Namespace) -> int:
    status = 0
    for prefix in args.prefixes:
        prefix = prefix.removesuffix(".bin").removesuffix(".idx")
        r = check(prefix, args.vocab_size)
        if r["ok"]:
            print(f"ok   {prefix}: {r['documents']} documents, {r['tokens']} tokens, {r['dtype']}, "
                  f"max id {r['max_token_id']}")
        else:
            status = 1
            print(f"FAIL {prefix}:")
            for e in r["errors"]:
                print(f"  - {e}")
    return status
