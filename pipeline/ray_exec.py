"""Running work on Ray Data: embedded local Ray by default, a cluster when one is given.

Work items are small descriptors (a shard id and its files, a partition number...). Ray Data maps
tasks over them; models load once per Ray worker process (cached between tasks), and each task does
the heavy I/O itself, streaming Parquet in and out, and returns only a small summary row. Nothing the
size of the corpus reaches the driver.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cloudpickle
import pyarrow as pa

from pipeline.config import RayConfig

log = logging.getLogger("winnow")


def ensure_ray(cfg: RayConfig) -> None:
    """Connect to the configured cluster / RAY_ADDRESS (as under `ray job submit`), else start one locally."""
    import ray

    if ray.is_initialized():
        return
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        # Token auth stays on (Ray's default); its notice that it is on is not a problem to report.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        ray.init(num_cpus=cfg.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
        _private_token_file()
    # winnow prints its own progress lines, so Ray Data's notice that its bars are off is noise.
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.WARNING)  # winnow's own progress lines say the same
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True


def _private_token_file() -> None:
    """Ray writes ~/.ray/auth_token world-readable; the token grants the cluster, so keep it 0600."""
    token = os.path.join(os.path.expanduser("~"), ".ray", "auth_token")
    try:
        if os.path.exists(token) and os.stat(token).st_mode & 0o077:
            os.chmod(token, 0o600)
    except OSError as exc:
        log.warning("could not make %s private: %s", token, exc)


def worker_count(cfg: RayConfig, n_items: int) -> int:
    import ray

    want = cfg.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cfg.cpus_per_worker))
    return max(1, min(want, n_items))


Factory = Callable[[], Callable[[dict[str, Any]], dict[str, Any]]]


FAILED = "__task_failed__"


class TaskFailed(OSError):
    """A task met an environment error (storage, disk full, permissions): its work is not marked done."""


def _one(fn: Callable[[dict[str, Any]], dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
    try:
        return fn(item)
    except OSError as exc:
        # Returned, not raised: Ray Data would bury it under its own wrappers, and the other tasks of
        # the phase still finish, so a rerun has only this one to redo.
        return {FAILED: f"{type(exc).__name__}: {exc}"}


def _apply(fn: Callable[[dict[str, Any]], dict[str, Any]], batch: pa.Table) -> pa.Table:
    results = [json.dumps(_one(fn, json.loads(item))) for item in batch.column("item").to_pylist()]
    return pa.table({"result": pa.array(results, pa.string())})


_BUILT: OrderedDict[str, Callable[[dict[str, Any]], dict[str, Any]]] = OrderedDict()
_BUILT_MAX = 4


def _built(key: str, factory: Factory) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The per-item callable of `factory`, built once per Ray worker process and reused by later tasks.

    Ray keeps its worker processes alive between tasks, so models load once per process, as in an actor,
    without an actor pool to start for every stage and phase (seconds each on a small run).
    """
    fn = _BUILT.get(key)
    if fn is None:
        fn = factory()
        _BUILT[key] = fn
        while len(_BUILT) > _BUILT_MAX:
            _BUILT.popitem(last=False)
    else:
        _BUILT.move_to_end(key)
    return fn


def _task_fn(factory: Factory, stateful: bool) -> Callable[[pa.Table], pa.Table]:
    key = hashlib.sha256(cloudpickle.dumps(factory)).hexdigest() if stateful else ""

    def run(batch: pa.Table) -> pa.Table:
        return _apply(_built(key, factory) if stateful else factory(), batch)

    return run


def map_items(
    items: list[dict[str, Any]],
    factory: Callable[[], Callable[[dict[str, Any]], dict[str, Any]]],
    cfg: RayConfig,
    *,
    cpus_per_worker: float | None = None,
    stateful: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run `factory()(item)` for every item as Ray Data tasks, at most N at once; return the result dicts.

    With `stateful` (the default) `factory()` runs once per worker process and its result is reused
    by every later task there (load models in it); `stateful=False` builds it per item (cheap factories
    that must not share state). Results come back in item order. `on_result`, when given, is called
    with each result as it arrives (progress display).
    """
    if not items:
        return []
    import ray

    ensure_ray(cfg)
    n = worker_count(cfg, len(items))
    ds = ray.data.from_items([{"item": json.dumps(it)} for it in items], override_num_blocks=len(items))
    cpus = cpus_per_worker or cfg.cpus_per_worker
    ds = ds.map_batches(
        _task_fn(factory, stateful),
        batch_size=1,
        batch_format="pyarrow",
        compute=ray.data.TaskPoolStrategy(size=n),
        num_cpus=cpus,
    )
    results, failed = [], []
    for row in ds.iter_rows():
        result = json.loads(row["result"])
        if FAILED in result:
            failed.append(result[FAILED])
            continue
        if on_result is not None:
            on_result(result)
        results.append(result)
    if failed:
        more = f" (and {len(failed) - 1} more tasks)" if len(failed) > 1 else ""
        raise TaskFailed(f"{failed[0]}{more}")
    return results
