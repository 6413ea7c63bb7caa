"""Paths that may be local or any pyarrow filesystem URI (s3://, gs://, hdfs://...), and read-only
http(s):// and hf:// inputs (`pipeline/httpfs.py`: ranged GETs). `filesystem` is the one place that
decides which filesystem serves a path.

Everything the runner writes goes through `atomic_write` / `AtomicFile`: a temporary name, then a
rename, so a crashed worker never leaves a half-written file under its final name.

Reads from a URI go through `RetryingFile`: a transient error (timeout, reset, 5xx, SlowDown: pyarrow
reports them all as OSError) is retried with backoff at the same offset, and when retries run out it
is a `StorageError`. Readers never quarantine a `StorageError` as bad content: the task fails, its
shard is not done, and a rerun reads the file again.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import posixpath
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import pyarrow.fs as pafs

from pipeline import httpfs


def is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def is_read_only(path: str) -> bool:
    """http(s):// and hf:// can be read, never written: not a place for a run directory."""
    return httpfs.is_http(path)


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it (for http(s) and hf, the whole URL)."""
    if httpfs.is_http(path):
        return httpfs.filesystem(), path
    if is_uri(path):
        return pafs.FileSystem.from_uri(path)
    if path.startswith("file://"):
        path = path[len("file://") :]
    return pafs.LocalFileSystem(), os.path.abspath(path)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_uri(base) else os.path.join(base, *parts)


def exists(path: str) -> bool:
    fs, p = filesystem(path)
    return fs.get_file_info(p).type != pafs.FileType.NotFound


def is_file(path: str) -> bool:
    fs, p = filesystem(path)
    return fs.get_file_info(p).type == pafs.FileType.File


def size(path: str) -> int:
    fs, p = filesystem(path)
    return int(fs.get_file_info(p).size or 0)


def makedirs(path: str) -> None:
    fs, p = filesystem(path)
    fs.create_dir(p, recursive=True)


def listdir(path: str, pattern: str = "*") -> list[str]:
    """Files directly in `path` whose name matches `pattern`, sorted (full paths)."""
    fs, p = filesystem(path)
    if fs.get_file_info(p).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(p, recursive=False))
    names = sorted(i.base_name for i in infos if i.type == pafs.FileType.File)
    return [join(path, n) for n in names if fnmatch.fnmatch(n, pattern)]


def remove_tree(path: str) -> None:
    fs, p = filesystem(path)
    if fs.get_file_info(p).type == pafs.FileType.Directory:
        fs.delete_dir(p)


REMOVERS = 16
"""Files deleted at once on object storage (each delete is a request)."""


def remove_files(paths: list[str]) -> int:
    """Delete files that may already be gone (a rerun sweeping what a task deleted); returns how many."""

    def one(path: str) -> int:
        fs, p = filesystem(path)
        try:
            fs.delete_file(p)
        except FileNotFoundError:
            return 0
        return 1

    if len(paths) > 1 and is_uri(paths[0]):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(REMOVERS) as pool:
            return sum(pool.map(one, paths))
    return sum(one(p) for p in paths)


RETRIES = int(os.environ.get("WINNOW_STORAGE_RETRIES", "5"))
"""Retries of a failed read (on top of the storage client's own); the environment sets it per run."""
BACKOFF_SECONDS = 0.25  # doubled after every failed attempt: 0.25, 0.5, 1, 2, 4 s


class StorageError(OSError):
    """Storage kept failing (after retries): not a property of the file's content."""


class PermanentError(OSError):
    """A storage answer that retrying cannot change (an HTTP 400, a URL that cannot be listed)."""


_PERMANENT = (FileNotFoundError, PermissionError, PermanentError)


def with_retries(path: str, what: str, op: Any) -> Any:
    """`op()`, repeated with backoff while it fails transiently; then a `StorageError`. Permanent
    errors (missing, forbidden) pass through unchanged, so callers can say "does not exist"."""
    for attempt in range(RETRIES + 1):
        try:
            return op()
        except _PERMANENT:
            raise
        except OSError as exc:
            if attempt == RETRIES:
                why = exc.strerror or exc
                raise StorageError(f"{path}: {what} failed {RETRIES + 1} times: {why}") from exc
            time.sleep(BACKOFF_SECONDS * 2**attempt)
    raise AssertionError("unreachable")


class RetryingFile(io.RawIOBase):
    """A seekable file on object storage whose reads survive transient errors.

    Every read is a positional read (`read_at`), so a failed one is simply repeated, on a reopened
    file, after a backoff. Sequential reads are served from a read-ahead block, so a JSONL or WARC
    file costs one request per `block` bytes, not one per small read.
    """

    def __init__(self, path: str, block: int = 8 << 20) -> None:
        super().__init__()
        self.path, self.block = path, block
        self._fs, self._p = filesystem(path)
        self._f: Any = None
        self._pos = 0
        self._buf, self._buf_at = b"", 0
        self._size: int | None = None

    def _retry(self, what: str, op: Any) -> Any:
        for attempt in range(RETRIES + 1):
            try:
                if self._f is None:
                    self._f = self._fs.open_input_file(self._p)
                return op(self._f)
            except _PERMANENT as exc:
                raise StorageError(f"{self.path}: {what}: {exc}") from exc
            except OSError as exc:
                if self._f is not None:
                    self._f.close()
                    self._f = None
                if attempt == RETRIES:
                    raise StorageError(f"{self.path}: {what} failed {RETRIES + 1} times: {exc}") from exc
                time.sleep(BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")

    def size(self) -> int:
        if self._size is None:
            self._size = int(self._retry("size", lambda f: f.size()))
        return self._size

    def read_at(self, nbytes: int, offset: int) -> bytes:
        return bytes(self._retry(f"read {nbytes} bytes at {offset}", lambda f: f.read_at(nbytes, offset)))

    def read(self, n: int | None = -1) -> bytes:
        left = self.size() - self._pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        start = self._pos - self._buf_at
        if not (start >= 0 and start + n <= len(self._buf)):
            self._buf, self._buf_at = self.read_at(max(n, self.block), self._pos), self._pos
            start = 0
        data = self._buf[start : start + n]
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.size()}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        super().close()


def open_input(path: str) -> IO[bytes]:
    """A seekable raw binary file (no decompression: readers decide); on object storage, retried
    ranged reads with read-ahead, so it serves Parquet footers and sequential streams alike."""
    if not is_uri(path):
        return open(filesystem(path)[1], "rb")
    return RetryingFile(path)  # type: ignore[return-value]


def read_bytes(path: str) -> bytes:
    with open_input(path) as f:
        return f.read()


class _NamedStream(io.RawIOBase):
    """An output stream whose errors name the file: "No space left on device: RUN/03_x/part-...". """

    def __init__(self, raw: Any, path: str) -> None:
        super().__init__()
        self.raw, self.path = raw, path

    def _named(self, exc: OSError) -> OSError:
        cause = os.strerror(exc.errno) if exc.errno else str(exc)
        return OSError(exc.errno, cause, self.path)

    def write(self, data: Any) -> int:
        try:
            return self.raw.write(data)
        except OSError as exc:
            raise self._named(exc) from exc

    def flush(self) -> None:
        if not self.raw.closed:
            self.raw.flush()

    def tell(self) -> int:
        return self.raw.tell()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.raw.closed:
            try:
                self.raw.close()
            except OSError as exc:
                raise self._named(exc) from exc
        super().close()


def remove_temporaries(path: str) -> int:
    """Delete the `*.tmp-*` files a killed task left directly in `path`; returns how many."""
    found = listdir(path, "*.tmp-*")
    fs, _ = filesystem(path)
    for p in found:
        fs.delete_file(filesystem(p)[1])
    return len(found)


class AtomicFile:
    """A file written under a temporary sibling name and renamed onto `path` by `commit()`.

    For writers that stay open across calls (a Megatron `.bin`); `abort()` removes the temporary file.
    """

    def __init__(self, path: str) -> None:
        self.fs, self.path = filesystem(path)
        parent = posixpath.dirname(self.path) if is_uri(path) else os.path.dirname(self.path)
        self.fs.create_dir(parent, recursive=True)
        self.tmp = f"{self.path}.tmp-{uuid.uuid4().hex[:12]}"
        self.stream = _NamedStream(self.fs.open_output_stream(self.tmp, compression=None), path)

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def commit(self) -> None:
        self.stream.close()
        self.fs.move(self.tmp, self.path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # the disk that failed the write may fail the flush too
            self.stream.close()
        if self.fs.get_file_info(self.tmp).type != pafs.FileType.NotFound:
            self.fs.delete_file(self.tmp)


@contextmanager
def atomic_file(path: str) -> Iterator[IO[bytes]]:
    """Write to a temporary sibling, then rename onto `path` when the block succeeds."""
    f = AtomicFile(path)
    try:
        yield f.stream
        f.commit()
    except BaseException:
        f.abort()
        raise


def atomic_write(path: str, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)
