"""`ray job submit --working-dir .` runs a config on a real Ray head (started here on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    ray_bin = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    port, dash = _free_port(), _free_port()
    # Own agent/metrics ports: the embedded test Ray on this machine already holds the defaults.
    agent_ports = [
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
        "--min-worker-port=20000",
        "--max-worker-port=20999",
    ]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    temp = tmp_path_factory.mktemp("rayhead")
    head = subprocess.Popen(
        [
            ray_bin,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dash}",
            "--include-dashboard=true",
            "--num-cpus=2",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
            *agent_ports,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dash}"
    deadline = time.time() + 120
    while time.time() < deadline:
        ok = subprocess.run([ray_bin, "job", "list", "--address", address], env=env, capture_output=True)
        if ok.returncode == 0:
            break
        if head.poll() is not None:
            pytest.fail("ray start --head exited early")
        time.sleep(2)
    else:
        os.killpg(head.pid, signal.SIGTERM)
        pytest.fail("the Ray head's job server did not come up in 120 s")
    yield ray_bin, address, env
    os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)


def test_ray_job_submit_runs_the_sample_config(ray_head, tmp_path: Path) -> None:
    ray_bin, address, env = ray_head
    out = tmp_path / "run"
    excludes = json.dumps({"excludes": ["runs/", ".git/", "bench/"]})
    cmd = [ray_bin, "job", "submit", "--address", address, "--working-dir", str(REPO),
           "--runtime-env-json", excludes, "--",
           "winnow", "run", "configs/sample.yaml", "--output", str(out), "--no-report"]  # fmt: skip
    for _ in range(30):  # the job agent registers a little after the job server answers
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
        if "No available agent" not in proc.stderr + proc.stdout:
            break
        time.sleep(3)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["balanced"]
    assert manifest["stages"][0]["totals"]["in"] > 100
