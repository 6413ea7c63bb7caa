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


def read_bytes(path: str) -> bytes:
    with open_input(path) as f:
        return f.read()


@contextmanager
def atomic_file(path: str) -> Iterator[IO[bytes]]:
    """Write to a temporary sibling, then rename onto `path` when the block succeeds."""
    fs, p = filesystem(path)
    parent = posixpath.dirname(p) if is_uri(path) else os.path.dirname(p)
    fs.create_dir(parent, recursive=True)
    tmp = f"{p}.tmp-{uuid.uuid4().hex[:12]}"
    stream = fs.open_output_stream(tmp, compression=None)
    try:
        yield stream
        stream.close()
        fs.move(tmp, p)
    except BaseException:
        stream.close()
        if fs.get_file_info(tmp).type != pafs.FileType.NotFound:
            fs.delete_file(tmp)
        raise


def atomic_write(path: str, data: bytes) -> None:
    with atomic_file(path) as f:
        f.write(data)
