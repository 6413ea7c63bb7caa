"""Every shipped config loads: keys, types and stage parameters are valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_loads_and_builds(path: Path) -> None:
    config = load_config(path)
    assert config.sources
    for stage in config.stage_configs():
        assert stage.build() is not None
