"""Real Ray nodes on this machine for the tests that submit jobs (`ray start`, as an operator would).

Each node is its own `ray start --block` in its own session, so a test can kill one node's whole
process tree (raylet, object store, its workers) like a machine that went away. Every port a node
opens is a free one: the suite's embedded Ray and other nodes on this machine hold the defaults.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .loopback_probe import descendants

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_bin() -> str:
    return shutil.which("ray") or str(Path(sys.executable).parent / "ray")


def ray_env() -> dict[str, str]:
    """The environment of the `ray` CLI: token auth on, never the suite's own RAY_ADDRESS, and
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 so that --node-ip-address=127.0.0.1 holds and every service of
    every node listens on loopback (pipeline/local_ray.py). Worker nodes need `ray start` itself to
    think otherwise (see WORKER_START)."""
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    return env


WORKER_START = """
import sys
from ray._private import ray_constants, services
ray_constants.ENABLE_RAY_CLUSTER = True
services.resolve_ip_for_localhost = lambda host: host
from ray.scripts.scripts import main
sys.argv = ["ray", *sys.argv[1:]]
main()
"""
"""`ray start --address` for a worker node on loopback. Ray 2.60 refuses worker nodes when
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 and, without it, replaces 127.0.0.1 by the machine's reachable
address. In this one process the check is passed and 127.0.0.1 kept; the processes it starts (raylet,
agents, workers) inherit the variable and bind loopback."""


def _node_ports(worker_ports: tuple[int, int]) -> list[str]:
    return [
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--min-worker-port={worker_ports[0]}",
        f"--max-worker-port={worker_ports[1]}",
    ]


def start_head(
    temp: Path, num_cpus: int, env: dict[str, str], worker_ports: tuple[int, int] = (20000, 20999)
) -> tuple[subprocess.Popen, str, str]:
    """A head node with its job server: (process, GCS address, dashboard URL) once jobs can be listed."""
    port, dash = free_port(), free_port()
    head = subprocess.Popen(
        [ray_bin(), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--include-dashboard=true",
         f"--num-cpus={num_cpus}", "--disable-usage-stats", f"--temp-dir={temp}",
         *_node_ports(worker_ports)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    address = f"http://127.0.0.1:{dash}"
    deadline = time.time() + 120
    while time.time() < deadline:
        ok = subprocess.run([ray_bin(), "job", "list", "--address", address], env=env, capture_output=True)
        if ok.returncode == 0:
            return head, f"127.0.0.1:{port}", address
        if head.poll() is not None:
            pytest.fail("ray start --head exited early")
        time.sleep(1)
    stop(head)
    pytest.fail("the Ray head's job server did not come up in 120 s")


def start_worker(
    gcs: str, num_cpus: int, env: dict[str, str], worker_ports: tuple[int, int], folder: Path
) -> subprocess.Popen:
    """A worker node joining the head at `gcs` (same machine, its own ports). Start one at a time
    (`wait_nodes` in between): two started at once on one IP race for the same raylet socket name.
    Its `ray start` output goes to `folder/ray-start.log`, the one place that says why it did not join."""
    folder.mkdir(parents=True, exist_ok=True)
    sockets = [f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}"]
    with (folder / "ray-start.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER_START, "start", "--block", f"--address={gcs}",
             "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}", "--disable-usage-stats", *sockets,
             *_node_ports(worker_ports)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def wait_nodes(
    address: str, env: dict[str, str], n: int, nodes: list[subprocess.Popen], timeout: float = 180
) -> None:
    """Until the cluster at dashboard `address` has `n` live nodes; fails if a node's `ray start` exits."""
    deadline = time.time() + timeout
    while True:
        cmd = [ray_bin(), "list", "nodes", "--address", address, "--format=json", "--filter=state=ALIVE"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.stdout.count('"state": "ALIVE"') >= n:
            return
        if time.time() > deadline or any(w.poll() is not None for w in nodes):
            pytest.fail(f"{n} Ray nodes did not come up: {out.stdout[-300:]} {out.stderr[-300:]}")
        time.sleep(1)


def titles(node: subprocess.Popen) -> dict[int, str]:
    """PID -> command line (Ray's process title, e.g. `ray::MapBatches(run)`) of a node's processes."""
    out = {}
    for pid in descendants(node.pid):
        with contextlib.suppress(OSError):
            out[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return out


def kill_node(node: subprocess.Popen) -> list[str]:
    """SIGKILL every process of a node at once (as if its machine died); returns their titles."""
    procs = titles(node)
    for pid in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    node.wait(timeout=30)
    return list(procs.values())


def stop(node: subprocess.Popen) -> None:
    if node.poll() is not None:
        return
    os.killpg(node.pid, signal.SIGTERM)
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(node.pid, signal.SIGKILL)


def submit_cmd(address: str, args: list[str], env_vars: dict[str, str] | None = None) -> list[str]:
    """`ray job submit` of `winnow <args>` with this repo as the working dir."""
    import json

    runtime_env = {"excludes": ["runs/", ".git/", "bench/"], "env_vars": env_vars or {}}
    return [ray_bin(), "job", "submit", "--address", address, "--working-dir", str(REPO),
            "--runtime-env-json", json.dumps(runtime_env), "--", "winnow", *args]  # fmt: skip


def submit(
    address: str,
    args: list[str],
    env: dict[str, str],
    env_vars: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """Submit and wait, retrying while the head's job agent has not registered yet."""
    cmd = submit_cmd(address, args, env_vars)
    for _ in range(30):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if "No available agent" not in proc.stderr + proc.stdout:
            break
        time.sleep(3)
    return proc
