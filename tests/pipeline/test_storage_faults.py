"""Transient storage errors are retried and change nothing; persistent ones fail the run without
marking the file done, and the rerun reads it. Faults come from a proxy in front of the S3 server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from pipeline.config import load_config
from pipeline.runner import run
from pipeline.shards import load_stats

from ..s3_faults import FaultProxy

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
BUCKET = "winnow-test"
pytestmark = pytest.mark.slow

CONFIG = """name: faults
sources:
  - {{name: web_en, format: jsonl, paths: ['{root}/en/*.jsonl']}}
  - {{name: web, format: warc, paths: ['{root}/web/*.warc.gz']}}
stages:
  - {{type: gopher_quality}}
  - {{type: exact_dedup}}
"""


@pytest.fixture(scope="module")
def proxy(s3_server: dict[str, str]) -> Iterator[FaultProxy]:
    fs = pafs.S3FileSystem(endpoint_override=s3_server["AWS_ENDPOINT_URL"], access_key="test",
                           secret_key="test", region="us-east-1")
    for sub, pattern in (("en", "*.jsonl"), ("web", "*.warc.gz")):
        for p in sorted((SAMPLE / sub).glob(pattern)):
            with fs.open_output_stream(f"{BUCKET}/faults/{sub}/{p.name}", compression=None) as f:
                f.write(p.read_bytes())
    p = FaultProxy(s3_server["AWS_ENDPOINT_URL"])
    yield p
    p.close()


@pytest.fixture(scope="module")
def reference(ray_session, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same job on the same files on local disk, without faults."""
    tmp = tmp_path_factory.mktemp("faults_ref")
    (tmp / "local.yaml").write_text(CONFIG.format(root=SAMPLE))
    run(load_config(tmp / "local.yaml"), str(tmp / "run"))
    return tmp / "run"


def _run(env: dict[str, str], proxy: FaultProxy, cwd: Path) -> subprocess.CompletedProcess:
    (cwd / "s3.yaml").write_text(CONFIG.format(root=f"s3://{BUCKET}/faults"))
    full = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    full |= env | {"AWS_ENDPOINT_URL": proxy.url}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "s3.yaml", "--output", "run", "--no-report"],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=600,
    )


def _parquet(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*.parquet"))}


def test_transient_errors_are_retried_and_change_no_byte(s3_server, proxy, reference, tmp_path) -> None:
    """Every input file's GETs fail 5 times in a row with 503 SlowDown before they succeed."""
    names = [p.name for sub in ("en", "web") for p in sorted((SAMPLE / sub).glob("*.*"))
             if p.name.endswith((".jsonl", ".warc.gz"))]
    for name in names:
        proxy.fail(name, 5)
    before = proxy.injected
    proc = _run(s3_server, proxy, tmp_path)
    proxy.clear()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proxy.injected - before == 5 * len(names)
    assert "errors: 0" in proc.stdout
    assert _parquet(tmp_path / "run") == _parquet(reference)


def test_a_file_that_keeps_failing_is_not_done_and_the_rerun_reads_it(
    s3_server, proxy, reference, tmp_path
) -> None:
    bad = "dolma__sample-0001.warc.gz"
    proxy.fail(bad, 10_000)
    proc = _run(s3_server | {"WINNOW_STORAGE_RETRIES": "1"}, proxy, tmp_path)
    proxy.clear()
    assert proc.returncode != 0
    assert "StorageError" in proc.stderr and bad in proc.stderr
    assert len(proc.stderr.splitlines()) < 40, proc.stderr  # one clear error, not pages of traceback
    done = load_stats(str(tmp_path / "run" / "00_read"))
    assert not any(bad in s for s in done)
    proc = _run(s3_server, proxy, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _parquet(tmp_path / "run") == _parquet(reference)
