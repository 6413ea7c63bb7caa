"""The error ceiling: a stage that quarantines too much of its input as errors stops the run after it.

Rejections are the pipeline doing its job; errors are input it could not read (corrupt or truncated
files, undecodable records, failed HTML extraction, a wrong `text_field`) or a stage that raised.
When more than `max_error_fraction` of a stage's input documents are errors, the run is not producing
what its config says, and going on for hours would only hide that. The check reads the per-shard
stats (and, to name the first error, the rejected rows of one shard), so it gives the same answer on
every rerun.
"""

from __future__ import annotations

from typing import Any

from pipeline import storage
from pipeline.shards import merge_tallies, output_path

READ_REJECTIONS = frozenset({"empty_text", "too_large", "not_html", "http_status_not_200"})
"""The read stage's reasons that are what a page is, not an error; every other read reason is one."""

STEP_ERROR = "error"
"""The reason of a document a stage raised on (`runner._guarded`)."""


class ErrorCeilingExceeded(RuntimeError):
    """A stage quarantined more than `max_error_fraction` of its input as errors."""


WORKER_CRASH = "worker_crash"
"""The reason of a document that killed its Ray worker on every attempt (`pipeline.poison`)."""


def is_error(kind: str, reason: str) -> bool:
    """Whether a rejection reason of a stage of this kind ("read", "document", "global") is an error."""
    if kind == "read":
        return reason not in READ_REJECTIONS
    return reason in (STEP_ERROR, WORKER_CRASH)


def check(
    stats: dict[str, dict[str, Any]],
    stage: str,
    kind: str,
    rejected_dir: str,
    max_fraction: float,
    label: str,
) -> None:
    """Raise `ErrorCeilingExceeded`, naming the stage, the fraction and the first error, when the
    stage's errors exceed `max_fraction` of its input. `stats` are the stage's shard stats by shard."""
    merged = merge_tallies(list(stats.values())).get(stage, {"sources": {}})
    n_in = sum(c["in"] for c in merged["sources"].values())
    n_err = sum(n for c in merged["sources"].values() for r, n in c["rejected"].items() if is_error(kind, r))
    if not n_in or n_err <= max_fraction * n_in:
        return
    first = first_error(stats, stage, kind, rejected_dir)
    where = f"; the first: {first[0]} in document {first[1]!r}" if first else ""
    raise ErrorCeilingExceeded(
        f"stage {label} quarantined {n_err} of its {n_in} input documents as errors ({n_err / n_in:.1%}), "
        f"more than max_error_fraction {max_fraction:g}{where}"
    )


def first_error(
    stats: dict[str, dict[str, Any]], stage: str, kind: str, rejected_dir: str
) -> tuple[str, str] | None:
    """(reason, document id) of the first error row: first by shard id, then in row order."""
    import pyarrow.parquet as pq

    for shard in sorted(stats):
        st = stats[shard]
        sources = st.get("stages", {}).get(stage, {}).get("sources", {})
        if not any(n and is_error(kind, r) for c in sources.values() for r, n in c["rejected"].items()):
            continue
        for out in st.get("rejected_outputs", {}).get(stage, []):
            with storage.open_input(output_path(rejected_dir, out["path"])) as f:
                for batch in pq.ParquetFile(f).iter_batches(columns=["id", "reason"]):
                    reasons, ids = batch.column("reason").to_pylist(), batch.column("id").to_pylist()
                    for reason, doc_id in zip(reasons, ids, strict=True):
                        if is_error(kind, reason):
                            return reason, doc_id
    return None
