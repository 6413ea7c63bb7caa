"""Shared fixtures: the real data folder `../shared/data` (skip when absent) and one Ray session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the clone; tests that need it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data tests need ../shared/data beside the repo ({SHARED_DATA} not found)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ray_session():
    """One embedded Ray for the whole test session (starting Ray costs ~4 s)."""
    import ray

    if not ray.is_initialized():
        os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
