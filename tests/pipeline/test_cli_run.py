"""The main job as a user runs it: `winnow run configs/sample.yaml` in a fresh process, own embedded Ray.

What it prints is part of the product: winnow's own lines only, no Ray internals that read as failures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WINNOW = [sys.executable, "-m", "pipeline.cli"]
RAY_INTERNALS = re.compile(r"core_worker|gcs_server|raylet|gcs_client|Token authentication|Progress bars")


@pytest.mark.slow
def test_sample_job_prints_only_winnow_lines(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [*WINNOW, "run", "configs/sample.yaml", "--output", str(out), "--no-report"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    noisy = [line for line in proc.stderr.splitlines() if RAY_INTERNALS.search(line)]
    assert not noisy, "\n".join(noisy)
    assert "counts add up: yes; errors: 0" in proc.stdout
    assert (out / "tokens" / "web_en_text_document.bin").is_file()


def test_version_and_help() -> None:
    version = subprocess.run([*WINNOW, "--version"], capture_output=True, text=True, cwd=REPO)
    assert version.returncode == 0 and re.fullmatch(r"winnow \S+\n", version.stdout)
    helped = subprocess.run([*WINNOW, "--help"], capture_output=True, text=True, cwd=REPO)
    assert helped.returncode == 0 and "run" in helped.stdout


def test_cli_module_runs_as_a_script() -> None:
    """`python pipeline/cli.py` put pipeline/ first on sys.path, where inspect.py shadowed the stdlib."""
    proc = subprocess.run(
        [sys.executable, "pipeline/cli.py", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
