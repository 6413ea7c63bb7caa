"""Per-stage progress of a run: work items, documents and bytes done, rate and ETA.

In a terminal it is one live line on stderr, redrawn in place; elsewhere (`ray job submit`, CI, a log
file) it is a plain log line every `interval` seconds and one when the stage ends, so logs read later
still tell how far a run got and how fast. The runner feeds it the small result dict of each work item
as `map_items` returns it (`on_result=stage.update`); results may carry "docs" and "bytes".
`WINNOW_PROGRESS=live|log|off` overrides the choice.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

log = logging.getLogger("winnow")

MODES = ("live", "log", "off")


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_count(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e4:
        return f"{n / 1e3:.1f}k"
    return f"{n:,.0f}"


class StageProgress:
    """Progress of one stage (or one phase of a global stage). `update` is the map_items callback."""

    def __init__(self, owner: Progress, name: str, items: int | None, total_bytes: int | None,
                 unit: str, counted: str = "docs") -> None:
        self.owner, self.name, self.items, self.total_bytes, self.unit = owner, name, items, total_bytes, unit
        self.counted = counted  # what results' "docs" count: documents, or rows of a shuffle phase
        self.done = 0
        self.docs = 0
        self.bytes = 0
        self.started = owner.clock()
        self.last_emit = self.started
        self.closed = False

    # -------- figures
    def elapsed(self) -> float:
        return max(0.0, self.owner.clock() - self.started)

    def fraction(self) -> float | None:
        """Share of the work done: by bytes when the total is known and results report bytes, else items."""
        if self.total_bytes and self.bytes:
            return min(1.0, self.bytes / self.total_bytes)
        if self.items:
            return min(1.0, self.done / self.items)
        return None

    def eta(self) -> float | None:
        frac = self.fraction()
        if not frac:
            return None
        return self.elapsed() * (1.0 - frac) / frac

    def line(self, final: bool = False) -> str:
        """The status text, most telling first (a narrow terminal cuts the end), e.g.
        `read: 7/10 files (70%) · 12.3k docs · 850 docs/s · 12.0 MB/s · ETA 0:42 · 1.2 GB/3.4 GB · 1:38`."""
        t = self.elapsed()
        parts = []
        if self.items is not None:
            frac = self.fraction()
            pct = f" ({100 * frac:.0f}%)" if frac is not None else ""
            parts.append(f"{self.done}/{self.items} {self.unit}{pct}")
        elif self.done:
            parts.append(f"{self.done} {self.unit}")
        if self.docs:
            parts.append(f"{fmt_count(self.docs)} {self.counted}")
        if t > 0 and self.docs:
            parts.append(f"{fmt_count(self.docs / t)} {self.counted}/s")
        if t > 0 and self.bytes:
            parts.append(f"{fmt_bytes(self.bytes / t)}/s")
        eta = None if final or not self.done else self.eta()
        if final:
            parts.append(f"done in {fmt_duration(t)}")
        elif eta is not None:
            parts.append(f"ETA {fmt_duration(eta)}")
        if self.bytes:
            parts.append(f"{fmt_bytes(self.bytes)}/{fmt_bytes(self.total_bytes)}" if self.total_bytes
                         else fmt_bytes(self.bytes))
        if not final:
            parts.append(f"elapsed {fmt_duration(t)}")
        return f"{self.name}: " + " · ".join(parts)

    # -------- events
    def update(self, result: dict[str, Any]) -> None:
        """Count one finished work item; never raises (progress must not break a run)."""
        try:
            with self.owner.lock:
                self.done += 1
                self.docs += int(result.get("docs") or 0)
                self.bytes += int(result.get("bytes") or 0)
                self.owner.tick(self)
        except Exception:  # a malformed result: skip it, the run goes on
            log.debug("progress: could not count result %r", result, exc_info=True)

    def close(self) -> None:
        with self.owner.lock:
            if not self.closed:
                self.closed = True
                self.owner.finish(self)

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.owner.release(self)


class _NoProgress(StageProgress):
    def update(self, result: dict[str, Any]) -> None:
        return None

    def close(self) -> None:
        return None


class Progress:
    """Chooses the display (live line on a TTY, periodic log lines otherwise) and draws it.

    A background thread refreshes the display so a long work item still shows time passing.
    """

    def __init__(self, stream: TextIO | None = None, *, mode: str | None = None, interval: float = 10.0,
                 refresh: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 emit: Callable[[str], None] | None = None, ticker: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stderr
        env = os.environ.get("WINNOW_PROGRESS", "").strip().lower()
        if mode is None:
            mode = env if env in MODES else ("live" if _isatty(self.stream) else "log")
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {MODES}, not {mode!r}")
        self.mode, self.interval, self.refresh, self.clock = mode, interval, refresh, clock
        self.emit = emit or log.info
        self.lock = threading.RLock()
        self.active: list[StageProgress] = []  # a stack: a global stage's phases sit on top of the stage
        self._width = 0
        self._ticker = ticker
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def stage(self, name: str, items: int | None = None, total_bytes: int | None = None,
              unit: str = "shards", counted: str = "docs") -> StageProgress:
        """Start tracking a stage of `items` work items (and `total_bytes` of input, when known)."""
        if self.mode == "off":
            return _NoProgress(self, name, items, total_bytes, unit, counted)
        sp = StageProgress(self, name, items, total_bytes, unit, counted)
        with self.lock:
            self.active.append(sp)
            if self.mode == "live":
                self._draw(sp.line())
        self._start_ticker()
        return sp

    # -------- drawing (called with the lock held)
    def tick(self, sp: StageProgress, *, timer: bool = False) -> None:
        if sp.closed:
            return
        now = self.clock()
        if self.mode == "live":
            if timer or now - sp.last_emit >= min(self.refresh, 0.1) or sp.done == sp.items:
                sp.last_emit = now
                self._draw(sp.line())
        elif self.mode == "log" and now - sp.last_emit >= self.interval:
            sp.last_emit = now
            self.emit(sp.line())

    def finish(self, sp: StageProgress) -> None:
        if self.mode == "live":
            self._draw(sp.line(final=True))
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
        elif self.mode == "log":
            self.emit(sp.line(final=True))

    def release(self, sp: StageProgress) -> None:
        with self.lock:
            if sp in self.active:
                self.active.remove(sp)
            idle = not self.active
        if idle:
            self._stop_ticker()

    def _draw(self, text: str) -> None:
        cols = _columns(self.stream)
        if len(text) > cols - 1:
            text = text[: cols - 2] + "…"
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    # -------- background refresh
    def _start_ticker(self) -> None:
        if not self._ticker or self._thread is not None:
            return
        self._stop = threading.Event()
        period = self.refresh if self.mode == "live" else min(self.interval, 1.0)
        stop = self._stop

        def run() -> None:
            while not stop.wait(period):
                with self.lock:
                    if self.active:
                        self.tick(self.active[-1], timer=self.mode == "live")

        self._thread = threading.Thread(target=run, name="winnow-progress", daemon=True)
        self._thread.start()

    def _stop_ticker(self) -> None:
        if self._thread is not None and self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=2)
        self._thread = None
        self._stop = None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _columns(stream: Any) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 120


_current: Progress | None = None


def activate(progress: Progress | None) -> None:
    """Make `progress` the one `phase()` reports to (the runner sets it for the length of a run)."""
    global _current
    _current = progress


@contextmanager
def phase(name: str, items: int | None = None, total_bytes: int | None = None,
          unit: str = "tasks", counted: str = "rows") -> Iterator[StageProgress]:
    """Progress of one phase of a global stage; a no-op when no Progress is active. Use:
    `with phase("minhash_dedup: signatures", len(items)) as p: map_items(..., on_result=p.update)`."""
    owner = _current or Progress(mode="off", ticker=False)
    with owner.stage(name, items, total_bytes, unit, counted) as sp:
        yield sp
