"""Turning a source's `paths` (files, globs, URIs, Common Crawl *.paths.gz listings) into input files.

Done on the driver before any work starts, so a missing path is an error up front. Each file gets a
shard id derived from its path relative to the pattern's root, never from run order, so ids survive
moving the data folder and adding files.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import io
import os
import posixpath
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from pipeline import httpfs, storage

_GLOB_CHARS = re.compile(r"[*?\[]")
HEAD_THREADS = 16


class InputError(ValueError):
    """An input path that cannot be used (missing file, empty glob, unreadable listing)."""


@dataclass(frozen=True)
class InputFile:
    """One unit of reading: a whole file, or the byte range [start, end) of a large one."""

    source: str
    path: str  # absolute local path or URI
    rel: str  # path relative to the pattern root: the stable part of ids
    shard_id: str
    start: int = 0
    end: int | None = None  # None: the whole file
    size: int | None = None  # of the whole file, when the listing said it (saves the driver a call)

    @property
    def is_range(self) -> bool:
        return self.end is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "path": self.path,
            "rel": self.rel,
            "shard_id": self.shard_id,
            "start": self.start,
            "end": self.end,
            "size": self.size,
        }

    def file_size(self) -> int:
        return self.size if self.size is not None else storage.size(self.path)

    def bytes_to_read(self) -> int:
        """What this unit reads: its range, or the whole file."""
        return self.end - self.start if self.end is not None else self.file_size()


_WHOLE_ONLY = (".gz", ".zst", ".zstd", ".bz2", ".xz")
"""Compressed streams cannot be entered in the middle: such files are always one shard."""


def splittable(fmt: str, path: str) -> bool:
    """Whether a file can be read by byte ranges: JSON Lines by lines, Parquet by row groups."""
    return fmt == "parquet" or (fmt == "jsonl" and not path.endswith(_WHOLE_ONLY))


def split_file(file: InputFile, size: int, shard_bytes: int) -> list[InputFile]:
    """`file` as ceil(size / shard_bytes) ranges of equal length; a file that fits stays whole (and
    keeps its id). Range k of n is shard ``<id>-p<k>``: ids come from the file and the range, never
    from run order, and sort in file order, so documents keep the order they have in the file."""
    parts = -(-size // shard_bytes)
    if parts <= 1:
        return [file]
    return [
        InputFile(
            file.source,
            file.path,
            file.rel,
            f"{file.shard_id}-p{k:05d}",
            start=size * k // parts,
            end=size * (k + 1) // parts,
            size=size,
        )
        for k in range(parts)
    ]


def shard_id_for(source: str, rel: str) -> str:
    """Readable and unique: source, a slug of the file name, and a hash of the relative path."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", posixpath.basename(rel))[-48:]
    return f"{source}-{slug}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"


def _glob_root(pattern: str) -> str:
    parts = pattern.split("/")
    root = []
    for part in parts:
        if _GLOB_CHARS.search(part):
            break
        root.append(part)
    return "/".join(root) or "/"


def _is_glob(pattern: str) -> bool:
    if pattern.startswith(("http://", "https://")):  # `?` starts a query string there, not a glob
        return bool(re.search(r"[*\[]", urlsplit(pattern).path))
    return bool(_GLOB_CHARS.search(pattern))


def _check_file(path: str, what: str) -> None:
    """`path` is a readable file, or an `InputError` that names it and, over http, the status."""
    try:
        ok = storage.is_file(path)
    except (PermissionError, storage.PermanentError) as exc:
        raise InputError(f"{what} is not readable: {path}: {exc.strerror or exc}") from exc
    except storage.StorageError as exc:
        raise InputError(f"{what} could not be reached: {exc}") from exc
    if not ok:
        why = f" ({httpfs.status(path) or 'not found'})" if httpfs.is_http(path) else ""
        raise InputError(f"{what} does not exist or is not a file: {path}{why}")


def _check_remote(paths: list[str]) -> None:
    """Every http(s)/hf file exists, asked in parallel (a listing may name thousands): a 404 is an
    error now, not after hours of other files; the sizes are cached for splitting and progress."""
    if paths:
        with ThreadPoolExecutor(HEAD_THREADS) as pool:
            list(pool.map(lambda p: _check_file(p, "input path"), paths))


