"""http(s):// and hf:// inputs, read from a web server on 127.0.0.1 that the tests start themselves.

The server answers HEAD and `Range` GETs (the stdlib's SimpleHTTPRequestHandler does neither properly),
can fail requests on purpose (503, connection reset), and serves the Hub's resolve-URL layout for hf://.
What must hold: every format and a `*.paths.gz` listing read over http give the documents of the same
files on local disk; transient faults change nothing; a missing file is an error before any work.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest
import zstandard

from pipeline import httpfs, storage
from pipeline.config import ConfigError, parse_config
from pipeline.readers import InputError, expand_source, reader_for
from pipeline.runner import run
from pipeline.schema import documents_from_table
from pipeline.shards import shard_files

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


class WebServer:
    """A static file server with HEAD, single `Range` requests and a plan of injected faults."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None) -> None:
        self.root = root
        self.plan: list[list[Any]] = []  # [substring, times left, "503" | "reset"]
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.injected = 0
        self.ranges_supported = True
        self.head_supported = True
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                server._record(self.command, self.path, self.headers.get("Range"))
                fault = server._fault(self.path)
                if fault == "reset":  # RST instead of an answer: what a dropped connection looks like
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if fault == "503":
                    return self._status(503)
                if not body and not server.head_supported:
                    return self._status(405)
                path = self.path.split("?", 1)[0]
                m = re.fullmatch(r"/(datasets/[^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if m:  # the Hub answers a resolve URL of a large file with a redirect to its CDN
                    self.send_response(302)
                    self.send_header("Location", f"/cdn/{m[1]}/{m[2]}/{m[3]}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                file = server.root / path.removeprefix("/cdn").lstrip("/")
                if ".." in path or not file.is_file():
                    return self._status(404)
                data = file.read_bytes()
                start, end, code = 0, len(data), 200
                rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
                if rng and server.ranges_supported:
                    start = int(rng[1])
                    end = min(int(rng[2]) + 1, len(data)) if rng[2] else len(data)
                    if start >= len(data):
                        return self._status(416)
                    code = 206
                self.send_response(code)
                self.send_header("Content-Length", str(end - start))
                self.send_header("Accept-Ranges", "bytes")
                if code == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
                self.end_headers()
                if body:
                    self.wfile.write(data[start:end])

            def _status(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _record(self, method: str, path: str, rng: str | None) -> None:
        with self.lock:
            self.requests.append((method, path, rng))

    def _fault(self, path: str) -> str | None:
        with self.lock:
            for entry in self.plan:
                if entry[0] in path and entry[1] > 0:
                    entry[1] -= 1
                    self.injected += 1
                    return entry[2]
        return None

    def fail(self, substring: str, times: int, how: str = "503") -> None:
        with self.lock:
            self.plan.append([substring, times, how])

    def reset(self) -> None:
        with self.lock:
            self.plan.clear()
            self.requests.clear()
            self.injected = 0
        self.ranges_supported = self.head_supported = True
        httpfs._sizes.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files served: the sample, plus the formats it lacks (zstd JSONL, Parquet, text), a Common
    Crawl style listing, and a copy in the Hub's layout."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(SAMPLE, root / "sample")
    en = root / "sample" / "en"
    (en / "cc_en_head-0174.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress((en / "cc_en_head-0174.jsonl").read_bytes())
    )
    pq.write_table(pajson.read_json(en / "cc_en_head-0091.jsonl"), en / "docs.parquet", row_group_size=7)
    texts = [json.loads(line)["text"] for line in (en / "cc_en_head-0091.jsonl").read_text().splitlines()[:3]]
    (root / "sample" / "page.txt").write_text("\n\n".join(texts), encoding="utf-8")
    crawl = root / "crawl-data" / "CC-MAIN-2024-00"
    crawl.mkdir(parents=True)
    wet = "crawl-data/CC-MAIN-2024-00/segments/1/wet/whirlwind__whirlwind.warc.wet.gz"
    warc = "crawl-data/CC-MAIN-2024-00/segments/1/warc/whirlwind__whirlwind.warc.gz"
    for rel, name in ((wet, "whirlwind__whirlwind.warc.wet.gz"), (warc, "whirlwind__whirlwind.warc.gz")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / "commoncrawl" / name, root / rel)
    (crawl / "wet.paths.gz").write_bytes(gzip.compress(f"{wet}\n".encode()))
    (crawl / "warc.paths.gz").write_bytes(gzip.compress(f"{warc}\n".encode()))
    hub = root / "datasets" / "org" / "web" / "main" / "data"
    hub.mkdir(parents=True)
    shutil.copy(en / "cc_en_head-0091.jsonl", hub / "cc_en_head-0091.jsonl")
    rev = root / "datasets" / "org" / "web" / "refs%2Fconvert%2Fparquet" / "default"
    rev.mkdir(parents=True)
    shutil.copy(en / "docs.parquet", rev / "docs.parquet")
    return root


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[WebServer]:
    s = WebServer(site)
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _fast_retries(server: WebServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.reset()
    monkeypatch.setattr(storage, "BACKOFF_SECONDS", 0.01)


@pytest.fixture(scope="module")
def tls_server(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebServer, Path]]:
    """The same files over https, with a self-signed certificate for 127.0.0.1: (server, cert file)."""
    if not shutil.which("openssl"):
        pytest.skip("the https test makes its certificate with the openssl command")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    s = WebServer(site, tls=(d / "cert.pem", d / "key.pem"))
    yield s, d / "cert.pem"
    s.close()


def _sources(yaml_sources: str) -> list[Any]:
    return list(parse_config(f"name: t\nsources:\n{yaml_sources}stages: []\n").sources)


def _docs(src: Any) -> list[tuple]:
    """Every record a source reads: (id, text, url, reason, metadata without paths)."""
    out = []
    for file in expand_source(src):
        for doc, reason in reader_for(src.format)(file, src):
            meta = {k: v for k, v in doc.metadata.items() if "path" not in k}
            out.append((doc.id, doc.text, doc.url, reason, json.dumps(meta, sort_keys=True, default=str)))
    return out


FORMATS = [
    ("warc", "sample/web/dolma__sample-0000.warc.gz", ", extractor: resiliparse"),
    ("wet", "sample/commoncrawl/whirlwind__whirlwind.warc.wet.gz", ""),
    ("jsonl", "sample/en/cc_en_head-0091.jsonl", ""),
    ("jsonl", "sample/en/000.json.gz", ""),
    ("jsonl", "sample/en/cc_en_head-0174.jsonl.zst", ""),
    ("parquet", "sample/en/docs.parquet", ""),
    ("text", "sample/page.txt", ""),
]


@pytest.mark.parametrize(("fmt", "rel", "extra"), FORMATS, ids=[r.rsplit("/", 1)[1] for _, r, _ in FORMATS])
def test_every_format_over_http_reads_like_local(server, site, fmt, rel, extra) -> None:
    remote, local = _sources(
        f"  - {{name: s, format: {fmt}, paths: ['{server.url}/{rel}']{extra}}}\n"
        f"  - {{name: s, format: {fmt}, paths: ['{site / rel}']{extra}}}\n"
    )
    docs = _docs(remote)
    assert docs == _docs(local)
    assert any(reason is None for *_, reason, _ in docs)
    assert any(m == "GET" for m, _, _ in server.requests)


def test_parquet_over_http_is_read_by_ranges(server, site) -> None:
    """The footer first (a ranged read near the end of the file), then the row groups: seekable."""
    (src,) = _sources(f"  - {{name: s, format: parquet, paths: ['{server.url}/sample/en/docs.parquet']}}\n")
    assert len(_docs(src)) == pq.ParquetFile(site / "sample" / "en" / "docs.parquet").metadata.num_rows
    gets = [rng for m, p, rng in server.requests if m == "GET" and p.endswith("docs.parquet")]
    assert gets and all(rng and rng.startswith("bytes=") for rng in gets)


def test_common_crawl_listing_on_https_with_listing_prefix(server, site) -> None:
    """`warc.paths.gz` fetched from the server and its lines joined to `listing_prefix`, as for
    https://data.commoncrawl.org/: the same documents and ids as the same listing on local disk."""
    listing = "crawl-data/CC-MAIN-2024-00/{}.paths.gz"
    for kind, fmt in (("wet", "wet"), ("warc", "warc")):
        remote, local = _sources(
            f"  - {{name: cc, format: {fmt}, paths: ['{server.url}/{listing.format(kind)}'], "
            f"listing_prefix: '{server.url}/'}}\n"
            f"  - {{name: cc, format: {fmt}, paths: ['{site / listing.format(kind)}'], "
            f"listing_prefix: '{site}/'}}\n"
        )
        files = expand_source(remote)
        assert [f.path for f in files] == [
            f"{server.url}/crawl-data/CC-MAIN-2024-00/segments/1/{kind}/"
            f"whirlwind__whirlwind.warc{'.wet' if kind == 'wet' else ''}.gz"
        ]
        assert [f.shard_id for f in files] == [f.shard_id for f in expand_source(local)]
        docs = _docs(remote)
        assert docs and docs == _docs(local)


def test_https_with_a_trusted_certificate_and_without(tls_server, site, monkeypatch) -> None:
    """A listing and its files over TLS read like local files once the certificate is trusted (the
    standard SSL_CERT_FILE); an untrusted one is a clear error naming the URL, before any work."""
    server, cert = tls_server
    httpfs._sizes.clear()
    listing = "crawl-data/CC-MAIN-2024-00/wet.paths.gz"
    remote, local = _sources(
        f"  - {{name: cc, format: wet, paths: ['{server.url}/{listing}'], listing_prefix: '{server.url}/'}}\n"
        f"  - {{name: cc, format: wet, paths: ['{site / listing}'], listing_prefix: '{site}/'}}\n"
    )
    with pytest.raises(
        InputError, match=rf"listing is not readable: {server.url}/{listing}: TLS certificate not"
    ):
        expand_source(remote)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    assert _docs(remote) == _docs(local) != []


def test_transient_faults_are_retried_and_change_nothing(server, site) -> None:
    """Every file's first requests fail (503s, then a reset connection): the same documents."""
    sources = FORMATS
    for _, rel, _ in sources:
        server.fail(rel, 2, "503")
        server.fail(rel, 1, "reset")
    for fmt, rel, extra in sources:
        remote, local = _sources(
            f"  - {{name: s, format: {fmt}, paths: ['{server.url}/{rel}']{extra}}}\n"
            f"  - {{name: s, format: {fmt}, paths: ['{site / rel}']{extra}}}\n"
        )
        assert _docs(remote) == _docs(local)
    assert server.injected == 3 * len(sources)


def test_a_fault_that_outlasts_the_retries_fails_the_read(server, monkeypatch) -> None:
    """Not a quarantined row: a `StorageError`, so the task fails, the shard is not done, and the
    rerun reads the file again (here: once the server answers)."""
    monkeypatch.setattr(storage, "RETRIES", 2)
    (src,) = _sources(
        f"  - {{name: s, format: jsonl, paths: ['{server.url}/sample/en/cc_en_head-0091.jsonl']}}\n"
    )
    files = expand_source(src)
    server.fail("cc_en_head-0091", 100, "503")
    with pytest.raises(storage.StorageError, match=r"cc_en_head-0091.jsonl: .* failed 3 times: .*HTTP 503"):
        list(reader_for("jsonl")(files[0], src))
    server.reset()
    assert len(list(reader_for("jsonl")(files[0], src))) == 10


def test_server_without_range_or_head_still_reads_right(server, site) -> None:
    """A server that answers 405 to HEAD and the whole body to a Range GET: slower, same documents."""
    server.ranges_supported = server.head_supported = False
    rel = "sample/en/docs.parquet"
    remote, local = _sources(
        f"  - {{name: s, format: parquet, paths: ['{server.url}/{rel}']}}\n"
        f"  - {{name: s, format: parquet, paths: ['{site / rel}']}}\n"
    )
    assert _docs(remote) == _docs(local)


def test_large_jsonl_over_http_is_split_into_ranges(server, site) -> None:
    """A JSONL file over shard_mb is cut into byte ranges by its HTTP size; each range is read by
    ranged GETs and together they give the documents of the same file read locally."""
    lines = (SAMPLE / "en" / "cc_en_head-0091.jsonl").read_text().splitlines()
    big = site / "sample" / "big.jsonl"
    with big.open("w") as f:
        for k in range(30):  # ~3 MB
            for i, line in enumerate(lines):
                f.write(json.dumps(json.loads(line) | {"id": f"{k}-{i}"}) + "\n")
    remote, local = _sources(
        f"  - {{name: s, format: jsonl, shard_mb: 1, paths: ['{server.url}/sample/big.jsonl']}}\n"
        f"  - {{name: s, format: jsonl, shard_mb: 1, paths: ['{big}']}}\n"
    )
    parts = expand_source(remote)
    assert len(parts) == 4 and [(p.start, p.end) for p in parts] == [
        (p.start, p.end) for p in expand_source(local)
    ]
    docs = _docs(remote)
    assert len(docs) == 30 * len(lines) and docs == _docs(local)
    starts = {
        int(rng[6:].split("-")[0]) for m, p, rng in server.requests if m == "GET" and rng and "big" in p
    }
    assert all(any(p.start - 1 <= s <= p.start for s in starts) for p in parts)  # each range from its start


def test_missing_or_forbidden_input_is_an_error_before_any_work(server, site, tmp_path) -> None:
    (src,) = _sources(f"  - {{name: s, format: jsonl, paths: ['{server.url}/sample/en/nope.jsonl']}}\n")
    with pytest.raises(
        InputError, match=rf"input path does not exist .*{server.url}/sample/en/nope.jsonl .*HTTP 404"
    ):
        expand_source(src)
    (src,) = _sources(
        f"  - {{name: s, format: wet, paths: ['{server.url}/nope.paths.gz'], listing_prefix: x}}\n"
    )
    with pytest.raises(InputError, match=r"listing does not exist .*nope.paths.gz .*HTTP 404"):
        expand_source(src)
    (site / "gone.paths").write_text("sample/en/cc_en_head-0091.jsonl\nsample/en/gone.jsonl\n")
    (src,) = _sources(
        f"  - {{name: s, format: jsonl, paths: ['{server.url}/gone.paths'], "
        f"listing_prefix: '{server.url}'}}\n"
    )
    with pytest.raises(
        InputError, match=rf"input path does not exist .*{server.url}/sample/en/gone.jsonl .*HTTP 404"
    ):
        expand_source(src)
    config = parse_config(
        f"name: t\nsources:\n  - {{name: s, format: jsonl, paths: ['{server.url}/sample/en/nope.jsonl']}}\n"
        "stages: []\n"
    )
    with pytest.raises(InputError, match="HTTP 404"):
        run(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_globs_and_outputs_over_http_are_config_errors(server, tmp_path) -> None:
    (src,) = _sources(f"  - {{name: s, format: jsonl, paths: ['{server.url}/sample/en/*.jsonl']}}\n")
    with pytest.raises(InputError, match=r"glob cannot be expanded over http.*listing"):
        expand_source(src)
    # `?` starts a query string in a URL (a signed link), not a glob
    (src,) = _sources(
        f"  - {{name: s, format: jsonl, paths: ['{server.url}/sample/en/cc_en_head-0091.jsonl?sig=1']}}\n"
    )
    assert len(_docs(src)) == 10
    config = parse_config(
        f"name: t\nsources:\n  - {{name: s, format: jsonl, paths: ['{tmp_path}']}}\nstages: []\n"
    )
    with pytest.raises(ConfigError, match="read-only, for inputs only"):
        run(config, "https://example.org/runs/x")
    with pytest.raises(PermissionError, match="read-only"):
        storage.atomic_write(f"{server.url}/sample/x.txt", b"x")


def test_hf_paths_map_to_resolve_urls(monkeypatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert httpfs.hf_url("hf://datasets/HuggingFaceFW/fineweb/data/CC-MAIN-2024-10/000_00000.parquet") == (
        "https://huggingface.co/datasets/HuggingFaceFW/fineweb/resolve/main/data/CC-MAIN-2024-10/000_00000.parquet"
    )
    assert httpfs.hf_url("hf://datasets/org/name@refs%2Fconvert%2Fparquet/default/train/0.parquet") == (
        "https://huggingface.co/datasets/org/name/resolve/refs%2Fconvert%2Fparquet/default/train/0.parquet"
    )
    assert (
        httpfs.hf_url("hf://datasets/org/name@refs/convert/parquet/x") != ""
    )  # a bare "/" ends the revision
    assert (
        httpfs.hf_url("hf://gpt2/gpt2/config.json")
        == "https://huggingface.co/gpt2/gpt2/resolve/main/config.json"
    )
    with pytest.raises(ValueError, match="not an hf:// file path"):
        httpfs.hf_url("hf://datasets/org")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert httpfs._headers("https://huggingface.co/datasets/o/n/resolve/main/x", {})["Authorization"] == (
        "Bearer hf_secret"
    )
    assert "Authorization" not in httpfs._headers("https://cas-bridge.xethub.hf.co/x?sig=1", {})


def test_hf_dataset_files_read_through_the_endpoint(server, site, monkeypatch) -> None:
    """HF_ENDPOINT at the local server: resolve URLs (redirected like the Hub's) give the files."""
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    remote, local = _sources(
        "  - {name: s, format: jsonl, paths: ['hf://datasets/org/web/data/cc_en_head-0091.jsonl']}\n"
        f"  - {{name: s, format: jsonl, paths: ['{site}/sample/en/cc_en_head-0091.jsonl']}}\n"
    )
    assert _docs(remote) == _docs(local)
    remote, local = _sources(
        "  - {name: s, format: parquet, paths: ['hf://datasets/org/web@refs%2Fconvert%2Fparquet/default/docs.parquet']}\n"
        f"  - {{name: s, format: parquet, paths: ['{site}/sample/en/docs.parquet']}}\n"
    )
    assert _docs(remote) == _docs(local)
    assert any(p.startswith("/cdn/datasets/org/web/") for _, p, _ in server.requests)
    (src,) = _sources("  - {name: s, format: jsonl, paths: ['hf://datasets/org/web/data/missing.jsonl']}\n")
    with pytest.raises(InputError, match=r"hf://datasets/org/web/data/missing.jsonl .*HTTP 404"):
        expand_source(src)


def test_run_over_https_listing_gives_the_output_of_a_local_run(ray_session, server, site, tmp_path) -> None:
    """`pipeline.runner.run` in Ray workers on http inputs (a listing and a JSONL file, the first
    requests failing): the same Parquet bytes as the same job on the same files on local disk."""
    config = (
        "name: t\nsources:\n"
        "  - {{name: cc, format: wet, paths: ['{root}/crawl-data/CC-MAIN-2024-00/wet.paths.gz'], "
        "listing_prefix: '{root}/'}}\n"
        "  - {{name: en, format: jsonl, paths: ['{root}/sample/en/cc_en_head-0174.jsonl']}}\n"
        "stages: []\noutput: {{report: false}}\n"
    )
    run(parse_config(config.format(root=site)), str(tmp_path / "local"))
    server.fail("whirlwind__whirlwind.warc.wet.gz", 2)
    server.fail("cc_en_head-0174.jsonl", 1, "reset")
    manifest = run(parse_config(config.format(root=server.url)), str(tmp_path / "remote"))
    assert manifest["balanced"] and not manifest["errors"]
    assert server.injected == 3

    def parquet(run_dir: Path) -> dict[str, Any]:
        out = {}
        for shard, files in sorted(shard_files(str(run_dir / "00_read")).items()):
            out[shard] = [
                (d.id, d.text, d.url) for f in files for d in documents_from_table(pq.read_table(f))
            ]
        return out

    local, remote = parquet(tmp_path / "local"), parquet(tmp_path / "remote")
    assert remote == local and sum(len(v) for v in local.values()) > 0
    blobs = {
        p.relative_to(tmp_path / "local"): p.read_bytes() for p in (tmp_path / "local").rglob("*.parquet")
    }
    assert {
        p.relative_to(tmp_path / "remote"): p.read_bytes() for p in (tmp_path / "remote").rglob("*.parquet")
    } == blobs
