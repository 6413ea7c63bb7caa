"""CPU seconds of a command and every process it starts, Ray's workers included, sampled from /proc.

`/usr/bin/time` and rusage count only children that were waited for; Ray's raylet and workers are
grandchildren that outlive the wait. This samples the whole process tree every `interval` seconds and
keeps each process's last utime + stime, so a worker that ran for 0.2 s or more is counted (a shorter
one loses at most its last interval). It also keeps the peak RSS of any one process.

    from bench.proc_cpu import run_measured
    wall, cpu, peak_rss, rc = run_measured(["winnow", "run", ...])
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    wall: float
    cpu: float  # seconds, all processes of the tree
    peak_rss_mb: float  # the largest resident set of any one process
    returncode: int
    driver_rss_mb: float = 0.0  # peak resident set of the command's own process


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def _tree(root: int) -> list[int]:
    kids = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _usage(pid: int) -> tuple[float, float] | None:
    """(cpu seconds, rss MB) of one process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # After the ")": state is field 0, utime 11, stime 12, rss 21 (stat fields 14, 15, 24).
    return (int(fields[11]) + int(fields[12])) / _TICK, int(fields[21]) * _PAGE / 2**20


def run_measured(cmd: list[str], interval: float = 0.2, **popen: object) -> Measured:
    """Run `cmd` to the end and measure it with every process it started."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen)  # type: ignore[call-overload]
    cpu: dict[int, float] = {}
    peak = driver = 0.0
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            got = _usage(pid)
            if got:
                cpu[pid] = max(cpu.get(pid, 0.0), got[0])
                peak = max(peak, got[1])
                if pid == proc.pid:
                    driver = max(driver, got[1])
        time.sleep(interval)
    wall = time.perf_counter() - start
    return Measured(wall, sum(cpu.values()), peak, proc.returncode, driver)
