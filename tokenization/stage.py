"""The `tokenize` stage: cleaned documents in, Megatron-LM `.bin`/`.idx` per source (and split) out.

Phases, each a map over small work items on Ray, run by `pipeline.phases.PhaseRunner` (progress, resume):
1. per input shard: one actor-loaded HF tokenizer batch-encodes the texts (no special tokens, like
   Megatron's HF path in megatron-core 0.16.1), appends the end-of-document id to every document with
   tokens (`--append-eod`), and writes a per-shard, per-source dataset plus each document's mixture hash
   and row number into the work dir. This is also the counting pass for token budgets.
2. per budgeted source: the exact selection threshold, from a streamed histogram (tokenization.mixture).
3. per input shard: accounting. Documents with 0 tokens, and documents the mixture sampled out, go to
   the rejected set with their reason; the shard's stats file is written.
4. per source, split and dataset: the selected documents of the dataset's run of shards, in shard
   order, copy after copy (epoch-major), are streamed into
   `RUN/tokens/<source>[_<split>][_part<k>]_text_document.{bin,idx}`. A source above `dataset_tokens`
   is cut into several datasets by shard runs (tokenization.parts), so no one task writes it all.
Without token budgets every plan is known up front and phases 1 and 3 run as one pass per shard.
Then the driver writes the blend files, `tokens.json`, the tokenizer dir and `RUN/_extra/<stage>.json`.
Memory per worker: one batch of documents, plus 16 bytes per document of one shard (hash, row).
Everything is keyed by shard id, source and split, so any worker count gives the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline import storage
from pipeline.phases import PhaseRunner
from pipeline.schema import REJECTED_SCHEMA, documents_from_table, dumps, rejected_to_table
from pipeline.shards import RollingParquet, Tally, iter_batches, shard_done, write_stats
from pipeline.step import ConfigPath, GlobalStage, StageConfig, StageContext
from tokenization import blend, megatron, mixture, parts

REASON_EMPTY = "empty_text"
REASON_NO_TOKENS = "no_tokens"
REASON_SAMPLED_OUT = "mixture_not_sampled"


class SourceMixture(BaseModel):
    """How much of one source goes into the tokens, and its share of the training blend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float | None = Field(
        None, gt=0, description="Blend weight (Megatron samples the source in this proportion). "
        "Give it for every source or none; without weights, the blend follows the written token counts.")
    tokens: int | None = Field(
        None, ge=1, description="Token budget (EOD included, all splits): the source is down- or "
        "upsampled to at least this many tokens, exceeding it by less than one document.")
    epochs: float | None = Field(
        None, ge=0, description="Sampling factor: 0.25 keeps a quarter of the documents, 2.5 writes every "
        "document twice and half of them a third time. Default 1.")

    @model_validator(mode="after")
    def _one_amount(self) -> SourceMixture:
        if self.tokens is not None and self.epochs is not None:
            raise ValueError("give either 'tokens' (a budget) or 'epochs', not both")
        return self


class TokenizeConfig(StageConfig):
    """Tokenize with a HF tokenizer.json and write Megatron-LM indexed datasets plus the blend files."""

    type: Literal["tokenize"]
    kind: ClassVar[Literal["document", "global"]] = "global"
    writes_documents: ClassVar[bool] = False

    tokenizer: ConfigPath = Field(description="An HF fast tokenizer file (tokenizer.json). No hub downloads.")
    eod_token: str = Field(
        "<|endoftext|>", description="Appended to every document (Megatron's --append-eod).")
    mixture: dict[str, SourceMixture] = Field(
        default_factory=dict, description="Per source name: weight, token budget or epochs. "
        "Sources not listed are written whole (epochs 1).")
    split: dict[Literal["train", "valid", "test"], float] = Field(
        default_factory=lambda: {"train": 1.0},
        description="Fractions of documents per split, decided by a hash of the document id.")
    seed: int | None = Field(None, description="Mixture seed; default: the run's seed.")
    dataset_tokens: int = Field(
        4_000_000_000, ge=1, description="Largest dataset, in expected tokens: a source (per split) with "
        "more is written as several Megatron datasets of about this size (`<source>_part00000_text_document`"
        ", ...), by parallel tasks, each in the blend with its own token count.")

    def check_files(self) -> list[str]:
        problems = super().check_files()
        if problems:
            return problems
        from tokenizers import Tokenizer

        try:
            tok = Tokenizer.from_file(self.tokenizer)
        except Exception as exc:  # tokenizers raises a bare Exception for a bad file
            return [f"tokenizer {self.tokenizer} does not load: {exc}"]
        if tok.token_to_id(self.eod_token) is None:
            return [f"tokenizer {self.tokenizer}: no end-of-document token {self.eod_token!r}"]
        return []

    def build(self) -> TokenizeStage:
        return TokenizeStage(self)


