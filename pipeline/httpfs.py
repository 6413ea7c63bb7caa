"""http://, https:// and hf:// inputs as a read-only pyarrow filesystem, by ranged GETs on the stdlib.

pyarrow has no HTTP filesystem, and fsspec's (aiohttp) reports a 503 as an exception that is not an
OSError, so the storage layer could not tell it from bad content. This one is small and says exactly
what each answer means:
- size: HEAD's Content-Length (or, when a server refuses HEAD, the total of a `Range: bytes=0-0` GET);
- reads: `Range: bytes=a-b` GETs, so a Parquet footer or a JSONL byte range costs what it reads;
  `storage.RetryingFile` adds the read-ahead and the retries, exactly as on S3;
- timeouts, connection resets, short bodies, 5xx, 429 and 408 are transient `OSError`s (retried);
  404/410 is `FileNotFoundError`, 401/403 `PermissionError`, other 4xx `storage.PermanentError`:
  retrying cannot help, so they fail at once with the URL and the status.

hf://datasets/<org>/<name>[@<revision>]/<path> (and hf://<org>/<model>/..., hf://spaces/...) is read
from the Hub's resolve URL, `$HF_ENDPOINT/datasets/<org>/<name>/resolve/<revision>/<path>` (default
endpoint https://huggingface.co), with `HF_TOKEN` as bearer token for gated or private repos; the
token is sent to the endpoint's host only, never to the CDN a resolve URL redirects to.
"""

from __future__ import annotations

import errno
import http.client
import io
import os
import ssl
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

SCHEMES = ("http://", "https://", "hf://")
TIMEOUT_SECONDS = float(os.environ.get("WINNOW_HTTP_TIMEOUT", "60"))
MAX_REDIRECTS = 10
USER_AGENT = "winnow (+https://github.com/; pretraining data pipeline)"
_TRANSIENT_STATUS = {408, 425, 429}


def is_http(path: str) -> bool:
    return path.startswith(SCHEMES)


def hf_url(path: str) -> str:
    """The Hub resolve URL of an hf:// path: `hf://datasets/org/name@rev/a/b.parquet` ->
    `$HF_ENDPOINT/datasets/org/name/resolve/rev/a/b.parquet` (revision URL-encoded: refs/convert/parquet)."""
    rest = path[len("hf://") :]
    kind = ""
    if rest.startswith(("datasets/", "spaces/")):
        kind, rest = rest.split("/", 1)
        kind += "/"
    parts = rest.split("/", 2)
    if len(parts) < 3 or not all(parts):
        raise ValueError(f"not an hf:// file path (hf://datasets/<org>/<name>[@<revision>]/<file>): {path}")
    org, name, inner = parts
    name, _, revision = name.partition("@")
    revision = unquote(revision or "main")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{kind}{org}/{name}/resolve/{quote(revision, safe='')}/{quote(inner, safe='/')}"


def url_of(path: str) -> str:
    return hf_url(path) if path.startswith("hf://") else path


def _headers(url: str, extra: dict[str, str]) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **extra}
    token = os.environ.get("HF_TOKEN")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if token and urlsplit(url).netloc == urlsplit(endpoint).netloc:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by `_open`: urllib would turn a HEAD into a GET and forward the token."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _status_error(path: str, url: str, status: int, reason: str) -> OSError:
    where = path if path == url else f"{path} ({url})"
    msg = f"HTTP {status} {reason}".strip()
    if status in (404, 410):
        exc: OSError = FileNotFoundError(errno.ENOENT, msg, where)
    elif status in (401, 403):
        exc = PermissionError(errno.EACCES, msg, where)
    elif status >= 500 or status in _TRANSIENT_STATUS:
        exc = ConnectionError(errno.EAGAIN, msg, where)
    else:
        exc = _permanent()(errno.EIO, msg, where)
    exc.http_status = status  # type: ignore[attr-defined]
    return exc


def _open(path: str, method: str, headers: dict[str, str]) -> Any:
    """One request (redirects followed); any failure is an OSError whose kind says transient or not."""
    url = url_of(path)
    for _ in range(MAX_REDIRECTS + 1):
        req = urllib.request.Request(url, method=method, headers=_headers(url, headers))
        try:
            return _opener.open(req, timeout=TIMEOUT_SECONDS)
        except urllib.error.HTTPError as exc:
            exc.close()
            location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) else None
            if location:
                url = urljoin(url, location)
                continue
            # Named by the URL asked for, not by the signed CDN URL a redirect led to.
            raise _status_error(path, url_of(path), exc.code, exc.reason) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise PermissionError(errno.EACCES, f"TLS certificate not trusted: {reason}", path) from exc
            why = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise ConnectionError(errno.ECONNABORTED, f"{method}: {why}", path) from exc
        except (http.client.HTTPException, TimeoutError, ConnectionError) as exc:
            raise ConnectionError(
                errno.ECONNABORTED, f"{method} failed: {type(exc).__name__}: {exc}", path
            ) from exc
    raise PermissionError(errno.ELOOP, f"more than {MAX_REDIRECTS} redirects", path)


