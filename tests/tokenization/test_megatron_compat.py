"""Verified with Megatron's own code (megatron-core 0.16.1 on torch 2.13.0 CPU, the `test` extra).

megatron-core's IndexedDataset reads what the tokenize stage wrote and yields exactly the ids that HF
`tokenizers` produced (+ EOD); its blend parser reads our per-split args file, and a GPTDataset blend
built by BlendedMegatronDatasetBuilder draws samples from it. Skips when torch or megatron-core are
not installed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

from tokenization import blend, megatron, mixture

pytestmark = pytest.mark.ray


def _megatron():
    try:
        import torch  # noqa: F401

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
            from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
            from megatron.core.datasets.indexed_dataset import IndexedDataset
            from megatron.core.datasets.utils import get_blend_from_list
    except ImportError as exc:
        pytest.skip(f"needs torch==2.13.0 and megatron-core==0.16.1 (pip install -e '.[test]'): {exc}")
    return BlendedMegatronDatasetBuilder, GPTDataset, GPTDatasetConfig, IndexedDataset, get_blend_from_list


class HFTokenizerInfo:
    """What GPTDatasetConfig asks of a tokenizer (vocab size, EOD, pad), from the run's tokenizer.json."""

    def __init__(self, path: Path, eod_token: str) -> None:
        tok = Tokenizer.from_file(str(path))
        self.vocab_size = tok.get_vocab_size(with_added_tokens=True)
        self.eod = tok.token_to_id(eod_token)
        self.special_tokens_dict = {"eos_token": eod_token}
        self.unique_identifiers = {"class": type(self).__name__, "path": str(path)}

    @property
    def pad(self) -> int:
        return -1


def test_megatron_indexed_dataset_reads_exactly_the_tokenizer_ids(tokenize_runs, sample_tokenizer):
    *_, IndexedDataset, _ = _megatron()
    run, ctx = tokenize_runs[1]
    tok = Tokenizer.from_file(str(sample_tokenizer))
    eod = tok.token_to_id("<|endoftext|>")
    summary = blend.load_summary(str(run))
    plan_cfg = summary["sources"]["code"]["plan"]
    plan = mixture.Plan(plan_cfg["whole_copies"], plan_cfg["threshold"])
    bounds = mixture.split_bounds(summary["split"])
    texts = [(r["id"], r["text"]) for f in ctx.shards["code-0"] for r in pq.read_table(f).to_pylist()]
    checked = 0
    for split in mixture.SPLITS:
        prefix = str(run / "tokens" / f"code_{split}_text_document")
        ds = IndexedDataset(prefix)
        expected = [
            [*tok.encode(text, add_special_tokens=False).ids, eod]
            for copy in range(plan.max_copies)
            for doc_id, text in texts
            if (f := mixture.fate(summary["seed"], "code", doc_id, plan, bounds))[0] > copy and f[1] == split
        ]
        assert len(ds) == len(expected) == megatron.check(prefix)["documents"]
        for i, want in enumerate(expected):
            got = ds[i]
            assert got.dtype == np.uint16
            assert got.tolist() == want
        checked += len(expected)
    assert checked == summary["sources"]["code"]["documents_out"]


def test_gpt_dataset_blend_draws_samples(tokenize_runs, sample_tokenizer, tmp_path):
    Builder, GPTDataset, GPTDatasetConfig, _, get_blend_from_list = _megatron()
    run, _ = tokenize_runs[1]
    args = blend.megatron_args(str(run))
    per_split_path = args[args.index("--per-split-data-args-path") + 1]
    # what Megatron-LM's training/utils.get_blend_and_blend_per_split does with the file
    per_split = json.loads(Path(per_split_path).read_text())
    blend_per_split = [get_blend_from_list(per_split[s]) for s in ("train", "valid", "test")]
    prefixes, weights = blend_per_split[0]
    assert sorted(Path(p).name for p in prefixes) == ["code_train_text_document", "web_train_text_document"]
    assert abs(sum(weights) - 1) < 1e-9
    seq = 64
    config = GPTDatasetConfig(
        random_seed=1234,
        sequence_length=seq,
        blend_per_split=blend_per_split,
        path_to_cache=str(tmp_path / "cache"),
        tokenizer=HFTokenizerInfo(sample_tokenizer, "<|endoftext|>"),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
    )
    import torch.distributed as dist

    # as in training: a (here single-process, CPU) default group; Megatron's builders ask for the rank
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        train, valid, test = Builder(GPTDataset, [200, 20, 20], lambda: True, config).build()
    finally:
        dist.destroy_process_group()
    assert len(train) >= 200 and len(valid) >= 20 and len(test) >= 20
    vocab = HFTokenizerInfo(sample_tokenizer, "<|endoftext|>").vocab_size
    for ds in (train, valid, test):
        for i in (0, 7, len(ds) - 1):
            sample = ds[i]
            tokens = sample["tokens"].numpy()
            assert tokens.shape == (seq,)
            assert tokens.max() < vocab
            assert np.array_equal(sample["labels"].numpy()[:-1], tokens[1:])
    # the train blend samples each source in proportion to its weight (its share of written tokens)
    counts = np.bincount(np.asarray(train.dataset_index), minlength=2)
    assert np.allclose(counts / counts.sum(), weights, atol=0.02)


def test_megatron_hf_tokenizer_loads_the_run_tokenizer_dir(tokenize_runs, sample_tokenizer):
    """`--tokenizer-model RUN/tokens/tokenizer`, loaded as Megatron loads it (transformers: a trainer dep)."""
    _megatron()
    pytest.importorskip("transformers", reason="Megatron's HuggingFaceTokenizer needs transformers")
    from megatron.core.tokenizers import MegatronTokenizer

    run, _ = tokenize_runs[1]
    args = blend.megatron_args(str(run))
    assert args[args.index("--tokenizer-type") + 1] == "HuggingFaceTokenizer"
    mt = MegatronTokenizer.from_pretrained(
        tokenizer_path=args[args.index("--tokenizer-model") + 1], metadata_path={"library": "huggingface"},
        vocab_file=None, merges_file=None, additional_special_tokens=[], use_fast=True,
        trust_remote_code=False, include_special_tokens=False,
    )
    tok = Tokenizer.from_file(str(sample_tokenizer))
    assert mt.eod == tok.token_to_id("<|endoftext|>")
    text = "Megatron reads what winnow wrote: the same ids, no BOS. 中文 too."
    assert mt.tokenize(text) == tok.encode(text, add_special_tokens=False).ids