def _tok_dir(work_dir: str) -> str:
    return storage.join(work_dir, "tok")


def _shard_prefix(work_dir: str, source: str, shard: str) -> str:
    return storage.join(_tok_dir(work_dir), source, shard)


def _summary_path(work_dir: str, shard: str) -> str:
    return storage.join(_tok_dir(work_dir), f"{shard}.json")


def _write_array(path: str, arr: np.ndarray) -> None:
    storage.atomic_write(path, arr.tobytes())


def _read_array(path: str, dtype: type) -> np.ndarray:
    return np.frombuffer(storage.read_bytes(path), dtype=dtype)


def _read_json(path: str) -> Any:
    return json.loads(storage.read_bytes(path))


class TokenizeWorker:
    """Phase 1, one per Ray actor: loads the tokenizer once, then tokenizes whole shards."""

    def __init__(self, tokenizer_path: str, eod_id: int, dtype: str, seed: int, work_dir: str,
                 batch_rows: int, threads: int) -> None:
        # tokenizers sizes its thread pool on first use: keep it to this actor's CPUs.
        os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, threads)))
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(tokenizer_path)
        self.eod, self.dtype, self.seed = eod_id, np.dtype(dtype), seed
        self.work_dir, self.batch_rows = work_dir, batch_rows

    def _encode(self, batch: Any) -> tuple[Any, list[str], list[Any]]:
        texts = batch.column("text").to_pylist()
        return batch, texts, self.tok.encode_batch_fast(texts, add_special_tokens=False)

    def _encoded(self, files: list[str]) -> Iterator[tuple[Any, list[str], list[Any]]]:
        """Batches with their encodings, the next one read and encoded in a helper thread.

        `encode_batch` releases the GIL, so reading and encoding batch k+1 overlaps with turning
        batch k into arrays and writing it; order is unchanged (one batch in flight).
        """
        batches = iter_batches(files, self.batch_rows)
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = next(batches, None)
            pending = pool.submit(self._encode, first) if first is not None else None
            while pending is not None:
                done = pending.result()
                following = next(batches, None)
                pending = pool.submit(self._encode, following) if following is not None else None
                yield done

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        shard, files = item["shard"], item["files"]
        out: dict[str, dict[str, Any]] = {}
        state: dict[str, tuple[megatron.DatasetWriter, list[np.ndarray], list[np.ndarray]]] = {}
        row = 0
        try:
            for batch, texts, encodings in self._encoded(files):
                ids = batch.column("id").to_pylist()
                sources = batch.column("source").to_pylist()
                per: dict[str, tuple[list[list[int]], list[int], list[int], list[int]]] = {}
                for i, enc in enumerate(encodings):
                    src = sources[i]
                    st = out.setdefault(src, {"rows": 0, "documents": 0, "tokens": 0, "rejected": {}})
                    st["rows"] += 1
                    toks = enc.ids
                    if not toks:
                        reason = REASON_EMPTY if not texts[i] else REASON_NO_TOKENS
                        st["rejected"][reason] = st["rejected"].get(reason, 0) + 1
                        continue
                    docs, lengths, hashes, rows = per.setdefault(src, ([], [], [], []))
                    toks.append(self.eod)  # the list is ours: no copy
                    docs.append(toks)
                    lengths.append(len(toks))
                    hashes.append(mixture.doc_hash(self.seed, src, ids[i]))
                    rows.append(row + i)
                row += len(texts)
                for src, (docs, lengths, hashes, rows) in per.items():
                    if src not in state:
                        prefix = _shard_prefix(self.work_dir, src, shard)
                        state[src] = (megatron.DatasetWriter(prefix, self.dtype), [], [])
                    writer, hs, rs = state[src]
                    total = sum(lengths)
                    flat = np.fromiter(itertools.chain.from_iterable(docs), dtype=self.dtype, count=total)
                    writer.add_documents(flat, np.array(lengths, dtype=np.int64))
                    hs.append(np.array(hashes, dtype=np.uint64))
                    rs.append(np.array(rows, dtype=np.int64))
                    out[src]["documents"] += len(lengths)
                    out[src]["tokens"] += total
        except BaseException:
            for writer, _, _ in state.values():
                writer.abort()
            raise
        for src, (writer, hs, rs) in state.items():
            prefix = _shard_prefix(self.work_dir, src, shard)
            # per document: 8 + 8 bytes, O(documents of one shard), the same order as the lengths.
            _write_array(prefix + ".hash", np.concatenate(hs))
            _write_array(prefix + ".rows", np.concatenate(rs))
            writer.finish()
        summary = {"shard": shard, "rows": row, "sources": out}
        storage.atomic_write(_summary_path(self.work_dir, shard), (dumps(summary) + "\n").encode())
        return {"shard": shard, "rows": row, "tokens": sum(st["tokens"] for st in out.values())}


