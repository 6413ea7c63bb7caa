"""Several datasets per source (issue 11 item 3): cut by shard runs, written by parallel tasks.

A source above `dataset_tokens` is written as `<source>_part<k>_text_document` datasets; the bytes do
not depend on the worker count, the parts hold exactly the documents one dataset would (in the same
order when nothing is upsampled), and megatron-core's blend reads them with the source's weight
shared among its parts by tokens.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import parse_config
from pipeline.schema import Document, documents_to_table
from pipeline.shards import ShardWriter, shard_files
from pipeline.step import StageContext
from tests.tokenization.conftest import TOKENIZER, _texts
from tokenization import blend, megatron, parts
from tokenization.mixture import Plan

CONFIG = """
seed: 5
sources: [{{name: web, format: jsonl, paths: [x]}}, {{name: code, format: jsonl, paths: [y]}}]
output: {{batch_rows: 32}}
ray: {{num_workers: {workers}}}
stages:
  - type: tokenize
    tokenizer: {tokenizer}
    mixture: {{web: {{weight: 0.6}}, code: {{weight: 0.4, epochs: 1.5}}}}
    split: {{train: 0.9, valid: 0.1}}
{extra}"""


def test_cut_groups_shards_in_order_by_expected_tokens():
    shards = [("a", 40), ("b", 40), ("c", 40), ("d", 200), ("e", 10), ("f", 10)]
    assert parts.cut(shards, Plan(1, 0), 100) == [["a", "b", "c"], ["d"], ["e", "f"]]
    assert parts.cut(shards, Plan(1, 0), 10_000) == [["a", "b", "c", "d", "e", "f"]]
    # upsampled 2x: twice the tokens per shard, so runs are half as long
    assert parts.cut(shards, Plan(2, 0), 100) == [["a", "b"], ["c"], ["d"], ["e", "f"]]
    assert parts.cut([], Plan(1, 0), 100) == []
    assert parts.prefix_stem("web_train", 3, 4) == "web_train_part00003"
    assert parts.prefix_stem("web_train", 0, 1) == "web_train"


def test_weights_are_shared_among_a_sources_parts_by_tokens():
    ds = [
        {"source": "web", "tokens": 300},
        {"source": "web", "tokens": 100},
        {"source": "code", "tokens": 50},
    ]
    w = blend.blend_weights(ds, {"web": 0.6, "code": 0.4})
    assert np.allclose(w, [0.45, 0.15, 0.4])
    one = [{"source": "web", "tokens": 300}, {"source": "code", "tokens": 50}]
    assert blend.blend_weights(one, {"web": 0.6, "code": 0.4}) == [0.6, 0.4]  # one dataset: as before


def _input(prev: Path) -> dict[str, list[str]]:
    """6 web shards and 3 code shards of real text."""
    prose, code = _texts()
    for k in range(6):
        docs = [Document(f"web-{k}-{i}", t, "web") for i, t in enumerate(prose[k * 40 : (k + 1) * 40])]
        w = ShardWriter(str(prev), f"web-{k}", target_bytes=1 << 30)
        w.write(documents_to_table(docs))
        w.finish()
    for k in range(3):
        docs = [Document(f"code-{k}-{i}", t, "code") for i, t in enumerate(code[k * 50 : (k + 1) * 50])]
        w = ShardWriter(str(prev), f"code-{k}", target_bytes=1 << 30)
        w.write(documents_to_table(docs))
        w.finish()
    return shard_files(str(prev))


def _run(tmp: Path, name: str, workers: int, dataset_tokens: int | None) -> Path:
    run = tmp / name
    shards = _input(run / "00_read")
    extra = f"    dataset_tokens: {dataset_tokens}\n" if dataset_tokens else ""
    cfg = parse_config(CONFIG.format(workers=workers, tokenizer=TOKENIZER, extra=extra), "t.yaml", str(tmp))
    ctx = StageContext(config=cfg, run_dir=str(run), stage_index=1, stage_name="tokenize",
                       stage_dir=str(run / "01_tokenize"), rejected_dir=str(run / "rejected" / "01_tokenize"),
                       work_dir=str(run / "_work" / "01_tokenize"), shards=shards)
    cfg.stages[0].build().run(ctx)
    return run


@pytest.fixture(scope="module")
def part_runs(tmp_path_factory, ray_session):
    tmp = tmp_path_factory.mktemp("parts")
    return {
        "whole": _run(tmp, "whole", 1, None),
        "parts1": _run(tmp, "parts1", 1, 12_000),
        "parts2": _run(tmp, "parts2", 2, 12_000),
    }


pytestmark = pytest.mark.ray


def _stream(prefix: Path) -> list[list[int]]:
    return [t.tolist() for t in megatron.DatasetReader(str(prefix))]


def test_a_large_source_is_several_datasets_with_identical_bytes_for_1_and_2_workers(part_runs):
    one, two = part_runs["parts1"] / "tokens", part_runs["parts2"] / "tokens"
    names = sorted(os.listdir(one))
    assert names == sorted(os.listdir(two))
    web_parts = sorted(n for n in names if n.startswith("web_train_part") and n.endswith(".bin"))
    assert len(web_parts) >= 3, names
    for name in names:
        if (one / name).is_dir():
            continue
        b1, b2 = (one / name).read_bytes(), (two / name).read_bytes()
        if not name.endswith((".bin", ".idx")):
            b2 = b2.replace(str(part_runs["parts2"]).encode(), str(part_runs["parts1"]).encode())
        assert b1 == b2, name
    for name in names:
        if name.endswith(".idx"):
            assert megatron.check(str(one / name[: -len(".idx")]), vocab_size=8000)["ok"], name


def test_parts_hold_exactly_the_documents_of_one_dataset(part_runs):
    whole = part_runs["whole"] / "tokens"
    summary = blend.load_summary(str(part_runs["parts1"]))
    for split in ("train", "valid"):
        # web, epochs 1: the parts in order are the one dataset, document for document
        sp = summary["sources"]["web"]["splits"][split]
        got = [doc for d in sp["datasets"] for doc in _stream(Path(d["prefix"]))]
        assert got == _stream(whole / f"web_{split}_text_document")
        assert sp["documents"] == len(got) and sp["tokens"] == sum(map(len, got))
        assert sp["prefix"] is None and len(sp["datasets"]) > 1
        # code, epochs 1.5: each part is epoch-major over its own shards; the same documents overall
        sp = summary["sources"]["code"]["splits"][split]
        got = sorted(doc for d in sp["datasets"] for doc in _stream(Path(d["prefix"])))
        assert got == sorted(_stream(whole / f"code_{split}_text_document"))
    whole_summary = blend.load_summary(str(part_runs["whole"]))
    sp = whole_summary["sources"]["web"]["splits"]["train"]
    assert sp["prefix"] == sp["datasets"][0]["prefix"] and len(sp["datasets"]) == 1


def test_the_blend_shares_each_sources_weight_among_its_parts(part_runs):
    tokens = part_runs["parts1"] / "tokens"
    per_split = json.loads((tokens / blend.PER_SPLIT_ARGS).read_text())
    summary = blend.load_summary(str(part_runs["parts1"]))
    for split in ("train", "valid"):
        items = per_split[split]
        weights = dict(zip(items[1::2], map(float, items[::2]), strict=True))
        assert abs(sum(weights.values()) - 1) < 1e-9
        for source, share in (("web", 0.6), ("code", 0.4)):
            datasets = summary["sources"][source]["splits"][split]["datasets"]
            total = sum(d["tokens"] for d in datasets)
            assert abs(sum(weights[d["prefix"]] for d in datasets) - share) < 1e-9
            for d in datasets:
                assert abs(weights[d["prefix"]] - share * d["tokens"] / total) < 1e-9


def test_megatron_core_reads_the_parts_blend(part_runs, tmp_path):
    """megatron-core's own blend parser and GPTDataset builder over the parts (skips without torch)."""
    from tests.tokenization.test_megatron_compat import HFTokenizerInfo, _megatron

    Builder, GPTDataset, GPTDatasetConfig, IndexedDataset, get_blend_from_list = _megatron()
    tokens = part_runs["parts1"] / "tokens"
    per_split = json.loads((tokens / blend.PER_SPLIT_ARGS).read_text())
    blend_per_split = [get_blend_from_list(per_split[s]) for s in ("train", "valid")] + [None]
    prefixes, weights = blend_per_split[0]
    for p in prefixes:
        assert len(IndexedDataset(p)) == megatron.check(p)["documents"]
    config = GPTDatasetConfig(
        random_seed=1234, sequence_length=32, blend_per_split=blend_per_split,
        path_to_cache=str(tmp_path / "cache"), tokenizer=HFTokenizerInfo(TOKENIZER, "<|endoftext|>"),
        reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False,
    )
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        train, valid, _ = Builder(GPTDataset, [400, 40, 0], lambda: True, config).build()
    finally:
        dist.destroy_process_group()
    assert len(train) >= 400 and len(valid) >= 40
    counts = np.bincount(np.asarray(train.dataset_index), minlength=len(prefixes))
    assert np.allclose(counts / counts.sum(), weights, atol=0.03)
