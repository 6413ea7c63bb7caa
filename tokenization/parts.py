"""Datasets per source: a large source is written as several Megatron datasets, in parallel.

One writer per source would put a whole crawl's `.bin` through one process (and past object storage's
object size limit: S3's is 5 TB). Instead, a source's input shards, in shard-id order, are cut into
runs of about `dataset_tokens` expected output tokens; each run is one dataset per split, written by
its own task. Cuts depend only on shard ids and their token counts, never on workers or timing, so
the bytes are the same for any worker count; a source under the size is one dataset, as before.
Each dataset is listed in the blend with its own token count (see `blend.blend_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenization.mixture import FULL, Plan


def expected_copies(plan: Plan) -> float:
    """How many times a document of the source is written, on average."""
    return plan.whole + plan.threshold / FULL


def cut(shard_tokens: Sequence[tuple[str, int]], plan: Plan, dataset_tokens: int) -> list[list[str]]:
    """Shards (id, tokens before sampling, in id order) grouped into runs, one dataset per run.

    A shard goes to run floor(expected output tokens before it / dataset_tokens); runs that no shard
    starts in are dropped, so a shard larger than the size is a run of its own. Shards with no tokens
    join the run they fall in (they add nothing to it).
    """
    factor = expected_copies(plan)
    runs: dict[int, list[str]] = {}
    before = 0.0
    for shard, tokens in shard_tokens:
        runs.setdefault(int(before // dataset_tokens), []).append(shard)
        before += tokens * factor
    return [runs[k] for k in sorted(runs)]


def prefix_stem(stem: str, part: int, parts: int) -> str:
    """`web_train` for a source in one dataset; `web_train_part00003` for the 4th of several."""
    return stem if parts == 1 else f"{stem}_part{part:05d}"
