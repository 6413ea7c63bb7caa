"""Helpers for dedup tests: input shards written like a previous stage's, and a hand-built StageContext."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.schema import Document, documents_to_table
from pipeline.shards import ShardWriter, shard_files
from pipeline.step import StageContext


def write_shards(prev_dir: Path, shards: dict[str, list[Document]]) -> dict[str, list[str]]:
    """Write documents as the previous stage's output shards; return shard id -> files."""
    for shard, docs in shards.items():
        w = ShardWriter(str(prev_dir), shard, target_bytes=1 << 30)
        if docs:
            w.write(documents_to_table(docs))
        w.finish()
    return shard_files(str(prev_dir))


def make_context(tmp: Path, stage_yaml: str, shards: dict[str, list[str]], workers: int = 2) -> StageContext:
    """A StageContext for stage 2 of a run in `tmp` (what the runner would build)."""
    text = (
        "sources: [{name: web, format: jsonl, paths: [x.jsonl]}]\n"
        f"ray: {{num_workers: {workers}}}\n"
        "output: {batch_rows: 7}\n"
        f"stages:\n  - {stage_yaml}\n"
    )
    config = parse_config(text, "t.yaml", str(tmp))
    stage = config.stage_configs()[0]
    name = stage.stage_name
    return StageContext(
        config=config,
        run_dir=str(tmp),
        stage_index=2,
        stage_name=name,
        stage_dir=os.path.join(tmp, f"02_{name}"),
        rejected_dir=os.path.join(tmp, "rejected", f"02_{name}"),
        work_dir=os.path.join(tmp, "_work", f"02_{name}"),
        shards=shards,
    )


def run_stage(
    tmp: Path, stage_yaml: str, shards: dict[str, list[Document]], workers: int = 2
) -> StageContext:
    prev = tmp / "01_prev"
    files = write_shards(prev, shards) if not prev.exists() else shard_files(str(prev))
    ctx = make_context(tmp, stage_yaml, files, workers)
    ctx.config.stage_configs()[0].build().run(ctx)
    return ctx


@pytest.fixture(scope="session")
def sentences(shared_data: Path) -> dict[str, list[str]]:
    """Real sentences (Leipzig corpora via lingua-py), split on newline only."""
    root = shared_data / "langid" / "lingua_sentences"
    return {
        lang: [s for s in (root / f"{lang}.txt").read_text(encoding="utf-8").split("\n") if s.strip()]
        for lang in ("en", "de", "fr", "zh")
    }
