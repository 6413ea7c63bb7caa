"""An installed winnow, not a clone: the built wheel carries every module, config and bundled file, and
runs the main job from a folder that has no repository in it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "filters", "dedup", "tokenization")
RAY_INTERNALS = re.compile(r"core_worker|gcs_server|raylet|gcs_client|Token authentication|Progress bars")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the tree: setuptools' build/ folder in a clone can hold stale modules."""
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"
    skip = shutil.ignore_patterns(".git", "build", "dist", "runs", "*.egg-info", "__pycache__", ".*cache")
    shutil.copytree(REPO, src, ignore=skip)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*build, "-w", str(out), str(src)],
        cwd=src,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("winnow-*.whl")
    return built


def _source_files() -> set[str]:
    """What the wheel must hold: every module of the packages, and data/ and configs/ under _bundle."""
    want = {str(p.relative_to(REPO)) for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    for folder in ("data", "configs"):
        for p in (REPO / folder).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts:
                want.add(f"pipeline/_bundle/{p.relative_to(REPO)}")
    return want


def test_wheel_holds_every_module_and_bundled_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_source_files() - names)
    assert not missing, f"not in the wheel: {missing[:20]}"


@pytest.mark.slow
def test_installed_wheel_runs_the_sample_job_from_any_folder(wheel: Path, tmp_path: Path) -> None:
    """`pip install winnow-*.whl`, then `winnow run configs/sample.yaml` in an empty folder."""
    venv = tmp_path / "venv"
    # The venv sees the dependencies already installed here (no network); winnow itself comes from the wheel.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RAY_ADDRESS")}
    where = subprocess.run(
        [str(py), "-c", "import pipeline; print(pipeline.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    proc = subprocess.run(
        [str(venv / "bin" / "winnow"), "run", "configs/sample.yaml", "--output", "runs/sample"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "using winnow's bundled" in proc.stderr
    noisy = [line for line in proc.stderr.splitlines() if RAY_INTERNALS.search(line)]
    assert not noisy, "\n".join(noisy)
    assert "counts add up: yes; errors: 0" in proc.stdout
    run = elsewhere / "runs" / "sample"
    assert (run / "tokens" / "web_en_text_document.bin").is_file()
    assert (run / "report.html").is_file()


def test_unknown_config_names_the_bundled_ones(tmp_path: Path) -> None:
    from pipeline.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=r"no such config file \(bundled configs: .*sample"):
        load_config(tmp_path / "nope.yaml")
