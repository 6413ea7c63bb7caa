"""Poison documents: a document that kills its Ray worker (a segfault in a native library, os._exit,
running out of memory) is quarantined with reason `worker_crash`, never retried forever.

Ray retries a task whose worker died `ray.task_retries` times (`ray_exec.map_items`); a shard of a
document stage that still kills its worker comes here. Its documents are bisected by probe tasks that
run the stages on a range of the shard and write nothing (retried never: a death is the answer): a
range whose probe dies is split, until single documents remain; one more probe per stage finds the
stage that dies on each (and confirms it). The shard is then run for real with those documents
rejected in that stage, in their place in the batch, so its output is the same bytes as a run where
the stage had rejected them, whatever the worker count. An empty probe that dies means the stage's
setup kills the worker, not a document: the run fails, nothing is quarantined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dedup.shuffle import count_rows
from pipeline.ceiling import WORKER_CRASH
from pipeline.config import RayConfig
from pipeline.ray_exec import Factory, TaskFailed, WorkerCrashed, map_items

log = logging.getLogger("winnow")

CRASH_NOTE = "killed its Ray worker (segfault, os._exit or out of memory) on every attempt: not processed"
SPLIT = 8
"""Parts a dying range is split into per round: about log8(documents) rounds of probes."""

Probe = tuple[str, int, int, int | None]  # shard, first document, end, last stage index (None: all)


def isolate(
    crash: WorkerCrashed,
    factory: Factory,
    cfg: RayConfig,
    stage_names: list[str],
    *,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Find the documents of `crash.items` (shards) that kill their worker, then run those shards with
    them quarantined. Raises WorkerCrashed when a shard still dies, TaskFailed for `crash.failed`."""
    log.warning("%s; looking for the documents that do it", crash)
    found = find(crash.items, factory, cfg, stage_names)
    for shard, docs in sorted(found.items()):
        for i, stage in sorted(docs.items()):
            log.warning(
                "stage %s: document %d of shard %s kills its Ray worker: quarantined as %s",
                stage,
                i,
                shard,
                WORKER_CRASH,
            )
    items = [
        {**it, "poison": {str(i): st for i, st in sorted(found.get(it["shard"], {}).items())}}
        for it in crash.items
    ]
    map_items(items, factory, cfg, on_result=on_result)
    if crash.failed:
        more = f" (and {len(crash.failed) - 1} more tasks)" if len(crash.failed) > 1 else ""
        raise TaskFailed(f"{crash.failed[0]}{more}")


def find(
    items: list[dict[str, Any]], factory: Factory, cfg: RayConfig, stage_names: list[str]
) -> dict[str, dict[int, str]]:
    """Shard -> {document position in the shard: stage it kills the worker in}."""
    files = {it["shard"]: it["files"] for it in items}
    controls: list[Probe] = [(shard, 0, 0, None) for shard in sorted(files)]  # no document at all
    dead = _died(controls, files, factory, cfg)
    if dead:
        raise TaskFailed(
            f"shard {dead[0][0]}: the stages ({', '.join(stage_names)}) kill their Ray worker before "
            "any document, in setup: no document is to blame"
        )
    probes = [p for shard in sorted(files) for p in _split(shard, 0, count_rows(files[shard]))]
    suspects: list[tuple[str, int]] = []
    while probes:
        nxt: list[Probe] = []
        for shard, lo, hi, _ in _died(probes, files, factory, cfg):
            if hi - lo == 1:
                suspects.append((shard, lo))
            else:
                nxt.extend(_split(shard, lo, hi))
        probes = nxt
    by_stage = [(shard, i, i + 1, j) for shard, i in suspects for j in range(len(stage_names))]
    died = set(_died(by_stage, files, factory, cfg))
    found: dict[str, dict[int, str]] = {}
    for shard, i in suspects:
        stages = [j for j in range(len(stage_names)) if (shard, i, i + 1, j) in died]
        if stages:  # else it died once and not again: not deterministic, so not quarantined
            found.setdefault(shard, {})[i] = stage_names[min(stages)]
    return found


def _split(shard: str, lo: int, hi: int) -> list[Probe]:
    step = max(1, -(-(hi - lo) // SPLIT))
    return [(shard, a, min(a + step, hi), None) for a in range(lo, hi, step)]


def _died(probes: list[Probe], files: dict[str, list[str]], factory: Factory, cfg: RayConfig) -> list[Probe]:
    """The probes whose worker died (each run once: a death is the answer, not a fault to retry)."""
    if not probes:
        return []
    items = [{"shard": s, "files": files[s], "probe": [lo, hi], "upto": upto} for s, lo, hi, upto in probes]
    try:
        map_items(items, factory, cfg.model_copy(update={"task_retries": 0}))
    except WorkerCrashed as crash:
        if crash.failed:
            raise TaskFailed(crash.failed[0]) from None
        return [(it["shard"], it["probe"][0], it["probe"][1], it["upto"]) for it in crash.items]
    return []
