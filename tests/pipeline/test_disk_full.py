"""A full disk: one line that names the file and the cause, no temporary files left behind, and after
space is freed the rerun finishes with the bytes of a run that never failed. Also: a killed task's
temporary file is removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _winnow(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MiB tmpfs (needs root and mount rights; skipped otherwise)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _parquet_and_tokens(run_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.suffix in (".parquet", ".bin", ".idx") and "_work" not in p.parts
    }


def test_disk_full_then_rerun(small_disk: Path, sample_run, tmp_path: Path) -> None:
    run = small_disk / "run"
    proc = _winnow("run", str(REPO / "configs" / "sample.yaml"), "--output", str(run), cwd=tmp_path)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("winnow:")]
    assert errors and "No space left on device" in errors[0] and str(run) in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(run.rglob("*.tmp-*"))

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    stray = run / "00_read" / "part-web_en-x-00000.parquet.tmp-0123456789ab"
    stray.write_bytes(b"left by a killed task")
    proc = _winnow("run", str(REPO / "configs" / "sample.yaml"), "--output", str(run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "removed 1 temporary files" in proc.stderr and not stray.exists()
    assert _parquet_and_tokens(run) == _parquet_and_tokens(sample_run[0])
