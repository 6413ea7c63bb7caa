"""Running work on Ray Data: embedded local Ray by default, a cluster when one is given.

Work items are small descriptors (a shard id and its files, a partition number...). Ray Data maps an
actor pool over them, so models load once per actor; each actor does the heavy I/O itself, streaming
Parquet in and out, and returns only a small summary row. Nothing the size of the corpus reaches the
driver.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pipeline.config import RayConfig

log = logging.getLogger("winnow")


def ensure_ray(cfg: RayConfig) -> None:
    """Connect to the configured cluster / RAY_ADDRESS (as under `ray job submit`), else start one locally."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=cfg.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.WARNING)  # winnow's own progress lines say the same
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True


def worker_count(cfg: RayConfig, n_items: int) -> int:
    import ray

    want = cfg.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cfg.cpus_per_worker))
    return max(1, min(want, n_items))


class _Adapter:
    """Wraps a per-item callable class so Ray Data can call it on a pyarrow batch of descriptors."""

    def __init__(self, factory: Callable[[], Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
        self.fn = factory()

    def __call__(self, batch: pa.Table) -> pa.Table:
        results = [json.dumps(self.fn(json.loads(item))) for item in batch.column("item").to_pylist()]
        return pa.table({"result": pa.array(results, pa.string())})


def map_items(
    items: list[dict[str, Any]],
    factory: Callable[[], Callable[[dict[str, Any]], dict[str, Any]]],
    cfg: RayConfig,
    *,
    cpus_per_worker: float | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run `factory()(item)` for every item on a pool of Ray actors; return the small result dicts.

    `factory` is called once per actor (load models there). Results come back in item order.
    `on_result`, when given, is called with each result as it arrives (progress display).
    """
    if not items:
        return []
    import ray

    ensure_ray(cfg)
    n = worker_count(cfg, len(items))
    ds = ray.data.from_items([{"item": json.dumps(it)} for it in items], override_num_blocks=len(items))
    ds = ds.map_batches(
        _Adapter,
        fn_constructor_kwargs={"factory": factory},
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=n),
        num_cpus=cpus_per_worker or cfg.cpus_per_worker,
    )
    results = []
    for row in ds.iter_rows():
        result = json.loads(row["result"])
        if on_result is not None:
            on_result(result)
        results.append(result)
    return results