def _source_arrays(work_dir: str, source: str, shard: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = _shard_prefix(work_dir, source, shard)
    hashes = _read_array(prefix + ".hash", np.uint64)
    lengths = np.asarray(megatron.read_index(prefix).lengths, dtype=np.int64)
    return hashes, lengths


def plan_budget(item: dict[str, Any], work_dir: str) -> dict[str, Any]:
    """Phase 2: the plan that meets one source's token budget (streams the source's shards twice)."""
    source, shards = item["source"], item["shards"]

    def stream() -> Any:
        for shard in shards:
            yield _source_arrays(work_dir, source, shard)

    plan, selected = mixture.budget_plan(item["total"], item["budget"], stream(), stream())
    return {"source": source, "whole": plan.whole, "threshold": plan.threshold, "selected": selected}


class AccountWorker:
    """Phase 3: per shard, reject what has no tokens or was sampled out; write the shard's stats."""

    def __init__(self, stage_name: str, stage_dir: str, rejected_dir: str, work_dir: str, batch_rows: int,
                 target_bytes: int, compression: str, keep_rejected_text: bool) -> None:
        self.stage_name, self.stage_dir, self.rejected_dir = stage_name, stage_dir, rejected_dir
        self.work_dir, self.batch_rows = work_dir, batch_rows
        self.target_bytes, self.compression, self.keep_text = target_bytes, compression, keep_rejected_text

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        shard, files = item["shard"], item["files"]
        bounds = tuple(item["bounds"])
        summary = _read_json(_summary_path(self.work_dir, shard))
        tally = Tally()
        tally.ensure_stage(self.stage_name)
        status = np.zeros(summary["rows"], dtype=np.int8)  # 0: no tokens, 1: written, 2: sampled out
        counters: dict[str, int] = {}
        for src, st in sorted(summary["sources"].items()):
            tally.seen(self.stage_name, src, st["rows"])
            for reason, n in sorted(st["rejected"].items()):
                tally.rejected(self.stage_name, src, reason, n)
            if not st["documents"]:
                continue
            prefix = _shard_prefix(self.work_dir, src, shard)
            hashes, lengths = _source_arrays(self.work_dir, src, shard)
            rows = _read_array(prefix + ".rows", np.int64)
            whole, threshold = item["plans"].get(src, (1, 0))
            copies = mixture.Plan(whole, threshold).copies(hashes)
            chosen = copies > 0
            status[rows] = np.where(chosen, 1, 2)
            tally.kept(self.stage_name, src, int(chosen.sum()))
            if (~chosen).any():
                tally.rejected(self.stage_name, src, REASON_SAMPLED_OUT, int((~chosen).sum()))
            split = mixture.splits_of(hashes, bounds)
            counters["tokens_in"] = counters.get("tokens_in", 0) + int(lengths.sum())
            counters["tokens_out"] = counters.get("tokens_out", 0) + int((lengths * copies).sum())
            counters["documents_out"] = counters.get("documents_out", 0) + int(copies.sum())
            for k, name in enumerate(mixture.SPLITS):
                key = f"documents_{name}"
                counters[key] = counters.get(key, 0) + int(copies[split == k].sum())
        tally.add_counters(self.stage_name, counters)
        rejected_files = self._write_rejected(shard, files, status) if (status != 1).any() else []
        stats = {
            "shard": shard,
            "stages": tally.to_dict(),
            "outputs": [],
            "rejected_outputs": {self.stage_name: rejected_files},
            "seconds": round(time.monotonic() - started, 3),
        }
        write_stats(self.stage_dir, shard, stats)
        return {"shard": shard, "rows": summary["rows"]}

    def _write_rejected(self, shard: str, files: list[str], status: np.ndarray) -> list[dict[str, Any]]:
        out = RollingParquet(self.rejected_dir, f"part-{shard}", REJECTED_SCHEMA, self.target_bytes,
                              self.compression)
        row = 0
        try:
            for batch in iter_batches(files, self.batch_rows):
                st = status[row : row + batch.num_rows]
                picked = np.flatnonzero(st != 1)
                row += batch.num_rows
                if not picked.size:
                    continue
                docs = documents_from_table(batch.take(picked))
                reasons = [
                    REASON_SAMPLED_OUT if st[i] == 2 else (REASON_EMPTY if not d.text else REASON_NO_TOKENS)
                    for i, d in zip(picked, docs, strict=True)
                ]
                if not self.keep_text:
                    for d in docs:
                        d.text = ""
                out.write(rejected_to_table(docs, self.stage_name, reasons))
        except BaseException:
            out.abort()
            raise
        return out.close(ensure_one=False)


class TokenizeAndAccount:
    """Phases 1 and 3 in one pass over a shard, when every source's plan is known up front (no budgets)."""

    def __init__(self, tokenize: functools.partial, account: functools.partial) -> None:
        self.tokenize, self.account = tokenize(), account()

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        if not storage.is_file(_summary_path(self.account.work_dir, item["shard"])):
            self.tokenize(item)
        return self.account(item)


def merge_source_split(item: dict[str, Any], work_dir: str) -> dict[str, Any]:
    """Phase 4: a run of one source's shards, one split, into one Megatron dataset, epoch-major."""
    source, split_k, prefix = item["source"], item["split"], item["prefix"]
    plan = mixture.Plan(*item["plan"])
    bounds = tuple(item["bounds"])
    writer = megatron.DatasetWriter(prefix, np.dtype(item["dtype"]))
    try:
        for copy in range(plan.max_copies):
            for shard in item["shards"]:
                sp = _shard_prefix(work_dir, source, shard)
                hashes = _read_array(sp + ".hash", np.uint64)
                keep = (plan.copies(hashes) > copy) & (mixture.splits_of(hashes, bounds) == split_k)
                if keep.any():
                    megatron.copy_selected(megatron.DatasetReader(sp), keep, writer)
    except BaseException:
        writer.abort()
        raise
    if writer.documents == 0:
        writer.abort()
        return {"documents": 0, "tokens": 0}
    return writer.finish()


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class TokenizeStage(GlobalStage):
    def __init__(self, cfg: TokenizeConfig) -> None:
        self.cfg = cfg
        self.name = cfg.stage_name

    def _tokenizer_info(self) -> dict[str, Any]:
        from tokenizers import Tokenizer

        path = self.cfg.tokenizer
        if not os.path.isfile(path):
            raise FileNotFoundError(f"tokenizer file not found: {path}")
        tok = Tokenizer.from_file(path)
        eod = tok.token_to_id(self.cfg.eod_token)
        if eod is None:
            raise ValueError(f"{path}: the end-of-document token {self.cfg.eod_token!r} is not in the "
                             "vocabulary; set eod_token to one of its special tokens")
        vocab = tok.get_vocab_size(with_added_tokens=True)
        return {"path": path, "sha256": file_sha256(path), "vocab_size": vocab,
                "eod_token": self.cfg.eod_token, "eod_id": eod, "dtype": str(megatron.optimal_dtype(vocab))}

    def run(self, ctx: StageContext) -> None:
        cfg, run_cfg = self.cfg, ctx.config
        seed = run_cfg.seed if cfg.seed is None else cfg.seed
        info = self._tokenizer_info()
        shards = dict(sorted(ctx.shards.items()))
        tokens_dir = blend.tokens_dir(ctx.run_dir)
        out = run_cfg.output
        bounds = mixture.split_bounds(dict(cfg.split))
        inputs_key = hashlib.sha256("\n".join(shards).encode()).hexdigest()
        if self._complete(ctx, tokens_dir, inputs_key):
            return

        # Plans for sources sampled by epochs are known now; token budgets need the counting pass.
        budgets = {src: m.tokens for src, m in cfg.mixture.items() if m.tokens is not None}
        plans: dict[str, tuple[int, int]] = {}
        for src, m in cfg.mixture.items():
            if m.tokens is None:
                p = mixture.Plan.from_epochs(1.0 if m.epochs is None else m.epochs)
                plans[src] = (p.whole, p.threshold)
        threads = max(1, int(run_cfg.ray.cpus_per_worker))
        tokenize = functools.partial(TokenizeWorker, info["path"], info["eod_id"], info["dtype"], seed,
                                     ctx.work_dir, out.batch_rows, threads)
        account = functools.partial(
            AccountWorker, ctx.stage_name, ctx.stage_dir, ctx.rejected_dir, ctx.work_dir, out.batch_rows,
            out.target_shard_mb * 2**20, out.compression, out.keep_rejected_text)

        params = {"tokenizer": info, "seed": seed, "inputs": inputs_key, "budgets": budgets, "plans": plans}
        phases = PhaseRunner(ctx, params, 4 if budgets else 2)
        # 1. tokenize (the counting pass); without budgets, accounting happens in the same pass (3)
        if budgets:
            todo = [{"shard": s, "files": f} for s, f in shards.items()
                    if not storage.is_file(_summary_path(ctx.work_dir, s))]
            phases.run("tokenize", todo, tokenize)
        else:
            todo = [{"shard": s, "files": f, "plans": plans, "bounds": list(bounds)}
                    for s, f in shards.items()
                    if not (shard_done(ctx.stage_dir, s) and storage.is_file(_summary_path(ctx.work_dir, s)))]
            phases.run("tokenize", todo, functools.partial(TokenizeAndAccount, tokenize, account))
        summaries = {s: _read_json(_summary_path(ctx.work_dir, s)) for s in shards}
        totals: dict[str, dict[str, Any]] = {}
        for s, summ in summaries.items():
            for src, st in summ["sources"].items():
                t = totals.setdefault(src, {"documents": 0, "tokens": 0, "shards": []})
                t["documents"] += st["documents"]
                t["tokens"] += st["tokens"]
                if st["documents"]:
                    t["shards"].append(s)
        totals = dict(sorted(totals.items()))
        weights = self._weights(totals)
        for src in totals:
            if src not in budgets:
                plans.setdefault(src, (1, 0))

        if budgets:
            # 2. budgets: the exact threshold from a streamed histogram, per source
            budget_items = [{"source": src, "shards": totals[src]["shards"], "budget": budget,
                             "total": totals[src]["tokens"]}
                            for src, budget in sorted(budgets.items()) if src in totals]
            for r in phases.run("budgets", budget_items, functools.partial(_PlanFn, ctx.work_dir)):
                plans[r["source"]] = (r["whole"], r["threshold"])
            # 3. accounting and rejected rows, per shard (done in pass 1 when there are no budgets)
            acct = [{"shard": s, "files": f, "plans": plans, "bounds": list(bounds)}
                    for s, f in shards.items() if not shard_done(ctx.stage_dir, s)]
            phases.run("account", acct, account)

        # 4. one dataset per source and split
        active = [k for k, name in enumerate(mixture.SPLITS) if cfg.split.get(name, 0) > 0]
        named = len(active) > 1 or active != [0]
        merges = []
        for src, t in totals.items():
            if not t["shards"]:
                continue
            shard_tokens = [(s, summaries[s]["sources"][src]["tokens"]) for s in t["shards"]]
            runs = parts.cut(shard_tokens, mixture.Plan(*plans[src]), cfg.dataset_tokens)
            for k in active:
                stem = f"{src}_{mixture.SPLITS[k]}" if named else src
                for j, run_shards in enumerate(runs):
                    name = parts.prefix_stem(stem, j, len(runs))
                    merges.append({"source": src, "split": k, "plan": list(plans[src]),
                                   "bounds": list(bounds), "shards": run_shards, "dtype": info["dtype"],
                                   "prefix": storage.join(tokens_dir, f"{name}_text_document")})
        results = phases.run("merge", merges, functools.partial(_MergeFn, ctx.work_dir))
        self._finish(ctx, info, seed, totals, plans, weights, merges, results, tokens_dir, inputs_key)

    @staticmethod
    def _complete(ctx: StageContext, tokens_dir: str, inputs_key: str) -> bool:
        """A rerun after success (the runner has removed the work dir): every shard done, tokens written."""
        if not all(shard_done(ctx.stage_dir, s) for s in ctx.shards):
            return False
        try:
            summary = _read_json(storage.join(tokens_dir, blend.SUMMARY))
            return summary.get("input_shards_sha256") == inputs_key
        except (OSError, ValueError):
            return False

    def _weights(self, totals: dict[str, Any]) -> dict[str, float] | None:
        given = {s: m.weight for s, m in self.cfg.mixture.items() if m.weight is not None}
        if not given:
            return None
        missing = [s for s, t in totals.items() if t["documents"] and s not in given]
        if missing:
            raise ValueError(f"tokenize: mixture weights are given for {sorted(given)} but not for "
                             f"{missing}; give a weight for every source or for none")
        return given

    def _finish(self, ctx: StageContext, info: dict[str, Any], seed: int, totals: dict[str, Any],
                plans: dict[str, tuple[int, int]], weights: dict[str, float] | None,
                merges: list[dict[str, Any]], results: list[dict[str, Any]], tokens_dir: str,
                inputs_key: str) -> None:
        per_split: dict[str, list[dict[str, Any]]] = {s: [] for s in mixture.SPLITS}
        sources: dict[str, Any] = {}
        for m, r in zip(merges, results, strict=True):
            src, split = m["source"], mixture.SPLITS[m["split"]]
            t = totals[src]
            entry = sources.setdefault(src, {
                "documents_in": t["documents"], "tokens_in": t["tokens"],
                "plan": {"whole_copies": plans[src][0], "threshold": plans[src][1]},
                "documents_out": 0, "tokens_out": 0, "splits": {}})
            entry["documents_out"] += r["documents"]
            entry["tokens_out"] += r["tokens"]
            sp = entry["splits"].setdefault(split, {"documents": 0, "tokens": 0, "prefix": None,
                                                    "datasets": []})
            sp["documents"] += r["documents"]
            sp["tokens"] += r["tokens"]
            if r["documents"]:
                sp["datasets"].append({"prefix": m["prefix"], "documents": r["documents"],
                                       "tokens": r["tokens"]})
                per_split[split].append({"source": src, "prefix": m["prefix"], "tokens": r["tokens"]})
        for entry in sources.values():
            for sp in entry["splits"].values():  # `prefix`: the dataset, when the split is one
                sp["prefix"] = sp["datasets"][0]["prefix"] if len(sp["datasets"]) == 1 else None
        for src in sorted(self.cfg.mixture):
            if src not in sources:
                sources[src] = {"documents_in": 0, "tokens_in": 0, "warning": "no documents from this source"}
        lists = blend.write_blend_files(tokens_dir, per_split, weights)
        tok_dir = storage.join(tokens_dir, blend.TOKENIZER_DIR)
        with open(info["path"], "rb") as f:
            storage.atomic_write(storage.join(tok_dir, "tokenizer.json"), f.read())
        tok_config = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": info["eod_token"]}
        storage.atomic_write(
            storage.join(tok_dir, "tokenizer_config.json"), (dumps(tok_config) + "\n").encode()
        )
        summary = {
            "stage": ctx.stage_name,
            "tokenizer": info,
            "seed": seed,
            "split": {s: float(self.cfg.split.get(s, 0.0)) for s in mixture.SPLITS},
            "weights": weights,
            "sources": dict(sorted(sources.items())),
            "blend": lists,
            "input_shards_sha256": inputs_key,
        }
        blend.write_summary(tokens_dir, summary)
        remote = storage.is_uri(ctx.run_dir)
        extra = {**summary, "megatron_args": None if remote else blend.megatron_args(ctx.run_dir)}
        storage.atomic_write(storage.join(ctx.run_dir, "_extra", f"{ctx.stage_name}.json"),
                             (dumps(extra) + "\n").encode())


class _PlanFn:
    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        return plan_budget(item, self.work_dir)


class _MergeFn:
    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        return merge_source_split(item, self.work_dir)
