"""The embedded local Ray listens on loopback only, on free ports, and keeps its auth token 0600.

Each Ray here is started by winnow's `ensure_ray` in its own process (tests/pipeline/loopback_probe.py),
not the suite's shared session, with its own HOME so that the token file is the one that run made.
Every listening socket of that process tree is read from /proc.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import local_ray

PROBE = Path(__file__).with_name("loopback_probe.py")
REPO = Path(__file__).resolve().parents[2]
FIXED_PORTS = {44217, 44227, 52365, 8265}  # Ray's defaults: autoscaler / dashboard metrics, agent, UI


def _probe_module():
    spec = importlib.util.spec_from_file_location("loopback_probe", PROBE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_loopback(addr: str) -> bool:
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # an IPv6 socket bound to ::ffff:127.0.0.1
    return ip.is_loopback


def _start_probe(home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(PROBE)],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _result(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_the_socket_listing_sees_a_listening_socket() -> None:
    """The probe's /proc reading finds a socket this process listens on (else the test proves nothing)."""
    probe = _probe_module()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        found = probe.listeners(probe.descendants(os.getpid()))
    assert any(e[0] == os.getpid() and e[3] == "127.0.0.1" and e[4] == port for e in found), found
    assert _is_loopback("::ffff:127.0.0.1") and _is_loopback("::1") and not _is_loopback("0.0.0.0")
    assert not _is_loopback("::") and not _is_loopback("192.0.2.2")


def test_the_token_file_is_created_private_and_an_old_one_is_made_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
    local_ray.create_private_token()
    token = tmp_path / ".ray" / "auth_token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text()) == 64
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700
    before = token.read_text()
    local_ray.create_private_token()  # an existing token is the cluster's: never replaced
    assert token.read_text() == before
    token.chmod(0o644)
    local_ray.private_token_file()
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    other = tmp_path / "other"
    monkeypatch.setenv("HOME", str(other))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # no token auth: no token file made for it
    local_ray.create_private_token()
    assert not (other / ".ray" / "auth_token").exists()


@pytest.mark.slow
def test_two_concurrent_embedded_rays_listen_on_loopback_only_on_free_ports(tmp_path: Path) -> None:
    procs = [_start_probe(tmp_path / f"home{i}") for i in range(2)]
    results = [_result(p) for p in procs]
    ports = []
    for r in results:
        listening = r["listeners"]
        assert len(listening) >= 8, listening  # driver, GCS, raylet, agents, workers at least
        exposed = [e for e in listening if not _is_loopback(e[3])]
        assert not exposed, exposed
        fixed = [e for e in listening if e[4] in FIXED_PORTS]
        assert not fixed, fixed
        assert r["token_mode"] == 0o600
        ports.append({e[4] for e in listening})
        # the metrics servers that used fixed ports were seen, on loopback, and the agent's HTTP server
        assert r["late_seen"] == [True, True], listening
        assert any("DashboardAgent" in e[1] for e in listening), listening
    assert not ports[0] & ports[1], ports[0] & ports[1]


@pytest.mark.ray
def test_the_shared_test_session_is_on_loopback_too(ray_session) -> None:
    assert ray_session.util.get_node_ip_address() == local_ray.LOOPBACK
