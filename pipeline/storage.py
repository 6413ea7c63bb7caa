"""Paths that may be local or any pyarrow filesystem URI (s3://, gs://, hdfs://...).

Everything the runner writes goes through `atomic_write` / `AtomicFile`: a temporary name, then a
rename, so a crashed worker never leaves a half-written file under its final name.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import pyarrow.fs as pafs


def is_uri(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it."""
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


def open_input(path: str) -> IO[bytes]:
    """A raw binary stream (no decompression: readers decide)."""
    if not is_uri(path):
        return open(filesystem(path)[1], "rb")
    fs, p = filesystem(path)
    return fs.open_input_stream(p, compression=None)


def open_random(path: str) -> IO[bytes]:
    """A seekable binary file (Parquet footers, byte ranges): on object storage, ranged GETs."""
    if not is_uri(path):
        return open(filesystem(path)[1], "rb")
    fs, p = filesystem(path)
    return fs.open_input_file(p)


def read_bytes(path: str) -> bytes:
    with open_input(path) as f:
        return f.read()


class AtomicFile:
    """A file written under a temporary sibling name and renamed onto `path` by `commit()`.

    For writers that stay open across calls (a Megatron `.bin`); `abort()` removes the temporary file.
    """

    def __init__(self, path: str) -> None:
        self.fs, self.path = filesystem(path)
        parent = posixpath.dirname(self.path) if is_uri(path) else os.path.dirname(self.path)
        self.fs.create_dir(parent, recursive=True)
        self.tmp = f"{self.path}.tmp-{uuid.uuid4().hex[:12]}"
        self.stream = self.fs.open_output_stream(self.tmp, compression=None)

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def commit(self) -> None:
        self.stream.close()
        self.fs.move(self.tmp, self.path)

    def abort(self) -> None:
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
