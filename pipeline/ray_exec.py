"""Running work on Ray Data: embedded local Ray by default, a cluster when one is given.

Work items are small descriptors (a shard id and its files, a partition number...). Ray Data maps
tasks over them; models load once per Ray worker process (cached between tasks), and each task does
the heavy I/O itself, streaming Parquet in and out, and returns only a small summary row. Nothing the
size of the corpus reaches the driver.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import pickle
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import cloudpickle
import pyarrow as pa

from pipeline import local_ray
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
        local_ray.start(cfg.num_cpus, cfg.task_retries)  # loopback only, free ports, token file 0600
    # winnow prints its own progress lines, so Ray Data's notice that its bars are off is noise.
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    for name in ("ray.data", "ray.data._internal.execution.streaming_executor"):
        logging.getLogger(name).setLevel(logging.WARNING)  # winnow's own progress lines say the same
    # A task whose worker kept dying is reported by map_items (WorkerCrashed), not by a Ray traceback.
    logging.getLogger("ray.data._internal.execution.streaming_executor_state").setLevel(logging.CRITICAL)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True


def worker_count(cfg: RayConfig, n_items: int) -> int:
    import ray

    want = cfg.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cfg.cpus_per_worker))
    return max(1, min(want, n_items))


Factory = Callable[[], Callable[[dict[str, Any]], dict[str, Any]]]


FAILED = "__task_failed__"
RAISED = "__task_raised__"


class TaskFailed(OSError):
    """A task met an environment error (storage, disk full, permissions): its work is not marked done."""


class WorkerCrashed(TaskFailed):
    """Tasks whose Ray worker died on every attempt (segfault, os._exit, out of memory, a lost node).

    Raised after every other task of the phase finished; `items` are the tasks that died, `results` what
    the others returned, `failed` the environment errors they met, so a caller can isolate the cause.
    """

    def __init__(self, items: list[dict[str, Any]], results: list[dict[str, Any]], failed: list[str],
                 retries: int) -> None:
        self.items, self.results, self.failed = items, results, failed
        names = ", ".join(describe(it) for it in items[:3]) + (" ..." if len(items) > 3 else "")
        super().__init__(
            f"{len(items)} task(s) killed their Ray worker on each of {retries + 1} attempts "
            f"(a segfault, os._exit or out of memory): {names}"
        )


def describe(item: dict[str, Any]) -> str:
    """A task's work item in a message: its shard (or file), not the whole descriptor."""
    for key in ("shard", "shard_id", "rel", "path", "partition"):
        if key in item:
            return f"{key} {item[key]}"
    return json.dumps(item)[:200]


def _pack(exc: BaseException) -> dict[str, str]:
    """An exception as JSON-safe data, to raise again on the driver with its type and worker traceback."""
    trace = "".join(traceback.format_exception(exc))
    try:
        blob = cloudpickle.dumps(exc)
        pickle.loads(blob)
    except Exception:
        blob = cloudpickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))
    return {"pickle": base64.b64encode(blob).decode(), "traceback": trace}


def _unpack(packed: dict[str, str]) -> BaseException:
    exc = pickle.loads(base64.b64decode(packed["pickle"]))
    exc.add_note("raised in a Ray task:\n" + packed["traceback"])
    return exc


def _one(fn: Callable[[dict[str, Any]], dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
    try:
        return fn(item)
    except OSError as exc:
        # Returned, not raised: Ray Data would bury it under its own wrappers, and the other tasks of
        # the phase still finish, so a rerun has only this one to redo.
        return {FAILED: f"{type(exc).__name__}: {exc}"}
    except Exception as exc:
        # Returned too, so that a task that fails in Ray (its worker died) is the only kind missing.
        return {RAISED: _pack(exc)}


def _apply(build: Callable[[], Callable[[dict[str, Any]], dict[str, Any]]], batch: pa.Table) -> pa.Table:
    items = batch.column("item").to_pylist()
    try:
        fn = build()
    except Exception as exc:  # the factory (model loading) raised: every item of the batch says so
        results = [{RAISED: _pack(exc)} for _ in items]
    else:
        results = [_one(fn, json.loads(item)) for item in items]
    return pa.table({"index": batch.column("index"),
                     "result": pa.array([json.dumps(r) for r in results], pa.string())})


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
        return _apply(lambda: _built(key, factory) if stateful else factory(), batch)

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
    ctx = ray.data.DataContext.get_current()
    saved = ctx.max_errored_blocks
    # A task whose worker died `task_retries + 1` times is an errored block: the phase goes on without
    # it, and it is the one item without a result (every other failure comes back as a result).
    ctx.max_errored_blocks = -1
    results: list[dict[str, Any]] = []
    failed: list[str] = []
    raised: list[dict[str, str]] = []
    seen: set[int] = set()
    try:
        rows = [{"index": i, "item": json.dumps(it)} for i, it in enumerate(items)]
        ds = ray.data.from_items(rows, override_num_blocks=len(items))
        with warnings.catch_warnings():
            # Ray 2.60 deprecates remote args without a named parameter for max_retries (Ray Data's
            # default is -1: a task that kills its worker would be retried forever).
            warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
            ds = ds.map_batches(
                _task_fn(factory, stateful),
                batch_size=1,
                batch_format="pyarrow",
                compute=ray.data.TaskPoolStrategy(size=n),
                num_cpus=cpus_per_worker or cfg.cpus_per_worker,
                max_retries=cfg.task_retries,
            )
        for row in ds.iter_rows():
            seen.add(int(row["index"]))
            result = json.loads(row["result"])
            if FAILED in result:
                failed.append(result[FAILED])
                continue
            if RAISED in result:
                raised.append(result[RAISED])
                continue
            if on_result is not None:
                on_result(result)
            results.append(result)
    finally:
        ctx.max_errored_blocks = saved
    if raised:
        raise _unpack(raised[0])
    crashed = [it for i, it in enumerate(items) if i not in seen]
    if crashed:
        raise WorkerCrashed(crashed, results, failed, cfg.task_retries)
    if failed:
        more = f" (and {len(failed) - 1} more tasks)" if len(failed) > 1 else ""
        raise TaskFailed(f"{failed[0]}{more}")
    return results
