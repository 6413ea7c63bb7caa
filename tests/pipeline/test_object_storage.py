"""The main job with its inputs and its whole run directory on S3 (a moto server on 127.0.0.1).

The endpoint reaches every process of the run (driver, Ray workers, megatron-core) the standard way,
through `AWS_ENDPOINT_URL`. What must hold: the same bytes as the same job run on local disk, resume
on S3, `winnow verify` on S3, and a Megatron trainer reading the tokens from S3 itself.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
BUCKET = "winnow-test"
pytestmark = pytest.mark.slow


def _s3(env: dict[str, str]) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        endpoint_override=env["AWS_ENDPOINT_URL"], access_key="test", secret_key="test", region="us-east-1"
    )


def _winnow(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")} | env
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=full, capture_output=True, text=True,
        timeout=900,
    )


def _files(fs: pafs.FileSystem, root: str) -> dict[str, bytes]:
    """Relative path -> bytes of every data file (Parquet shards, rejected sets, tokens) under root."""
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    out = {}
    for info in infos:
        rel = info.path[len(root) :].lstrip("/")
        if info.type == pafs.FileType.File and rel.endswith((".parquet", ".bin", ".idx", ".txt")):
            with fs.open_input_stream(info.path) as f:
                out[rel] = f.read()
    return out


@pytest.fixture(scope="module")
def s3_job(s3_server: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample's inputs uploaded to S3 (the WET file behind a Common Crawl `*.paths.gz` listing),
    the sample config pointed at them, run with `--output s3://...`."""
    fs = _s3(s3_server)
    pafs.copy_files(str(REPO / "data" / "sample"), f"{BUCKET}/data/sample", destination_filesystem=fs)
    wet = sorted(p.name for p in (REPO / "data" / "sample" / "commoncrawl").glob("*.warc.wet.gz"))
    with fs.open_output_stream(f"{BUCKET}/data/sample/commoncrawl/wet.paths.gz", compression=None) as f:
        f.write(gzip.compress(("\n".join(wet) + "\n").encode()))
    text = (REPO / "configs" / "sample.yaml").read_text()
    text = text.replace(
        '["../data/sample/commoncrawl/*.warc.wet.gz"]', f'["s3://{BUCKET}/data/sample/commoncrawl/wet.paths.gz"]'
    )
    text = text.replace("../data/sample/", f"s3://{BUCKET}/data/sample/").replace("../data/", f"{REPO}/data/")
    assert text.count("s3://") == 6
    cwd = tmp_path_factory.mktemp("s3job")
    (cwd / "sample_s3.yaml").write_text(text)
    out = f"s3://{BUCKET}/runs/sample"
    proc = _winnow(s3_server, "run", "sample_s3.yaml", "--output", out, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    root = f"{BUCKET}/runs/sample"
    return {"env": s3_server, "fs": fs, "root": root, "uri": out, "cwd": cwd, "stdout": proc.stdout}


def test_run_on_s3_gives_the_bytes_of_a_local_run(s3_job, sample_run) -> None:
    assert "counts add up: yes; errors: 0" in s3_job["stdout"]
    assert f"report:   {s3_job['uri']}/report.html" in s3_job["stdout"]
    remote = _files(s3_job["fs"], s3_job["root"])
    local = _files(pafs.LocalFileSystem(), str(sample_run[0]))
    local.pop("tokens/data_args.txt")  # holds absolute prefixes: the run dir's own path
    assert remote.pop("tokens/data_args.txt").decode().count(f"s3://{BUCKET}/runs/sample/tokens/") == 3
    assert sorted(remote) == sorted(local)
    assert [k for k in remote if remote[k] != local[k]] == []
    assert sum(k.endswith(".bin") for k in remote) == 3


def test_rerun_on_s3_resumes_and_verify_passes(s3_job) -> None:
    """Take the last stage and the tokens away: the rerun redoes only them, with the same bytes."""
    fs, root = s3_job["fs"], s3_job["root"]
    before = _files(fs, root)
    for d in ("tokens", "15_tokenize", "rejected/15_tokenize"):
        if fs.get_file_info(f"{root}/{d}").type == pafs.FileType.Directory:
            fs.delete_dir(f"{root}/{d}")
    proc = _winnow(s3_job["env"], "run", "sample_s3.yaml", "--output", s3_job["uri"], cwd=s3_job["cwd"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "14_pii: 10 shards (0 to do)" in proc.stderr
    assert "tokenize: phase 1/2 tokenize: 10/10 tasks" in proc.stderr
    assert _files(fs, root) == before
    verify = _winnow(s3_job["env"], "verify", s3_job["uri"], cwd=s3_job["cwd"])
    assert verify.returncode == 0 and "0 problems" in verify.stdout, verify.stdout + verify.stderr


def test_megatron_reads_the_tokens_from_s3(s3_job, sample_run, tmp_path: Path, monkeypatch) -> None:
    """megatron-core's own IndexedDataset, on the S3 prefixes `winnow megatron-args` prints."""
    proc = _winnow(s3_job["env"], "megatron-args", s3_job["uri"], "--local-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    flags = proc.stdout.split()
    assert flags[0] == "--data-path" and "--no-mmap-bin-files" in flags
    assert (tmp_path / "tokenizer" / "tokenizer.json").is_file()
    prefixes = [f for f in flags if f.startswith("s3://")]
    assert len(prefixes) == 3
    pytest.importorskip("megatron.core", reason="megatron-core is a test extra")
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from megatron.core.datasets.object_storage_utils import ObjectStorageConfig

    from tokenization.megatron import DatasetReader

    for k, v in s3_job["env"].items():
        monkeypatch.setenv(k, v)
    cache = ObjectStorageConfig(path_to_idx_cache=str(tmp_path / "idx_cache"))
    for prefix in prefixes:
        theirs = IndexedDataset(prefix, multimodal=False, mmap=False, object_storage_config=cache)
        ours = DatasetReader(str(sample_run[0] / "tokens" / prefix.rsplit("/", 1)[-1]))
        assert len(theirs) == len(ours) > 0
        assert all(np.array_equal(theirs[i], ours[i]) for i in range(len(ours)))


def test_parquet_input_on_s3(s3_server, tmp_path: Path) -> None:
    """A Parquet source read from S3 (footer and row groups by ranged reads) gives its every row."""
    fs = _s3(s3_server)
    table = pajson.read_json(REPO / "data" / "sample" / "en" / "cc_en_head-0091.jsonl")
    pq.write_table(table, tmp_path / "docs.parquet", row_group_size=7)
    dest = f"{BUCKET}/parquet/docs.parquet"
    pafs.copy_files(str(tmp_path / "docs.parquet"), dest, destination_filesystem=fs)
    (tmp_path / "pq.yaml").write_text(
        "name: pq\nsources:\n"
        f"  - {{name: remote, format: parquet, paths: ['s3://{BUCKET}/parquet/*.parquet']}}\n"
        f"  - {{name: local, format: parquet, paths: ['{tmp_path}/docs.parquet']}}\n"
        "stages: []\n"
    )
    proc = _winnow(s3_server, "run", "pq.yaml", "--output", "runs/pq", "--no-report", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((tmp_path / "runs" / "pq" / "manifest.json").read_text())
    read = next(s for s in manifest["stages"] if s["name"] == "read")
    assert read["sources"]["remote"]["out"] == read["sources"]["local"]["out"] == table.num_rows
