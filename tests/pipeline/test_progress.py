"""Progress display: live line on a terminal, periodic log lines elsewhere, fed by map_items results."""

from __future__ import annotations

import io

import pytest

from pipeline import progress as progress_mod
from pipeline.progress import Progress, fmt_bytes, fmt_duration


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_log_mode_prints_every_interval_and_a_final_line() -> None:
    clock, lines = Clock(), []
    p = Progress(io.StringIO(), mode="log", interval=10, clock=clock, emit=lines.append, ticker=False)
    with p.stage("read", items=4, total_bytes=4 * 2**20, unit="files") as st:
        clock.t += 2
        st.update({"shard": "a", "docs": 1000, "bytes": 2**20})
        clock.t += 5  # 7 s: no line yet
        st.update({"shard": "b", "docs": 1000, "bytes": 2**20})
        clock.t += 5  # 12 s: a line, 2 of 4 files, half the bytes -> ETA = elapsed
        st.update({"shard": "c", "docs": 500, "bytes": 2**20})
        clock.t += 3
        st.update({"shard": "d", "docs": 500, "bytes": 2**20})
    assert len(lines) == 2, lines
    assert lines[0] == ("read: 3/4 files (75%) · 2,500 docs · 208 docs/s · 256.0 KB/s · ETA 0:04 · "
                        "3.0 MB/4.0 MB · elapsed 0:12")
    assert lines[1].startswith("read: 4/4 files (100%) · 3,000 docs") and "done in 0:15" in lines[1]


def test_eta_follows_bytes_when_known_else_items() -> None:
    clock = Clock()
    p = Progress(io.StringIO(), mode="log", clock=clock, emit=lambda s: None, ticker=False)
    st = p.stage("filter", items=10, total_bytes=1000)
    clock.t += 10
    st.update({"docs": 5, "bytes": 250})  # 1 of 10 items, but a quarter of the bytes
    assert st.fraction() == pytest.approx(0.25)
    assert st.eta() == pytest.approx(30.0)
    st2 = p.stage("dedup", items=4)
    clock.t += 8
    st2.update({"shard": "x"})
    assert st2.eta() == pytest.approx(24.0)


def test_live_mode_redraws_one_line_and_ends_with_newline() -> None:
    clock, out = Clock(), io.StringIO()
    p = Progress(out, mode="live", clock=clock, ticker=False)
    with p.stage("04_perplexity", items=3) as st:
        for k in range(3):
            clock.t += 1
            st.update({"shard": str(k), "docs": 10, "bytes": 100})
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    frames = text.rstrip("\n").split("\r")[1:]
    assert frames[0].startswith("04_perplexity: 0/3 shards")
    assert frames[-1].rstrip() == ("04_perplexity: 3/3 shards (100%) · 30 docs · 10 docs/s · 100 B/s · "
                                   "done in 0:03 · 300 B")
    assert all(len(f.rstrip()) < 120 for f in frames)  # fits the (default) terminal width


def test_ticker_keeps_a_live_line_moving_while_an_item_runs() -> None:
    out = io.StringIO()
    p = Progress(out, mode="live", refresh=0.02)
    import time

    with p.stage("read", items=1):
        time.sleep(0.15)
    assert out.getvalue().count("\r") >= 3


def test_bad_results_never_break_a_run_and_env_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    clock = Clock()
    p = Progress(io.StringIO(), mode="log", emit=lines.append, ticker=False, clock=clock)
    st = p.stage("x", items=2)
    st.update({"docs": "not a number"})
    st.update({"docs": 3})
    clock.t += 1
    st.close()
    assert st.docs == 3
    monkeypatch.setenv("WINNOW_PROGRESS", "off")
    out = io.StringIO()
    quiet = Progress(out, emit=lines.append, ticker=False)
    assert quiet.mode == "off"
    with quiet.stage("y", items=1) as s:
        s.update({"docs": 1})
    assert out.getvalue() == "" and lines == ["x: 2/2 shards (100%) · 3 docs · 3 docs/s · done in 0:01"]


def test_mode_defaults_to_log_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WINNOW_PROGRESS", raising=False)
    assert Progress(io.StringIO(), ticker=False).mode == "log"


def test_phase_reports_to_the_active_progress_only() -> None:
    with progress_mod.phase("dedup: hash", 2) as ph:  # nothing active: silent no-op
        ph.update({"docs": 1})
    lines: list[str] = []
    p = Progress(io.StringIO(), mode="log", emit=lines.append, ticker=False)
    progress_mod.activate(p)
    try:
        with p.stage("05_exact_dedup"), progress_mod.phase("05_exact_dedup: hash", 2) as ph:
            ph.update({"docs": 4})
            ph.update({"docs": 4})
    finally:
        progress_mod.activate(None)
    assert lines[-2].startswith("05_exact_dedup: hash: 2/2 tasks (100%) · 8 rows")
    assert lines[-1].startswith("05_exact_dedup: done in")
    assert not p.active


def test_formatting() -> None:
    assert fmt_bytes(512) == "512 B" and fmt_bytes(3 * 2**30) == "3.0 GB"
    assert fmt_duration(59) == "0:59" and fmt_duration(3723) == "1:02:03" and fmt_duration(None) == "?"


class _CountWords:
    """A real work item body: counts the words of a small text file (stands for a shard)."""

    def __call__(self, item: dict) -> dict:
        with open(item["path"], encoding="utf-8") as f:
            text = f.read()
        return {"shard": item["shard"], "docs": len(text.splitlines()), "bytes": len(text.encode())}


@pytest.mark.ray
def test_map_items_calls_on_result_per_item_in_order(ray_session, tmp_path) -> None:
    from pipeline.config import RayConfig
    from pipeline.ray_exec import map_items

    items = []
    for k in range(4):
        path = tmp_path / f"s{k}.txt"
        path.write_text("line\n" * (k + 1), encoding="utf-8")
        items.append({"shard": f"s{k}", "path": str(path)})
    lines: list[str] = []
    p = Progress(io.StringIO(), mode="log", emit=lines.append, ticker=False, interval=0)
    seen: list[str] = []
    with p.stage("count", items=len(items), total_bytes=sum(5 * (k + 1) for k in range(4))) as st:

        def on_result(r: dict) -> None:
            seen.append(r["shard"])
            st.update(r)

        results = map_items(items, _CountWords, RayConfig(num_workers=2), on_result=on_result)
    assert seen == ["s0", "s1", "s2", "s3"] == [r["shard"] for r in results]
    assert st.done == 4 and st.docs == 10 and st.bytes == 50
    assert lines[-1].startswith("count: 4/4 shards (100%) · 10 docs · ")
    assert lines[-1].endswith(" · 50 B/50 B")
