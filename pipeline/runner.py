"""Builds and runs the plan: read, then the configured stages, then the manifest and report.

Consecutive document stages are fused into one Ray task per shard (no serialization between them);
each still records its own counts and rejected rows. Global stages (dedup, tokenize) run their own
Ray Data phases. Every stage writes shards named after their input shard, so the output is the same
bytes whatever the worker count, and a rerun skips shards that are already done.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import yaml

from pipeline import ceiling, storage
from pipeline import manifest as manifest_mod
from pipeline import poison as poison_mod
from pipeline import progress as progress_mod
from pipeline.config import Config, ConfigError
from pipeline.ray_exec import WorkerCrashed, ensure_ray, map_items
from pipeline.readers import InputFile, expand_source, reader_for
from pipeline.readers.controls import strip_controls
from pipeline.schema import Document, documents_from_table, documents_to_table, dumps, rejected_to_table
from pipeline.shards import (
    ShardWriter,
    done_shards,
    iter_batches,
    load_stats,
    shard_bytes,
    shard_done,
    shard_files,
    shard_rows,
)
from pipeline.step import DocumentStep, GlobalStage, StageConfig, StageContext, check_stage_files

log = logging.getLogger("winnow")

READ_STAGE = "read"
STAGE_META = "_stage.json"


@dataclass
class Segment:
    """One step of the plan: a fused run of document stages, or one global stage."""

    index: int  # 1-based position of its last stage in `stages:`
    stages: list[StageConfig]
    first_index: int

    @property
    def kind(self) -> str:
        return self.stages[0].kind

    @property
    def dir_name(self) -> str:
        return f"{self.index:02d}_{self.stages[-1].stage_name}"


def plan(config: Config) -> list[Segment]:
    """Group the configured stages: consecutive document stages fuse, each global stage stands alone."""
    segments: list[Segment] = []
    for i, stage in enumerate(config.stage_configs(), start=1):
        if stage.kind == "document" and segments and segments[-1].kind == "document":
            segments[-1].stages.append(stage)
            segments[-1].index = i
        else:
            segments.append(Segment(index=i, stages=[stage], first_index=i))
    return segments


def rejected_dir(run_dir: str, index: int, stage: StageConfig | str) -> str:
    name = stage if isinstance(stage, str) else stage.stage_name
    return storage.join(run_dir, "rejected", f"{index:02d}_{name}")


# ---------------------------------------------------------------- read stage (runs on Ray actors)


class ReadShard:
    """Ray actor body for the read stage: one input file -> one shard of documents + quarantined rows."""

    def __init__(self, config: Config, run_dir: str) -> None:
        self.config, self.run_dir = config, run_dir
        self.stage_dir = storage.join(run_dir, f"00_{READ_STAGE}")
        self.sources = {s.name: s for s in config.sources}

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        file = InputFile(**item)
        out = self.config.output
        writer = ShardWriter(
            self.stage_dir,
            file.shard_id,
            target_bytes=out.target_shard_mb << 20,
            compression=out.compression,
            rejected_dirs={READ_STAGE: rejected_dir(self.run_dir, 0, READ_STAGE)},
            keep_rejected_text=out.keep_rejected_text,
        )
        src = self.sources[file.source]
        skipped: Counter[str] = Counter()
        controls: Counter[str] = Counter()
        errors: list[dict[str, str]] = []
        writer.tally.ensure_stage(READ_STAGE)
        kept: list[Document] = []
        rejected: list[tuple[Document, str]] = []

        def flush() -> None:
            if kept:
                writer.write(documents_to_table(kept))
                kept.clear()
            if rejected:
                writer.reject(
                    READ_STAGE,
                    rejected_to_table([d for d, _ in rejected], READ_STAGE, [r for _, r in rejected]),
                )
                rejected.clear()

        n_docs = 0
        try:
            reader = reader_for(src.format)
            counted = src.format in ("warc", "wet", "jsonl", "parquet")  # readers that count what they skip
            records = reader(file, src, skipped) if counted else reader(file, src)
            for doc, reason in records:
                n_docs += 1
                writer.tally.seen(READ_STAGE, file.source)
                if reason is None:
                    doc.text, removed = strip_controls(doc.text)
                    if doc.url:
                        doc.url, in_url = strip_controls(doc.url)
                        removed += in_url
                    if removed:
                        controls["control_chars_removed"] += removed
                        controls["docs_with_control_chars"] += 1
                        if not doc.text.strip():
                            reason = "empty_text"
                if reason is None:
                    writer.tally.kept(READ_STAGE, file.source)
                    kept.append(doc)
                else:
                    writer.tally.rejected(READ_STAGE, file.source, reason)
                    rejected.append((doc, reason))
                if len(kept) + len(rejected) >= out.batch_rows:
                    flush()
            flush()
        except storage.StorageError:
            # Not the file's fault: no stats, so the shard is not done and the next run reads it again.
            writer.abort()
            raise
        except Exception as exc:
            # The file could not be read on: an error in the manifest with its path, and the run goes on.
            flush()
            errors.append({"path": file.rel, "error": f"{type(exc).__name__}: {exc}"})
        writer.tally.add_counters(READ_STAGE, {f"skipped_{k}": v for k, v in skipped.items()})
        writer.tally.add_counters(READ_STAGE, dict(controls))
        input_info: dict[str, Any] = {"source": file.source, "path": file.rel}
        if file.is_range:
            input_info.update(start=file.start, end=file.end)
        if not errors:
            from pipeline.shards import file_digest

            input_info.update(file_digest(file.path, file.start, file.end))
        stats = writer.finish({"inputs": [input_info], "errors": errors})
        size = input_info.get("bytes")
        return {
            "shard": file.shard_id,
            "errors": len(errors),
            "seconds": stats["seconds"],
            "docs": n_docs,
            "bytes": size if size is not None else file.bytes_to_read(),
        }


# ---------------------------------------------------------------- fused document stages


class DocumentShard:
    """Ray actor body for a fused run of document stages over one shard."""

    def __init__(self, config: Config, run_dir: str, segment: Segment, delete_input: bool = False) -> None:
        self.config, self.run_dir, self.segment = config, run_dir, segment
        self.stage_dir = storage.join(run_dir, segment.dir_name)
        self.delete_input = delete_input  # output.keep_intermediate: false (see `_drop_outputs`)
        self.steps: list[tuple[int, StageConfig, DocumentStep]] = []
        for offset, cfg in enumerate(segment.stages):
            step = cfg.build()
            assert isinstance(step, DocumentStep), f"{cfg.type} did not build a DocumentStep"
            step.name = cfg.stage_name
            step.setup()
            self.steps.append((segment.first_index + offset, cfg, step))

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        if "probe" in item:
            return self._probe(item)
        shard, files = item["shard"], item["files"]
        if self.delete_input and shard_done(self.stage_dir, shard):
            # A retry of a task that finished (and deleted its input) before its worker died.
            return {"shard": shard, "seconds": 0.0, "docs": 0, "bytes": 0}
        poison = {int(i): stage for i, stage in item.get("poison", {}).items()}
        out = self.config.output
        writer = ShardWriter(
            self.stage_dir,
            shard,
            target_bytes=out.target_shard_mb << 20,
            compression=out.compression,
            rejected_dirs={cfg.stage_name: rejected_dir(self.run_dir, i, cfg) for i, cfg, _ in self.steps},
            keep_rejected_text=out.keep_rejected_text,
        )
        for _, cfg, step in self.steps:
            writer.tally.ensure_stage(cfg.stage_name)
            step.counters.clear()
        n_docs = 0
        try:
            for batch in iter_batches(files, out.batch_rows):
                docs = documents_from_table(batch)
                docs = self._steps(docs, list(range(n_docs, n_docs + batch.num_rows)), poison, writer)
                n_docs += batch.num_rows
                if docs:
                    writer.write(documents_to_table(docs))
        except FileNotFoundError as exc:
            if out.keep_intermediate:
                raise
            raise FileNotFoundError(
                f"{exc}: input shard {shard} of {self.segment.dir_name} is gone. With "
                "output.keep_intermediate: false a stage's input is deleted once the stage has it, so a "
                "stage can't be recomputed from the one before it: run into a new --output"
            ) from exc
        for _, cfg, step in self.steps:
            writer.tally.add_counters(cfg.stage_name, dict(step.counters))
        in_bytes = sum(storage.size(f) for f in files)
        stats = writer.finish()
        if self.delete_input:  # after the stats: the shard is done, its input is needed no more
            storage.remove_files(files)
        return {"shard": shard, "seconds": stats["seconds"], "docs": n_docs, "bytes": in_bytes}

    def _steps(
        self,
        docs: list[Document],
        index: list[int],
        poison: dict[int, str],
        writer: ShardWriter | None,
        upto: int | None = None,
    ) -> list[Document]:
        """The fused stages over one batch (`index`: each document's position in the shard); the kept ones.

        A document in `poison` killed its worker in the stage named there (`poison.isolate` found it):
        that stage rejects it as worker_crash without running on it, in its place in the batch, so the
        output is what it would be had the stage rejected it. Without a writer (a probe) nothing is
        recorded; `upto` stops after that many stages + 1.
        """
        for j, (_, cfg, step) in enumerate(self.steps):
            if upto is not None and j > upto:
                break
            name = cfg.stage_name
            crashed = {k for k, i in enumerate(index) if poison.get(i) == name}
            run = [d for k, d in enumerate(docs) if k not in crashed]
            got = iter(_guarded(step, run) if run else [])
            keep: list[Document] = []
            kept_index: list[int] = []
            drop: list[Document] = []
            why: list[str] = []
            for k, d in enumerate(docs):
                if k in crashed:
                    d.attributes.setdefault(name, {})["error"] = poison_mod.CRASH_NOTE
                    r: str | None = poison_mod.WORKER_CRASH
                else:
                    r = next(got)
                if writer is not None:
                    writer.tally.seen(name, d.source)
                if r is None:
                    keep.append(d)
                    kept_index.append(index[k])
                    if writer is not None:
                        writer.tally.kept(name, d.source)
                else:
                    drop.append(d)
                    why.append(r)
                    if writer is not None:
                        writer.tally.rejected(name, d.source, r)
            if drop and writer is not None:
                writer.reject(name, rejected_to_table(drop, name, why))
            docs, index = keep, kept_index
            if not docs:
                break
        return docs

    def _probe(self, item: dict[str, Any]) -> dict[str, Any]:
        """Run the stages on documents [lo, hi) of a shard, writing nothing: does any of them kill us?"""
        lo, hi = item["probe"]
        n = 0
        for batch in iter_batches(item["files"], self.config.output.batch_rows):
            a, b = max(lo, n), min(hi, n + batch.num_rows)
            if a < b:
                self._steps(
                    documents_from_table(batch.slice(a - n, b - a)),
                    list(range(a, b)),
                    {},
                    None,
                    item.get("upto"),
                )
            n += batch.num_rows
            if n >= hi:
                break
        for _, _, step in self.steps:
            step.counters.clear()
        return {"shard": item["shard"], "probe": [lo, hi], "upto": item.get("upto")}


def _guarded(step: DocumentStep, docs: list[Document]) -> list[str | None]:
    """Run a step on a batch; if it raises, retry one document at a time and reject only those that fail.

    A bug or a pathological document then costs one rejected row (reason `error`, with the message in
    its attributes), never the whole run.
    """
    try:
        return step.process_batch(docs)
    except Exception:
        log.exception("stage %s failed on a batch; retrying document by document", step.name)
    reasons: list[str | None] = []
    for d in docs:
        try:
            reasons.append(step.process(d))
        except Exception as exc:
            d.attributes.setdefault(step.name, {})["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            reasons.append("error")
    return reasons


# ---------------------------------------------------------------- driver


def _check_stage_dir(stage_dir: str, fingerprint: str, name: str, *, claim: bool = True) -> None:
    """A stage dir belongs to one config: refuse to mix shards of a changed config into it.

    With `claim`, a stage dir without an owner is marked as this config's.
    """
    meta_path = storage.join(stage_dir, STAGE_META)
    if storage.exists(meta_path):
        import json

        old = json.loads(storage.read_bytes(meta_path)).get("fingerprint")
        if old != fingerprint:
            raise ConfigError(
                f"{stage_dir} was written by a different config for stage '{name}'; "
                "use a new --output directory (or delete that stage directory to recompute it)"
            )
    elif claim:
        storage.atomic_write(meta_path, (dumps({"fingerprint": fingerprint}) + "\n").encode())


def _remove_leftovers(stage_dir: str, rejected: list[str]) -> None:
    """Temporary files of tasks killed in an earlier run (they can hold a whole shard each)."""
    n = sum(storage.remove_temporaries(d) for d in [stage_dir, *rejected])
    if n:
        log.info("%s: removed %d temporary files left by an interrupted run", stage_dir, n)


def _check_run_dir(config: Config, run_dir: str) -> None:
    """Refuse a changed config before anything is written and before Ray starts."""
    read_dir = storage.join(run_dir, f"00_{READ_STAGE}")
    _check_stage_dir(read_dir, _fingerprint(config, []), READ_STAGE, claim=False)
    done: list[StageConfig] = []
    for seg in plan(config):
        done.extend(seg.stages)
        stage_dir = storage.join(run_dir, seg.dir_name)
        _check_stage_dir(stage_dir, _fingerprint(config, done), seg.dir_name, claim=False)


def _fingerprint(config: Config, upto: list[StageConfig]) -> str:
    import hashlib

    payload = {
        "sources": [s.model_dump(mode="json") for s in config.sources],
        # keep_intermediate changes what is kept, never a byte of what is written.
        "output": config.output.model_dump(mode="json", exclude={"keep_intermediate"}),
        "seed": config.seed,
        "stages": [s.model_dump(mode="json") for s in upto],
    }
    return hashlib.sha256(dumps(payload).encode()).hexdigest()


def _pending(stage_dir: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = done_shards(stage_dir)
    return [it for it in items if (it.get("shard") or it.get("shard_id")) not in done]


def run(config: Config, run_dir: str, *, progress: Any = None) -> dict[str, Any]:
    """Run the whole plan into `run_dir`; returns the manifest. Resumes where a previous run stopped."""
    if storage.is_read_only(run_dir):
        raise ConfigError(
            f"output {run_dir}: http(s):// and hf:// are read-only, for inputs only; "
            "write the run directory to a local path or to object storage (s3://...)"
        )
    # Absolute from here on: Ray workers may run in another folder (`ray job submit --working-dir`).
    run_dir = run_dir if storage.is_uri(run_dir) else os.path.abspath(run_dir)
    progress = progress if progress is not None else progress_mod.Progress()
    progress_mod.activate(progress)
    try:
        return _run_plan(config, run_dir, progress)
    finally:
        progress_mod.activate(None)


def _run_plan(config: Config, run_dir: str, progress: progress_mod.Progress) -> dict[str, Any]:
    """The body of `run`: read, then each segment, then the manifest."""

    started = time.time()
    inputs: list[InputFile] = []
    for src in config.sources:
        inputs.extend(expand_source(src))  # missing paths fail here, before any work
    problems = check_stage_files(config)
    if problems:
        raise ConfigError("files the stages need:\n  " + "\n  ".join(problems))
    _check_run_dir(config, run_dir)
    storage.makedirs(run_dir)
    storage.atomic_write(
        storage.join(run_dir, "config.yaml"),
        yaml.safe_dump(config.canonical(), sort_keys=False, allow_unicode=True).encode(),
    )
    ensure_ray(config.ray)
    timings: dict[str, float] = {}

    read_dir = storage.join(run_dir, f"00_{READ_STAGE}")
    _check_stage_dir(read_dir, _fingerprint(config, []), READ_STAGE)
    _remove_leftovers(read_dir, [rejected_dir(run_dir, 0, READ_STAGE)])
    t0 = time.time()
    todo = _pending(read_dir, [f.to_dict() for f in inputs])
    log.info("read: %d input files (%d to do)", len(inputs), len(todo))
    todo_bytes = sum(InputFile(**it).bytes_to_read() for it in todo)
    with progress.stage(READ_STAGE, len(todo), todo_bytes, "files") as sp:
        map_items(todo, _factory(ReadShard, config, run_dir), config.ray, stateful=False, on_result=sp.update)
    timings[READ_STAGE] = round(time.time() - t0, 3)
    read_stats = load_stats(read_dir)
    _report_input_lost(read_stats)
    ceiling.check(
        read_stats,
        READ_STAGE,
        "read",
        rejected_dir(run_dir, 0, READ_STAGE),
        config.max_error_fraction,
        f"00 '{READ_STAGE}'",
    )
    prev_dir = read_dir
    final_docs = _final_documents_dir(config, run_dir)

    done_stages: list[StageConfig] = []
    for seg in plan(config):
        done_stages.extend(seg.stages)
        stage_dir = storage.join(run_dir, seg.dir_name)
        _check_stage_dir(stage_dir, _fingerprint(config, done_stages), seg.dir_name)
        rejected = [rejected_dir(run_dir, seg.first_index + k, c) for k, c in enumerate(seg.stages)]
        _remove_leftovers(stage_dir, [*rejected, storage.join(run_dir, "tokens")])
        prev_stats = load_stats(prev_dir)
        shards = shard_files(prev_dir, prev_stats)
        drop_input = not config.output.keep_intermediate and prev_dir != final_docs
        _check_input_kept(prev_dir, stage_dir, shards)
        t0 = time.time()
        if seg.kind == "document":
            items = _pending(stage_dir, [{"shard": s, "files": f} for s, f in shards.items()])
            fused = f" (stages {seg.first_index}-{seg.index}, fused)" if len(seg.stages) > 1 else ""
            log.info("%s%s: %d shards (%d to do)", seg.dir_name, fused, len(shards), len(items))
            # From the stats the previous stage wrote, not one size call per file on the driver.
            sizes = shard_bytes(prev_stats)
            todo_bytes = sum(sizes.get(it["shard"], 0) for it in items)
            with progress.stage(seg.dir_name, len(items), todo_bytes) as sp:
                factory = _factory(DocumentShard, config, run_dir, seg, drop_input)
                seg_ray = _stage_ray(config, seg.stages)
                try:
                    map_items(items, factory, seg_ray, on_result=sp.update)
                except WorkerCrashed as crash:  # bisect those shards; quarantine what kills the worker
                    poison_mod.isolate(
                        crash, factory, seg_ray, [c.stage_name for c in seg.stages], on_result=sp.update
                    )
        else:
            cfg = seg.stages[0]
            stage = cfg.build()
            assert isinstance(stage, GlobalStage), f"{cfg.type} did not build a GlobalStage"
            stage.name = cfg.stage_name
            ctx = StageContext(
                config=config,
                run_dir=run_dir,
                stage_index=seg.index,
                stage_name=cfg.stage_name,
                stage_dir=stage_dir,
                rejected_dir=rejected_dir(run_dir, seg.index, cfg),
                work_dir=storage.join(run_dir, "_work", seg.dir_name),
                shards=shards,
                config_hash=_fingerprint(config, done_stages),
                rows=shard_rows(prev_stats),
            )
            log.info("%s: global stage over %d shards", seg.dir_name, len(shards))
            ctx.config = config.model_copy(update={"ray": _stage_ray(config, seg.stages)})
            with progress.stage(seg.dir_name, unit="phases"):
                stage.run(ctx)
            storage.remove_tree(ctx.work_dir)
        timings[seg.dir_name] = round(time.time() - t0, 3)
        stats = load_stats(stage_dir)
        missing = set(shards) - set(stats)
        if missing:
            raise RuntimeError(
                f"{seg.dir_name}: shards without stats after the stage ran: {sorted(missing)[:5]}"
            )
        for i, cfg in enumerate(seg.stages, start=seg.first_index):
            label = f"{i:02d} '{cfg.stage_name}'"
            rejected = rejected_dir(run_dir, i, cfg)
            ceiling.check(stats, cfg.stage_name, cfg.kind, rejected, config.max_error_fraction, label)
        if drop_input:
            _drop_outputs(prev_dir, seg.dir_name)
        prev_dir = stage_dir

    timings["total"] = round(time.time() - started, 3)
    return manifest_mod.write_manifest(config, run_dir, plan(config), timings)


def _final_documents_dir(config: Config, run_dir: str) -> str:
    """The stage dir with the run's last documents (before tokenize): never deleted as intermediate."""
    final = storage.join(run_dir, f"00_{READ_STAGE}")
    for seg in plan(config):
        if all(c.writes_documents for c in seg.stages):
            final = storage.join(run_dir, seg.dir_name)
    return final


OUTPUTS_DELETED = "_outputs_deleted.json"
"""In a stage dir whose document files were deleted (output.keep_intermediate: false)."""


def _drop_outputs(stage_dir: str, by: str) -> None:
    """Delete a stage's document files once the next stage (`by`) has completed every shard of them.

    A document stage's tasks already deleted their own input shard after their stats; this sweeps what
    a killed task left and a global stage's whole input. Stats, `_stage.json` and rejected sets stay,
    so the accounting, the manifest and resume are unchanged.
    """
    storage.atomic_write(storage.join(stage_dir, OUTPUTS_DELETED), (dumps({"after": by}) + "\n").encode())
    n = storage.remove_files(storage.listdir(stage_dir, "part-*.parquet"))
    if n:
        log.info("%s: deleted %d intermediate files (output.keep_intermediate: false)", stage_dir, n)


def _check_input_kept(prev_dir: str, stage_dir: str, shards: dict[str, list[str]]) -> None:
    """A stage with work left whose input was deleted as intermediate (its dir removed by hand)."""
    if not storage.exists(storage.join(prev_dir, OUTPUTS_DELETED)):
        return
    left = set(shards) - done_shards(stage_dir)
    if left:
        raise ConfigError(
            f"{stage_dir}: {len(left)} shards to compute, but the documents they are computed from "
            f"({prev_dir}) were deleted as intermediate (output.keep_intermediate: false). A stage can't "
            "be recomputed from the one before it in such a run: run into a new --output"
        )


def _report_input_lost(read_stats: dict[str, dict[str, Any]]) -> None:
    """A warning as soon as the read stage is done, so a long run's log says it lost input."""
    lost = manifest_mod.input_lost(read_stats, READ_STAGE)
    if lost["files"]:
        names = ", ".join(f"{f['source']}:{f['path']}" for f in lost["by_file"][:5])
        more = f" and {lost['files'] - 5} more" if lost["files"] > 5 else ""
        log.warning(
            "read: input lost: %d file(s), %d bytes, about %d record(s) (rows in rejected/00_read): %s%s",
            lost["files"],
            lost["bytes"],
            lost["records_estimate"],
            names,
            more,
        )


def _stage_ray(config: Config, stages: list[StageConfig]) -> Any:
    """The run's Ray options with a stage's own `workers` / `cpus_per_worker` (the largest in a fused run)."""
    workers = [s.workers for s in stages if s.workers]
    cpus = [s.cpus_per_worker for s in stages if s.cpus_per_worker]
    update: dict[str, Any] = {}
    if workers:
        update["num_workers"] = max(workers)
    if cpus:
        update["cpus_per_worker"] = max(cpus)
    return config.ray.model_copy(update=update) if update else config.ray


def _factory(cls: type, *args: Any) -> Any:
    import functools

    return functools.partial(cls, *args)
