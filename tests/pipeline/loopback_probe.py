"""Run as a script by test_loopback.py: start winnow's embedded Ray, print what its processes listen on.

A separate process, so that its Ray is not the test session's shared one. Prints one JSON object:
`listeners` ([pid, command, address, port] for every listening TCP socket and bound UDP socket of this
process and all its descendants, read from /proc) and `token_mode` (of ~/.ray/auth_token).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

TCP_LISTEN, UDP_UNCONNECTED = "0A", "07"
LATE = ("monitor.py", "dashboard.py")  # their metrics servers start seconds after ray.init returns


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _ip(hex_addr: str, family: socket.AddressFamily) -> str:
    raw = bytes.fromhex(hex_addr)
    if family == socket.AF_INET:
        return socket.inet_ntop(family, raw[::-1])
    return socket.inet_ntop(family, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def bound_sockets() -> dict[int, tuple[str, str, int]]:
    """Socket inode -> (protocol, address, port) of every listening TCP / bound UDP socket here."""
    out = {}
    for proto, family, state in (
        ("tcp", socket.AF_INET, TCP_LISTEN),
        ("tcp6", socket.AF_INET6, TCP_LISTEN),
        ("udp", socket.AF_INET, UDP_UNCONNECTED),
        ("udp6", socket.AF_INET6, UDP_UNCONNECTED),
    ):
        try:
            with open(f"/proc/net/{proto}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != state:
                continue
            addr, port = fields[1].split(":")
            out[int(fields[9])] = (proto, _ip(addr, family), int(port, 16))
    return out


def listeners(pids: list[int]) -> list[list]:
    sockets = bound_sockets()
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            with open(f"/proc/{pid}/cmdline") as f:
                cmd = f.read().replace("\0", " ").strip()
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and int(link[8:-1]) in sockets:
                proto, addr, port = sockets[int(link[8:-1])]
                found.append([pid, cmd[:200], proto, addr, port])
    return found


def main() -> None:
    import ray

    from pipeline.config import RayConfig
    from pipeline.local_ray import token_path
    from pipeline.ray_exec import ensure_ray

    ensure_ray(RayConfig(num_cpus=1))

    @ray.remote
    def pid() -> int:
        return os.getpid()

    ray.get([pid.remote() for _ in range(2)])  # workers started, so their servers are listed too
    seen: dict[tuple, list] = {}
    deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 40)
    while True:
        for entry in listeners(descendants(os.getpid())):
            seen[(entry[0], entry[2], entry[3], entry[4])] = entry
        late = [any(name in e[1] for e in seen.values()) for name in LATE]
        if all(late) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    mode = os.stat(token_path()).st_mode & 0o777 if os.path.exists(token_path()) else None
    print(json.dumps({"listeners": sorted(seen.values()), "token_mode": mode, "late_seen": late}))
    ray.shutdown()


if __name__ == "__main__":
    main()
