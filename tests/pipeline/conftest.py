"""Fixtures of the pipeline tests: the main job, run once for every test that reads its output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.runner import run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sample_run(ray_session, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """configs/sample.yaml run in-process on the shared Ray session: (run dir, manifest)."""
    out = tmp_path_factory.mktemp("sample") / "run"
    manifest = run(load_config(REPO / "configs" / "sample.yaml"), str(out))
    return out, manifest
