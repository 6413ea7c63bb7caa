"""`ray job submit --working-dir .` runs a config on a real Ray head (started here on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .ray_nodes import kill_node, ray_env, start_head, submit


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    env = ray_env()
    head, _, address = start_head(tmp_path_factory.mktemp("rayhead"), 2, env)
    yield address, env
    kill_node(head)


def test_ray_job_submit_runs_the_sample_config(ray_head, tmp_path: Path) -> None:
    address, env = ray_head
    out = tmp_path / "run"
    proc = submit(address, ["run", "configs/sample.yaml", "--output", str(out), "--no-report"], env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["balanced"]
    assert manifest["stages"][0]["totals"]["in"] > 100
