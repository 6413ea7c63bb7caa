"""The tokenize stage end to end on a hand-built StageContext (the runner contract), on embedded Ray."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

from pipeline.config import parse_config
from pipeline.schema import Document
from pipeline.shards import load_stats, merge_tallies
from pipeline.step import StageContext
from tokenization import blend, megatron, mixture

TOKENIZER = Path(__file__).resolve().parents[2] / "data" / "tokenizers" / "sample-bpe-8k" / "tokenizer.json"

pytestmark = pytest.mark.ray


def test_outputs_are_valid_megatron_datasets_with_exact_tokens(tokenize_runs):
    run, ctx = tokenize_runs[1]
    tok = Tokenizer.from_file(str(TOKENIZER))
    eod = tok.token_to_id("<|endoftext|>")
    summary = blend.load_summary(str(run))
    bounds = mixture.split_bounds({"train": 0.8, "valid": 0.1, "test": 0.1})
    docs_by_source: dict[str, list[Document]] = {}
    for _, files in sorted(ctx.shards.items()):
        for f in files:
            for row in pq.read_table(f).to_pylist():
                doc = Document(row["id"], row["text"], row["source"])
                docs_by_source.setdefault(doc.source, []).append(doc)
    for source, docs in docs_by_source.items():
        plan = mixture.Plan(summary["sources"][source]["plan"]["whole_copies"],
                            summary["sources"][source]["plan"]["threshold"])
        for k, split in enumerate(mixture.SPLITS):
            expected = []
            for copy in range(plan.max_copies):
                for d in docs:
                    copies, s = mixture.fate(3, source, d.id, plan, bounds)
                    if d.text and copies > copy and s == split:
                        expected.append([*tok.encode(d.text, add_special_tokens=False).ids, eod])
            prefix = str(run / "tokens" / f"{source}_{split}_text_document")
            assert megatron.check(prefix, vocab_size=8000)["ok"]
            got = [t.tolist() for t in megatron.DatasetReader(prefix)]
            assert got == expected, (source, split, k)
    web = summary["sources"]["web"]
    assert 20000 <= web["tokens_out"] < 20000 + 2000
    code = summary["sources"]["code"]
    assert code["documents_out"] > code["documents_in"]  # epochs 1.5: whole copy + about half again


def test_accounting_holds_and_rejections_carry_reasons(tokenize_runs):
    run, ctx = tokenize_runs[1]
    stats = load_stats(ctx.stage_dir)
    assert sorted(stats) == ["code-0", "web-0", "web-1"]
    total = merge_tallies(list(stats.values()))["tokenize"]
    rejected_rows = pq.read_table(sorted(Path(ctx.rejected_dir).glob("*.parquet"))).to_pylist()
    by_reason: dict[tuple[str, str], int] = {}
    for r in rejected_rows:
        assert r["stage"] == "tokenize"
        by_reason[(r["source"], r["reason"])] = by_reason.get((r["source"], r["reason"]), 0) + 1
    for source, c in total["sources"].items():
        assert c["in"] == c["out"] + sum(c["rejected"].values())
        for reason, n in c["rejected"].items():
            assert by_reason[(source, reason)] == n
    assert total["sources"]["web"]["in"] == 240
    assert total["sources"]["web"]["rejected"]["empty_text"] == 1
    assert total["sources"]["web"]["rejected"]["mixture_not_sampled"] > 0
    assert "mixture_not_sampled" not in total["sources"]["code"]["rejected"]
    extra = json.loads((run / "_extra" / "tokenize.json").read_text())
    assert extra["tokenizer"]["sha256"] and extra["tokenizer"]["dtype"] == "uint16"


def test_blend_files_and_the_hook(tokenize_runs):
    run, _ = tokenize_runs[1]
    tokens = run / "tokens"
    per_split = json.loads((tokens / blend.PER_SPLIT_ARGS).read_text())
    summary = blend.load_summary(str(run))
    for split in mixture.SPLITS:
        items = per_split[split]
        weights, prefixes = [float(w) for w in items[::2]], items[1::2]
        assert abs(sum(weights) - 1) < 1e-9
        toks = [summary["sources"][Path(p).name.split("_")[0]]["splits"][split]["tokens"] for p in prefixes]
        assert np.allclose(weights, np.array(toks) / sum(toks))
    assert (tokens / blend.DATA_ARGS).read_text().split() == per_split["train"]
    args = blend.megatron_args(str(run))
    assert args[:2] == ["--per-split-data-args-path", str(tokens / blend.PER_SPLIT_ARGS)]
    assert args[args.index("--tokenizer-model") + 1] == str(tokens / "tokenizer")
    assert (tokens / "tokenizer" / "tokenizer.json").read_bytes() == TOKENIZER.read_bytes()


def test_one_and_two_workers_give_identical_bytes(tokenize_runs):
    (run1, _), (run2, _) = tokenize_runs[1], tokenize_runs[2]
    names = sorted(os.listdir(run1 / "tokens"))
    assert names == sorted(os.listdir(run2 / "tokens"))
    assert any(n.endswith(".bin") for n in names)
    for name in names:
        p1, p2 = run1 / "tokens" / name, run2 / "tokens" / name
        if p1.is_dir():
            continue
        b1, b2 = p1.read_bytes(), p2.read_bytes()
        if not name.endswith((".bin", ".idx")):  # blend files name the run directory
            b2 = b2.replace(str(run2).encode(), str(run1).encode())
        assert b1 == b2, name


def test_rerun_resumes_and_gives_identical_bytes(tokenize_runs):
    import shutil

    run, ctx = tokenize_runs[1]
    before = {p.name: p.read_bytes() for p in (run / "tokens").iterdir() if p.is_file()}
    shutil.rmtree(ctx.work_dir)  # what the runner does after a stage succeeds
    ctx.config.stages[0].build().run(ctx)  # complete: nothing to do
    assert not Path(ctx.work_dir).exists()
    shutil.rmtree(run / "tokens")  # shards done but tokens gone: re-tokenized, same bytes
    ctx.config.stages[0].build().run(ctx)
    after = {p.name: p.read_bytes() for p in (run / "tokens").iterdir() if p.is_file()}
    assert before == after


def test_epochs_and_weights_without_split_in_one_pass(tmp_path, ray_session, sample_tokenizer,
                                                       tokenize_input):
    """No budget: tokenize and accounting share one pass; weights go to the blend as configured."""
    run = tmp_path / "run"
    shards = tokenize_input(run / "00_read")
    yaml = (
        "seed: 1\nsources: [{name: web, format: jsonl, paths: [x]},\n"
        "  {name: code, format: jsonl, paths: [y]}]\n"
        f"ray: {{num_workers: 1}}\nstages:\n  - type: tokenize\n    tokenizer: {sample_tokenizer}\n"
        "    mixture: {web: {weight: 0.7}, code: {weight: 0.3, epochs: 0.5}}\n"
    )
    cfg = parse_config(yaml, "t.yaml", str(tmp_path))
    ctx = StageContext(config=cfg, run_dir=str(run), stage_index=1, stage_name="tokenize",
                       stage_dir=str(run / "01_tokenize"), rejected_dir=str(run / "rejected" / "01_tokenize"),
                       work_dir=str(run / "_work" / "01_tokenize"), shards=shards)
    cfg.stages[0].build().run(ctx)
    tokens = run / "tokens"
    assert sorted(p.name for p in tokens.glob("*.idx")) == ["code_text_document.idx", "web_text_document.idx"]
    items = (tokens / blend.DATA_ARGS).read_text().split()
    assert items == ["0.3", str(tokens / "code_text_document"), "0.7", str(tokens / "web_text_document")]
    assert blend.megatron_args(str(run))[:2] == ["--data-args-path", str(tokens / blend.DATA_ARGS)]
    total = merge_tallies(list(load_stats(ctx.stage_dir).values()))["tokenize"]["sources"]
    code = total["code"]
    assert code["in"] == code["out"] + code["rejected"]["mixture_not_sampled"]
    assert abs(code["out"] / code["in"] - 0.5) < 0.1
    assert megatron.check(str(tokens / "code_text_document"))["documents"] == code["out"]
    assert megatron.check(str(tokens / "web_text_document"))["documents"] == total["web"]["out"] == 239
