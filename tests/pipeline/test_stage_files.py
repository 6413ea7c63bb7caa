"""`winnow validate` (and `winnow run`, before Ray starts) finds every missing or wrong model,
tokenizer, list and eval-set file, instead of a worker failing after the earlier stages ran."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import parse_config
from pipeline.step import check_stage_files

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "data" / "models"
TOKENIZER = REPO / "data" / "tokenizers" / "sample-bpe-8k" / "tokenizer.json"


def _problems(tmp: Path, stage: str) -> list[str]:
    text = f"sources: [{{name: web, format: jsonl, paths: [x.jsonl]}}]\nstages:\n  - {stage}\n"
    return check_stage_files(parse_config(text, "t.yaml", str(tmp)))


def test_the_bundled_files_pass(tmp_path: Path) -> None:
    assert _problems(tmp_path, f"{{type: perplexity, models: {{en: {MODELS / 'en_sample.binary'}}}}}") == []
    assert _problems(tmp_path, f"{{type: quality_classifier, model: {MODELS / 'quality_sample.bin'}}}") == []
    assert _problems(tmp_path, f"{{type: tokenize, tokenizer: {TOKENIZER}}}") == []


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("{type: perplexity, models: {en: missing.binary}}", "models: no such file or folder"),
        ("{type: quality_classifier, model: nope.bin}", "model: no such file or folder"),
        ("{type: language, languages: [en], model_path: lid.bin}", "model_path: no such file"),
        ("{type: tokenize, tokenizer: tok.json}", "tokenizer: no such file"),
        ("{type: word_blocklist, lists_dir: lists}", "lists_dir: no such file or folder"),
        ("{type: decontaminate, eval_sets: [{name: e, paths: ['evals/*.jsonl']}]}", "glob matched no files"),
    ],
)
def test_missing_files_are_named(tmp_path: Path, stage: str, expected: str) -> None:
    (problem,) = _problems(tmp_path, stage)
    assert problem.startswith("stage 1 (") and expected in problem


def test_wrong_files_are_caught_by_their_header(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model\n")
    (problem,) = _problems(tmp_path, "{type: quality_classifier, model: notes.txt}")
    assert "is not a fastText model" in problem
    (problem,) = _problems(tmp_path, "{type: perplexity, models: {en: notes.txt}}")
    assert "neither a KenLM binary nor an ARPA model" in problem
    (problem,) = _problems(tmp_path, "{type: tokenize, tokenizer: notes.txt}")
    assert "does not load" in problem
    (problem,) = _problems(tmp_path, f"{{type: tokenize, tokenizer: {TOKENIZER}, eod_token: '<eos>'}}")
    assert "no end-of-document token '<eos>'" in problem


def test_run_refuses_before_any_work(tmp_path: Path) -> None:
    shutil.copy(REPO / "data" / "sample" / "en" / "cc_en_head-0091.jsonl", tmp_path / "in.jsonl")
    (tmp_path / "c.yaml").write_text(
        "sources: [{name: web, format: jsonl, paths: [in.jsonl]}]\n"
        "stages:\n  - {type: gopher_quality}\n  - {type: tokenize, tokenizer: missing/tokenizer.json}\n"
    )
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "c.yaml", "--output", "run"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "stage 2 (tokenize): tokenizer: no such file" in proc.stderr
    assert not (tmp_path / "run").exists()