def _expand_pattern(pattern: str) -> tuple[str, dict[str, int | None]]:
    """(root, {path: size}) for one file or glob; the root is the folder that relative paths start
    from. Sizes come with the listing (None for a named file), so the driver never asks file by file."""
    if not _is_glob(pattern):
        _check_file(pattern, "input path")
        return posixpath.dirname(pattern), {pattern: None}
    if httpfs.is_http(pattern):
        raise InputError(
            f"a glob cannot be expanded over http(s) or hf:// (a web server has no listing): {pattern}; "
            "name the files, or give a listing file (*.paths.gz, one path per line) and listing_prefix, "
            "as Common Crawl publishes them"
        )
    root = _glob_root(pattern)
    if storage.is_uri(pattern):
        fs, inner_root = storage.filesystem(root)
        scheme = pattern.split("://", 1)[0]
        inner_pattern = storage.filesystem(pattern)[1]
        infos = fs.get_file_info(pafs.FileSelector(inner_root, recursive=True, allow_not_found=True))
        regex = re.compile(_glob_to_regex(inner_pattern))
        found: dict[str, int | None] = {
            f"{scheme}://{i.path}": i.size
            for i in infos
            if i.type == pafs.FileType.File and regex.fullmatch(i.path)
        }
    else:
        found = {}
        for p in glob.glob(pattern, recursive=True):
            with contextlib.suppress(OSError):
                st = os.stat(p)
                if stat.S_ISREG(st.st_mode):
                    found[p] = st.st_size
    if not found:
        raise InputError(f"glob matched no files: {pattern}")
    return root, found


def _strip_scheme(path: str) -> str:
    """`s3://bucket/a` -> `/bucket/a`: absolute like a local path, so one source may mix both."""
    return "/" + path.split("://", 1)[1].lstrip("/") if "://" in path else path


def _glob_to_regex(pattern: str) -> str:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out


def _expand_listing(listing: str, prefix: str | None) -> list[tuple[str, str]]:
    """A Common Crawl `*.paths.gz` listing: one relative path per line, joined to `prefix`."""
    _check_file(listing, "listing")
    raw = storage.read_bytes(listing)
    try:
        text = gzip.decompress(raw).decode("utf-8") if listing.endswith(".gz") else raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read listing {listing}: {exc}") from exc
    base = prefix if prefix is not None else storage.join(os.path.dirname(listing), "")
    out = []
    for line in io.StringIO(text):
        rel = line.strip()
        if rel:
            out.append((base.rstrip("/") + "/" + rel.lstrip("/") if base else rel, rel))
    if not out:
        raise InputError(f"listing has no paths: {listing}")
    return out


def expand_source(src: Any) -> list[InputFile]:
    """All input files of a source config, sorted, de-duplicated, cut to `max_files`, and files larger
    than the source's `shard_mb` cut into byte ranges."""
    pairs: dict[str, str] = {}
    sizes: dict[str, int | None] = {}
    globbed: list[tuple[str, dict[str, int | None]]] = []
    for pattern in src.paths:
        if pattern.endswith((".paths.gz", ".paths")):
            for path, rel in _expand_listing(pattern, src.listing_prefix):
                pairs.setdefault(path, rel)
        else:
            globbed.append(_expand_pattern(pattern))
    if globbed:
        # Relative to the folder all patterns share, so files from different globs never collide.
        common = posixpath.commonpath([_strip_scheme(root) for root, _ in globbed])
        for _, paths in globbed:
            sizes.update(paths)
            for path in paths:
                pairs.setdefault(path, posixpath.relpath(_strip_scheme(path), common))
    items = sorted(pairs.items(), key=lambda kv: (kv[1], kv[0]))
    if src.max_files:
        items = items[: src.max_files]
    files = [InputFile(src.name, p, rel, shard_id_for(src.name, rel), size=sizes.get(p)) for p, rel in items]
    _check_remote([path for path, _ in items if httpfs.is_http(path)])
    shard_mb = getattr(src, "shard_mb", None)
    if shard_mb:
        files = [
            part
            for f in files
            for part in (
                split_file(f, f.file_size(), shard_mb << 20) if splittable(src.format, f.path) else [f]
            )
        ]
    ids = [f.shard_id for f in files]
    if len(set(ids)) != len(ids):
        raise InputError(f"source {src.name}: two inputs map to the same shard id; give them distinct paths")
    return files