_sizes: dict[str, int] = {}
_sizes_lock = threading.Lock()
_NO_HEAD = {403, 405, 501}  # HEAD refused (a signed GET-only URL, a server without HEAD): ask a GET


def size(path: str) -> int:
    """Bytes of the file (one request; cached per process: inputs do not change during a run)."""
    with _sizes_lock:
        if path in _sizes:
            return _sizes[path]
    n: int | None = None
    try:
        with _open(path, "HEAD", {}) as resp:
            n = _int(resp.headers.get("Content-Length"))
    except OSError as exc:
        if getattr(exc, "http_status", None) not in _NO_HEAD:
            raise
    if n is None:  # the total of a one-byte range, else the whole body's length
        with _open(path, "GET", {"Range": "bytes=0-0"}) as resp:
            total = (resp.headers.get("Content-Range") or "").rpartition("/")[2]
            n = _int(total) if resp.status == 206 else _int(resp.headers.get("Content-Length"))
    if n is None:
        raise _permanent()(errno.EIO, "the server gives no Content-Length (size unknown)", path)
    with _sizes_lock:
        _sizes[path] = n
    return n


def _permanent() -> type[OSError]:
    from pipeline.storage import PermanentError

    return PermanentError


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def status(path: str) -> str:
    """Why `path` cannot be read ("HTTP 404 Not Found"), or "" when it can: for error messages."""
    try:
        size(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def read_range(path: str, offset: int, nbytes: int) -> bytes:
    """Bytes [offset, offset + nbytes) by one ranged GET; a short body is a (transient) error."""
    if nbytes <= 0:
        return b""
    with _open(path, "GET", {"Range": f"bytes={offset}-{offset + nbytes - 1}"}) as resp:
        try:
            if resp.status == 206:
                start = (resp.headers.get("Content-Range") or "").removeprefix("bytes ").split("-")[0]
                if _int(start) != offset:
                    raise ConnectionError(
                        errno.EIO, f"asked for byte {offset}, got a range from {start}", path
                    )
                data = resp.read()
            else:  # the server ignored Range: skip to the offset in the whole body (correct, only slower)
                skip = offset
                while skip:
                    got = resp.read(min(skip, 8 << 20))
                    if not got:
                        break
                    skip -= len(got)
                data = resp.read(nbytes)
        except (http.client.HTTPException, OSError) as exc:
            raise ConnectionError(
                errno.ECONNABORTED, f"reading the body failed: {type(exc).__name__}: {exc}", path
            ) from exc
    if len(data) < nbytes:
        raise ConnectionError(errno.EIO, f"short read: {len(data)} of {nbytes} bytes at {offset}", path)
    return data[:nbytes]


class _RangeReader(io.RawIOBase):
    """The file object pyarrow's PythonFile wraps: seek, then read = one ranged GET."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path, self._pos = path, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: size(self.path) if whence == 2 else 0}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        left = size(self.path) - self._pos
        n = left if n is None or n < 0 else min(n, left)
        data = read_range(self.path, self._pos, n)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)


def _read_only(path: str) -> OSError:
    return PermissionError(errno.EROFS, "http(s):// and hf:// paths are read-only (inputs only)", path)


class HttpHandler(pafs.FileSystemHandler):
    """Paths are whole URLs (http://..., https://..., hf://...); nothing can be listed or written."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HttpHandler)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def get_type_name(self) -> str:
        return "http"

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        from pipeline.storage import with_retries

        out = []
        for p in paths:
            try:
                out.append(
                    pafs.FileInfo(p, pafs.FileType.File, size=with_retries(p, "HEAD", lambda p=p: size(p)))
                )
            except FileNotFoundError:
                out.append(pafs.FileInfo(p, pafs.FileType.NotFound))
        return out

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        raise _permanent()(
            errno.ENOTSUP,
            "an http(s)/hf URL cannot be listed; name the files or give a *.paths.gz listing",
            selector.base_dir,
        )

    def open_input_file(self, path: str) -> pa.NativeFile:
        return pa.PythonFile(_RangeReader(path), mode="r")

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.open_input_file(path)

    def create_dir(self, path: str, recursive: bool) -> None:
        raise _read_only(path)

    def delete_dir(self, path: str) -> None:
        raise _read_only(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        raise _read_only(path)

    def delete_root_dir_contents(self) -> None:
        raise _read_only("/")

    def delete_file(self, path: str) -> None:
        raise _read_only(path)

    def move(self, src: str, dest: str) -> None:
        raise _read_only(dest)

    def copy_file(self, src: str, dest: str) -> None:
        raise _read_only(dest)

    def open_output_stream(self, path: str, metadata: Any = None) -> pa.NativeFile:
        raise _read_only(path)

    def open_append_stream(self, path: str, metadata: Any = None) -> pa.NativeFile:
        raise _read_only(path)


def filesystem() -> pafs.FileSystem:
    return pafs.PyFileSystem(HttpHandler())
