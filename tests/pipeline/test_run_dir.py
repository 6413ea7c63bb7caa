"""A run directory is self-contained: resume and `verify` work from any folder and after a move, and a
refused rerun changes nothing on disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

CONFIG = """name: small
sources:
  - {{name: web_en, format: jsonl, paths: ['{data}/en/*.jsonl']}}
stages:
  - {{type: gopher_quality}}
  - {{type: exact_dedup}}
"""


def _winnow(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_resume_and_verify_from_another_folder_and_after_a_move(tmp_path: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(CONFIG.format(data=REPO / "data" / "sample"))
    first, other = tmp_path / "first", tmp_path / "other"
    first.mkdir()
    other.mkdir()
    proc = _winnow("run", str(cfg), "--output", "runs/r", "--no-report", cwd=first)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = first / "runs" / "r"
    parquet = {k: v for k, v in _tree(run).items() if k.endswith(".parquet")}

    # The last stage is lost; the rerun comes from another folder, by an absolute path.
    shutil.rmtree(run / "02_exact_dedup")
    proc = _winnow("run", str(cfg), "--output", str(run), "--no-report", cwd=other)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "01_gopher_quality: 2 shards (0 to do)" in proc.stderr
    assert {k: v for k, v in _tree(run).items() if k.endswith(".parquet")} == parquet
    manifest = json.loads((run / "manifest.json").read_text())
    assert all(not o["path"].startswith(("/", "..")) for o in manifest["outputs"])
    assert _winnow("verify", str(run), cwd=other).returncode == 0

    moved = tmp_path / "moved"
    shutil.move(run, moved)
    verify = _winnow("verify", "moved", cwd=tmp_path)
    assert verify.returncode == 0, verify.stdout
    proc = _winnow("run", str(cfg), "--output", str(moved), "--no-report", cwd=other)
    assert proc.returncode == 0 and "phase 1/3" not in proc.stderr, proc.stderr[-3000:]  # nothing redone


def test_a_refused_rerun_changes_nothing_and_starts_no_ray(tmp_path: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text(CONFIG.format(data=REPO / "data" / "sample"))
    proc = _winnow("run", str(cfg), "--output", "run", "--no-report", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = _tree(tmp_path / "run")
    changed = tmp_path / "changed.yaml"
    text = cfg.read_text().replace("{type: exact_dedup}", "{type: exact_dedup, lowercase: false}")
    changed.write_text(text)
    proc = _winnow("run", str(changed), "--output", "run", "--no-report", cwd=tmp_path)
    assert proc.returncode != 0
    assert "written by a different config for stage '02_exact_dedup'" in proc.stderr
    assert "ray" not in proc.stderr.lower(), proc.stderr  # refused before Ray started
    assert _tree(tmp_path / "run") == before
