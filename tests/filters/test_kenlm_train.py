"""`winnow train-lm` with KenLM's real lmplz/build_binary (built once by scripts/build_kenlm.sh, cached)."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
from pathlib import Path

import kenlm
import pytest

from filters import kenlm_train
from filters.kenlm_train import KenlmToolsMissing, find_tool, iter_texts, train
from filters.perplexity import PerplexityFilterConfig, TextNormalizer, score_text
from pipeline.schema import Document

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build_kenlm.sh"


@pytest.fixture(scope="session")
def kenlm_bin() -> str:
    """Folder holding lmplz and build_binary; builds them once if missing, skips if that cannot run."""
    try:
        return os.path.dirname(find_tool("lmplz"))
    except KenlmToolsMissing:
        pass
    try:
        res = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1200)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"KenLM tools missing and scripts/build_kenlm.sh could not run: {e}")
    if res.returncode != 0:
        why = (res.stderr.strip() or res.stdout.strip())[-500:]
        pytest.skip(f"KenLM tools missing and scripts/build_kenlm.sh failed (exit {res.returncode}): {why}")
    return os.path.dirname(find_tool("lmplz"))


@pytest.fixture(scope="session")
def en_sentences(shared_data: Path) -> list[str]:
    lines = (shared_data / "langid" / "lingua_sentences" / "en.txt").read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line.strip()]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, en_sentences: list[str]) -> dict[str, Path]:
    """~900 real English sentences to train on (as .txt and as .jsonl.gz) and 100 held out."""
    d = tmp_path_factory.mktemp("corpus")
    train_s, held = en_sentences[:900], en_sentences[900:1000]
    (d / "train.txt").write_text("\n".join(train_s) + "\n", encoding="utf-8")
    with gzip.open(d / "train.jsonl.gz", "wt", encoding="utf-8") as f:
        for i in range(0, len(train_s), 3):
            f.write(json.dumps({"id": i, "text": "\n".join(train_s[i : i + 3])}) + "\n")
    (d / "held.txt").write_text("\n".join(held) + "\n", encoding="utf-8")
    return {"txt": d / "train.txt", "jsonl": d / "train.jsonl.gz", "held": d / "held.txt"}


def _shuffled(line: str, seed: int) -> str:
    words = line.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def test_train_binary_model_and_load_with_kenlm(kenlm_bin: str, corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "en.binary"
    meta = train([str(corpus["txt"])], str(out), TextNormalizer(), order=3, bin_dir=kenlm_bin, language="en")
    model = kenlm.Model(str(out))
    assert model.order == 3
    assert meta["training_lines"] == 900 and meta["training_tokens"] > 15_000
    assert meta["lmplz_args"] == ["-o", "3", "-S", "1G", "--discount_fallback"]
    recorded = json.loads(Path(str(out) + ".meta.json").read_text())
    assert recorded["normalization"] == TextNormalizer().describe()
    # Held-out real sentences score better than the same words shuffled.
    n = TextNormalizer()
    held = [s for s in corpus["held"].read_text(encoding="utf-8").split("\n") if len(s.split()) > 5]
    better = sum(
        score_text(model, n, s).perplexity < score_text(model, n, _shuffled(s, i)).perplexity
        for i, s in enumerate(held)
    )
    assert better >= 0.9 * len(held), (better, len(held))


def test_jsonl_input_gives_the_same_model_and_arpa_is_deterministic(
    kenlm_bin: str, corpus: dict, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.arpa", tmp_path / "b.arpa"
    train([str(corpus["txt"])], str(a), TextNormalizer(), bin_dir=kenlm_bin, prune=[0, 1, 1])
    # Same sentences grouped three per JSON document: lines are what the LM sees, so same model.
    train([str(corpus["jsonl"])], str(b), TextNormalizer(), bin_dir=kenlm_bin, prune=[0, 1, 1])
    assert b"\\data\\" in a.read_bytes()[:16]
    assert a.read_bytes() == b.read_bytes()
    assert kenlm.Model(str(a)).order == 3


def test_trained_model_drives_the_filter(kenlm_bin: str, corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "en.binary"
    train([str(corpus["txt"])], str(out), TextNormalizer(), bin_dir=kenlm_bin, binary_type="trie", quantize=8)
    step = PerplexityFilterConfig(models={"en": str(out)}, default_language="en", max_perplexity=700).build()
    step.setup()
    held = corpus["held"].read_text(encoding="utf-8").split("\n")
    good = Document(id="g", text="\n".join(held[:20]), source="t")
    salad = Document(id="s", text="\n".join(_shuffled(s, i) for i, s in enumerate(held[:20])), source="t")
    assert step.process(good) is None  # observed ~415
    assert step.process(salad) == "perplexity_too_high"  # observed ~1090
    assert good.attributes["perplexity"]["perplexity"] < salad.attributes["perplexity"]["perplexity"]


def test_pretokenizer_is_applied_and_recorded(kenlm_bin: str, corpus: dict, tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train([str(corpus["txt"])], trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]"]))
    tok_path = tmp_path / "tokenizer.json"
    tok.save(str(tok_path))

    out = tmp_path / "en_bpe.arpa"
    normalizer = TextNormalizer(tokenizer=str(tok_path))
    meta = train([str(corpus["txt"])], str(out), normalizer, bin_dir=kenlm_bin)
    assert meta["normalization"]["tokenizer_sha256"] and meta["tokenizer_file"] == "tokenizer.json"
    # The LM saw subword units: more tokens than the built-in word split gives on the same text.
    words = sum(len(t) for t in TextNormalizer().lines(corpus["txt"].read_text(encoding="utf-8")))
    assert meta["training_tokens"] > words
    cfg = dict(models={"en": str(out)}, default_language="en")
    step = PerplexityFilterConfig(tokenizers={"en": str(tok_path)}, **cfg).build()
    step.setup()
    d = Document(id="x", text=corpus["held"].read_text(encoding="utf-8"), source="t")
    assert step.process(d) is None and d.attributes["perplexity"]["perplexity"] > 1
    # The same model without its tokenizer is refused rather than silently mis-scored.
    with pytest.raises(ValueError, match="tokenizer_sha256"):
        PerplexityFilterConfig(**cfg).build()


def test_cli_trains_and_prints_bucket_cutoffs(
    kenlm_bin: str, corpus: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser(prog="winnow")
    kenlm_train.register(parser.add_subparsers())
    out = tmp_path / "m.binary"
    args = parser.parse_args(
        ["train-lm", "-i", str(corpus["jsonl"]), "-o", str(out), "--order", "2", "--kenlm-bin", kenlm_bin,
         "--language", "en", "--bucket-sample", str(corpus["held"]), "--keep-arpa", str(tmp_path / "m.arpa")]
    )  # fmt: skip
    assert args.func(args) == 0
    assert kenlm.Model(str(out)).order == 2
    assert kenlm.Model(str(tmp_path / "m.arpa")).order == 2
    printed = capsys.readouterr().out
    assert "buckets: {en: [" in printed


def test_missing_lmplz_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("WINNOW_TOOLS", str(tmp_path / "none"))
    monkeypatch.delenv("WINNOW_KENLM_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KenlmToolsMissing, match=r"scripts/build_kenlm\.sh"):
        find_tool("lmplz")
    (tmp_path / "in.txt").write_text("hello world\n")
    parser = argparse.ArgumentParser(prog="winnow")
    kenlm_train.register(parser.add_subparsers())
    args = parser.parse_args(["train-lm", "-i", str(tmp_path / "in.txt"), "-o", str(tmp_path / "m.arpa")])
    assert args.func(args) == 1
    assert "scripts/build_kenlm.sh" in capsys.readouterr().err


def test_input_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        list(iter_texts(str(bad)))
    other = tmp_path / "other.jsonl"
    other.write_text('{"body": "ok"}\n')
    with pytest.raises(ValueError, match="no string field 'text'"):
        list(iter_texts(str(other)))
    records = tmp_path / "gold.json"
    records.write_text(json.dumps({"a": {"articleBody": "one"}, "b": {"articleBody": "two"}}))
    assert list(iter_texts(str(records), "articleBody")) == ["one", "two"]


def test_empty_corpus_is_refused(kenlm_bin: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\u200b\n")
    with pytest.raises(ValueError, match="no text found"):
        train([str(empty)], str(tmp_path / "m.arpa"), TextNormalizer(), bin_dir=kenlm_bin)
