"""The phases of a global stage (exact, line and MinHash dedup, tokenize): run, shown, measured, resumed.

A global stage is a sequence of phases, each a map of one task class over small work items (input
shards or shuffle partitions). `PhaseRunner` owns what every such stage needs around its phases:

- **resume**: a task writes a completion marker (its result) atomically after its outputs, and a
  finished phase writes one summary of all its results; a rerun after a failure anywhere skips every
  finished phase and every finished task of the unfinished one. Outputs of a task are deterministic
  files, so a task that died half-way is simply run again and overwrites them.
- **one work dir per config**: the work dir carries the fingerprint of the stage's config and
  parameters; a different one (or none) wipes it first, so nothing of another config is reused.
- **progress**: `<stage>: phase k/N <name>: tasks done/total, rows, rate, ETA` live on a terminal
  and as log lines elsewhere (pipeline/progress.py).
- **stats**: per phase, tasks, seconds, the numeric fields of the results summed (rows, bytes, ...)
  and the largest peak RSS of a worker, for the stage's `_extra/<stage>.json`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from pipeline import progress, storage
from pipeline.schema import dumps
from pipeline.step import StageContext

log = logging.getLogger("winnow")

FINGERPRINT = "fingerprint.json"
WORK_FORMAT = 2
"""Layout of the files in work dirs (2: one shuffle file per writer task); a change wipes old ones."""
SUMMARY = "_phase.json"
"""Written in a phase's marker folder when every task of the phase has finished."""


def item_key(item: dict[str, Any]) -> str:
    """A task's marker name: a digest of its work item, so it does not depend on the item's position."""
    return hashlib.sha256(dumps(item).encode()).hexdigest()[:24]


def peak_rss_mb() -> float:
    """Peak resident memory of this worker process so far, in MiB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class _Marked:
    """Runs one task, then records its result (with seconds and the worker's peak RSS) as its marker."""

    def __init__(self, factory: Callable[[], Callable[[dict[str, Any]], dict[str, Any]]], marker_dir: str):
        self.fn = factory()
        self.marker_dir = marker_dir

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        start = time.monotonic()
        result = dict(self.fn(item))
        result["seconds"] = round(time.monotonic() - start, 3)
        result["max_rss_mb"] = peak_rss_mb()
        path = storage.join(self.marker_dir, item_key(item) + ".json")
        storage.atomic_write(path, (dumps(result) + "\n").encode())
        return result


class PhaseRunner:
    """Runs the phases of one global stage in `ctx`. `params` is everything the phases' outputs depend
    on beyond the stage config (partition count, tokenizer digest, ...); `phases` the planned count,
    which `plan_more` raises when a phase's result asks for more (MinHash's label rounds)."""

    def __init__(self, ctx: StageContext, params: dict[str, Any], phases: int) -> None:
        self.ctx = ctx
        self.total = phases
        self.index = 0
        self.stats: dict[str, dict[str, Any]] = {}
        self.root = storage.join(ctx.work_dir, "_phases")
        # The work dir's own path is not part of it: the same config's work resumes wherever it lies.
        same = {k: v for k, v in params.items() if k != "work_dir"}
        key = {"stage": ctx.config_hash, "params": same, "format": WORK_FORMAT}
        fingerprint = hashlib.sha256(dumps(key).encode()).hexdigest()
        path = storage.join(self.root, FINGERPRINT)
        old = json.loads(storage.read_bytes(path)).get("fingerprint") if storage.exists(path) else None
        if old != fingerprint:
            if storage.exists(ctx.work_dir):
                log.info("%s: work dir of another config or winnow version: starting afresh", ctx.stage_name)
            storage.remove_tree(ctx.work_dir)
            storage.atomic_write(path, (dumps({"fingerprint": fingerprint}) + "\n").encode())

    def plan_more(self, phases: int) -> None:
        self.total += phases

    def run(
        self,
        name: str,
        items: list[dict[str, Any]],
        factory: Callable[[], Callable[[dict[str, Any]], dict[str, Any]]],
        *,
        round: int | None = None,
        stateful: bool = False,
    ) -> list[dict[str, Any]]:
        """Run `factory()(item)` for every item not yet done; return all results in item order."""
        from pipeline.ray_exec import map_items

        self.index += 1
        folder = name if round is None else f"{name}-r{round:04d}"
        marker_dir = storage.join(self.root, folder)
        label = f"{self.ctx.stage_name}: phase {self.index}/{max(self.total, self.index)} {name}"
        if round is not None:
            label += f" (round {round})"
        summary_path = storage.join(marker_dir, SUMMARY)
        if storage.exists(summary_path):
            results = json.loads(storage.read_bytes(summary_path))["results"]
            log.info("%s: done in an earlier run (%d tasks)", label, len(results))
            self._account(name, results, 0.0, resumed=len(results))
            return results

        keys = [item_key(it) for it in items]
        done = {p.rsplit("/", 1)[-1][: -len(".json")] for p in storage.listdir(marker_dir, "*.json")}
        done.discard(SUMMARY[: -len(".json")])
        by_key: dict[str, dict[str, Any]] = {
            k: json.loads(storage.read_bytes(storage.join(marker_dir, k + ".json"))) for k in done & set(keys)
        }
        todo = [it for it, k in zip(items, keys, strict=True) if k not in by_key]
        if by_key:
            log.info("%s: %d of %d tasks done in an earlier run", label, len(by_key), len(items))
        start = time.monotonic()
        with progress.phase(label, len(items), unit="tasks") as sp:
            sp.done = len(by_key)

            def seen(result: dict[str, Any]) -> None:
                sp.update({"docs": result.get("rows", 0), "bytes": result.get("bytes", 0)})

            new = map_items(
                todo,
                functools.partial(_Marked, factory, marker_dir),
                self.ctx.config.ray,
                stateful=stateful,
                on_result=seen,
            )
        by_key.update(zip((item_key(it) for it in todo), new, strict=True))
        results = [by_key[k] for k in keys]
        storage.atomic_write(summary_path, (dumps({"index": self.index, "results": results}) + "\n").encode())
        self._account(name, results, time.monotonic() - start, resumed=len(items) - len(todo))
        return results

    def _account(self, name: str, results: list[dict[str, Any]], seconds: float, resumed: int) -> None:
        s = self.stats.setdefault(name, {"tasks": 0, "seconds": 0.0})
        s["tasks"] += len(results)
        s["seconds"] = round(s["seconds"] + seconds, 3)
        if resumed:
            s["tasks_from_earlier_run"] = s.get("tasks_from_earlier_run", 0) + resumed
        for res in results:
            for k, v in res.items():
                if k == "seconds" or isinstance(v, bool) or not isinstance(v, int | float):
                    continue
                if k.startswith("max_"):
                    s[k] = max(s.get(k, 0), v)
                else:
                    s[k] = s.get(k, 0) + v
        s["task_seconds"] = round(s.get("task_seconds", 0.0) + sum(r.get("seconds", 0) for r in results), 3)
