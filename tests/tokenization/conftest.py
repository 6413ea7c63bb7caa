"""Shared by the tokenization tests: one pair of tokenize-stage runs (1 and 2 workers) per session."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.schema import Document, documents_to_table
from pipeline.shards import ShardWriter, shard_files
from pipeline.step import StageContext

REPO = Path(__file__).resolve().parents[2]
TOKENIZER = REPO / "data" / "tokenizers" / "sample-bpe-8k" / "tokenizer.json"


@pytest.fixture(scope="session")
def sample_tokenizer() -> Path:
    return TOKENIZER


def _texts() -> tuple[list[str], list[str]]:
    """Real prose (standard-library docstrings) for 'web' and real code (its source) for 'code'."""
    import argparse
    import collections
    import email.message
    import inspect as insp
    import json as js
    import pathlib
    import shutil
    import subprocess
    import textwrap
    import typing

    modules = (argparse, collections, email.message, insp, js, pathlib, shutil, subprocess, textwrap, typing)
    prose, code = [], []
    for mod in modules:
        for name, obj in sorted(vars(mod).items()):
            doc = inspect.getdoc(obj) if callable(obj) else None
            if doc and len(doc) > 40 and not name.startswith("_"):
                prose.append(doc)
        src = inspect.getsource(mod)
        for node in ast.parse(src).body:
            seg = ast.get_source_segment(src, node)
            if seg and len(seg) > 80:
                code.append(seg)
    return prose, code


def make_input(prev: Path) -> dict[str, list[str]]:
    prose, code = _texts()
    groups = {
        "code-0": [Document(f"code-{i}", t, "code") for i, t in enumerate(code[:150])],
        "web-0": [Document(f"web-{i}", t, "web") for i, t in enumerate(prose[:120])],
        "web-1": [Document(f"web-{i}", t, "web") for i, t in enumerate(prose[120:240], start=120)],
    }
    groups["web-1"][5].text = ""  # an empty document: rejected as empty_text, not lost
    for shard, docs in groups.items():
        w = ShardWriter(str(prev), shard, target_bytes=1 << 30)
        w.write(documents_to_table(docs))
        w.finish()
    return shard_files(str(prev))


CONFIG = """
seed: 3
sources: [{{name: web, format: jsonl, paths: [x.jsonl]}}, {{name: code, format: jsonl, paths: [y.jsonl]}}]
output: {{batch_rows: 64}}
ray: {{num_workers: {workers}}}
stages:
  - type: tokenize
    tokenizer: {tokenizer}
    mixture: {{web: {{tokens: 20000}}, code: {{epochs: 1.5}}}}
    split: {{train: 0.8, valid: 0.1, test: 0.1}}
"""


def run_stage(tmp: Path, workers: int) -> tuple[Path, StageContext]:
    run = tmp / f"run{workers}"
    shards = make_input(run / "00_read")
    cfg = parse_config(CONFIG.format(workers=workers, tokenizer=TOKENIZER), "t.yaml", str(tmp))
    ctx = StageContext(config=cfg, run_dir=str(run), stage_index=1, stage_name="tokenize",
                       stage_dir=str(run / "01_tokenize"), rejected_dir=str(run / "rejected" / "01_tokenize"),
                       work_dir=str(run / "_work" / "01_tokenize"), shards=shards)
    cfg.stages[0].build().run(ctx)
    return run, ctx


@pytest.fixture(scope="session")
def tokenize_runs(tmp_path_factory, ray_session):
    """Two runs of the same config and input, with 1 and 2 Ray workers."""
    tmp = tmp_path_factory.mktemp("tok")
    return {w: run_stage(tmp, w) for w in (1, 2)}


@pytest.fixture(scope="session")
def tokenize_input():
    """Writes the test input shards (code-0, web-0, web-1) into a folder; returns shard -> files."""
    return make_input
