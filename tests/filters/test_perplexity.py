"""Perplexity filter with the real bundled KenLM model (data/models/en_sample.binary) and kenlm itself."""

from __future__ import annotations

import gzip
import json
import math
import pickle
import random
import shutil
import statistics
from pathlib import Path

import kenlm
import pytest
from pydantic import ValidationError

from filters.perplexity import (
    PerplexityFilterConfig,
    TextNormalizer,
    load_model,
    percentile_cutoffs,
    score_text,
)
from pipeline.config import parse_config
from pipeline.schema import Document

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "data" / "models" / "en_sample.binary"

# Ordinary English prose (not from the model's training text).
ENGLISH = [
    "The city council met on Tuesday evening to discuss the new budget for public schools.\n"
    "Several parents said they were worried about larger class sizes and fewer teachers.\n"
    "The mayor told reporters that the final plan would be published next week.",
    "Scientists have found that regular exercise can improve sleep quality in older adults.\n"
    "In the study, people who walked for thirty minutes a day fell asleep faster than those who did not.\n"
    "The researchers said more work is needed to understand why.",
    "When you buy a used car, it is a good idea to have it checked by a mechanic you trust.\n"
    "Ask the seller for the service history and look for signs of rust under the doors.\n"
    "If the price seems too good to be true, it probably is.",
]
GERMAN = (
    "Die Stadt hat am Dienstag den neuen Haushalt für die Schulen beschlossen.\n"
    "Viele Eltern machen sich Sorgen um größere Klassen und weniger Lehrer."
)


def shuffle_words(text: str, seed: int = 0) -> str:
    """Same words, same line lengths, word order destroyed (a real LM must notice)."""
    rng = random.Random(seed)
    out = []
    for line in text.split("\n"):
        words = line.split()
        rng.shuffle(words)
        out.append(" ".join(words))
    return "\n".join(out)


@pytest.fixture(scope="module")
def model() -> kenlm.Model:
    return load_model(str(MODEL))


def make_step(**params):
    cfg = PerplexityFilterConfig(models={"en": str(MODEL)}, default_language="en", **params)
    step = cfg.build()
    step.setup()
    return step


def doc(text: str, lang: str | None = None, i: int = 0) -> Document:
    attrs = {"language": {"lang": lang, "score": 0.99}} if lang else {}
    return Document(id=f"d{i}", text=text, source="test", attributes=attrs)


# --- normalisation -------------------------------------------------------------------------------


def test_normalize_ccnet_rules() -> None:
    n = TextNormalizer()
    assert n.normalize("  Café  DÉJÀ vu\t\u00a0ok ") == "cafe deja vu ok"
    assert n.normalize("Born 12 May 1984, 3.5%") == "born 00 may 0000, 0.0%"
    assert n.normalize("Arabic-Indic ٣٤") == "arabic-indic 00"
    assert n.normalize("“Quoted” — «so» ‘it’ goes… ，。") == '"quoted" - "so" \'it\' goes... ,.'
    assert n.normalize("zero\u200bwidth soft\u00adhyphen\x07bell") == "zerowidth softhyphen bell"
    assert n.normalize(" \t ") == ""


def test_normalize_options() -> None:
    assert TextNormalizer(punctuation="remove").normalize("Hello, “world”!") == "hello world"
    assert TextNormalizer(punctuation="keep").normalize("“A”") == "“a”"
    keep_all = TextNormalizer(lowercase=False, strip_accents=False, digits=False)
    assert keep_all.normalize("Café 42") == "Café 42"


def test_builtin_word_split() -> None:
    n = TextNormalizer()
    lines = list(n.lines("Hello, world!\n\n  \nIt's 2024: <s> is reserved.\n我爱北京天安门"))
    assert lines[0] == ["hello", ",", "world", "!"]
    # KenLM's reserved <s> never reaches the model as a word; digits are 0; CJK one token per char.
    assert lines[1] == ["it", "'", "s", "0000", ":", "<", "s", ">", "is", "reserved", "."]
    assert lines[2] == ["我", "爱", "北", "京", "天", "安", "门"]
    assert len(lines) == 3  # blank lines are not scored


# --- scoring -------------------------------------------------------------------------------------


def test_document_perplexity_is_length_weighted_over_lines(model: kenlm.Model) -> None:
    n = TextNormalizer()
    text = ENGLISH[0]
    s = score_text(model, n, text)
    toks = list(n.lines(text))
    logp = sum(model.score(" ".join(t), bos=True, eos=True) for t in toks)
    count = sum(len(t) + 1 for t in toks)
    assert s.lines == 3 and s.tokens == count
    assert s.perplexity == pytest.approx(10 ** (-logp / count))
    # Not the mean of per-line perplexities: a long line weighs more than a short one.
    per_line = [10 ** (-model.score(" ".join(t)) / (len(t) + 1)) for t in toks]
    assert s.perplexity != pytest.approx(statistics.mean(per_line))


def test_real_english_beats_shuffled_words(model: kenlm.Model) -> None:
    n = TextNormalizer()
    for text in ENGLISH:
        real = score_text(model, n, text).perplexity
        salad = score_text(model, n, shuffle_words(text)).perplexity
        assert real * 2 < salad, (real, salad)


def test_threshold_keeps_english_drops_word_salad() -> None:
    step = make_step(max_perplexity=650)
    docs = [doc(t, "en", i) for i, t in enumerate(ENGLISH)]
    docs += [doc(shuffle_words(t), "en", 10 + i) for i, t in enumerate(ENGLISH)]
    reasons = [step.process(d) for d in docs]
    assert reasons == [None] * 3 + ["perplexity_too_high"] * 3
    for d in docs:
        a = d.attributes["perplexity"]
        assert a["lang"] == "en" and a["perplexity"] > 0 and a["lines"] == 3
        assert a["perplexity"] == round(a["perplexity"], 2)
    assert step.counters["scored"] == 6


def test_bucket_attributes_and_reasons() -> None:
    step = make_step(buckets={"en": [1000, 3000]}, keep_buckets=["head"])
    docs = [doc(ENGLISH[1]), doc(shuffle_words(ENGLISH[1])), doc(GERMAN)]
    reasons = [step.process(d) for d in docs]
    got = [(d.attributes["perplexity"]["bucket"], r) for d, r in zip(docs, reasons, strict=True)]
    pps = [d.attributes["perplexity"]["perplexity"] for d in docs]
    assert pps[0] < 1000 < pps[1] and pps[2] > 3000, pps
    assert got[0] == ("head", None)
    assert got[1] == ("middle", "perplexity_bucket_middle")
    assert got[2] == ("tail", "perplexity_bucket_tail")


def test_language_routing_no_model_and_no_language() -> None:
    cfg = PerplexityFilterConfig(models={"en": str(MODEL)}, max_perplexity=10)
    step = cfg.build()
    step.setup()
    zh = doc("今天天气很好，我们去公园散步吧。", "zh")
    unknown = doc(ENGLISH[0])
    en = doc(ENGLISH[0], "en")
    assert step.process(zh) is None and zh.attributes["perplexity"] == {"label": "no_model", "lang": "zh"}
    assert step.process(unknown) is None
    assert unknown.attributes["perplexity"] == {"label": "no_language", "lang": None}
    assert step.process(en) == "perplexity_too_high"  # only docs with a model are judged
    assert step.counters["no_model"] == 1 and step.counters["no_language"] == 1


def test_custom_language_attribute_and_per_language_threshold() -> None:
    cfg = PerplexityFilterConfig(
        name="ppl", models={"en": str(MODEL)}, language_attribute="lid", max_perplexity={"en": 650}
    )
    step = cfg.build()
    step.setup()
    d = Document(id="x", text=shuffle_words(ENGLISH[2]), source="t", attributes={"lid": {"lang": "en"}})
    assert step.process(d) == "perplexity_too_high"
    assert d.attributes["ppl"]["perplexity"] > 650


def test_empty_document_passes_labelled() -> None:
    step = make_step(max_perplexity=100)
    d = doc(" \n\u200b\n\t", "en")
    assert step.process(d) is None
    assert d.attributes["perplexity"] == {"label": "empty", "lang": "en"}


def test_step_pickles_without_model_and_rescores_identically() -> None:
    step = make_step(max_perplexity=650)
    before = doc(ENGLISH[1], "en")
    step.process(before)
    clone = pickle.loads(pickle.dumps(step))
    assert clone._models == {}
    clone.setup()
    after = doc(ENGLISH[1], "en")
    clone.process(after)
    assert after.attributes == before.attributes


# --- configuration -------------------------------------------------------------------------------


def test_config_from_yaml_resolves_paths_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "en.arpa")
    yaml_text = (
        "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\n"
        "stages:\n"
        "  - type: perplexity\n"
        "    models: {en: models/en.arpa}\n"
        "    buckets: {en: [523.56, 854.88]}\n"
        "    keep_buckets: [head, middle]\n"
        "    default_language: en\n"
    )
    cfg = parse_config(yaml_text, "t.yaml", str(tmp_path)).stages[0]
    assert cfg.models == {"en": str(tmp_path / "models" / "en.arpa")}
    assert cfg.buckets == {"en": (523.56, 854.88)}
    step = cfg.build()
    step.setup()
    assert step.process(doc(ENGLISH[0])) is None


@pytest.mark.parametrize(
    "params, message",
    [
        ({"models": {}}, "at least 1"),
        ({"buckets": {"de": [1, 2]}}, "without a model"),
        ({"buckets": {"en": [20, 10]}}, "increasing"),
        ({"max_perplexity": -1}, "> 0"),
        ({"max_perplexity": {"fr": 100}}, "without a model"),
        ({"keep_buckets": ["top"]}, "head"),
        ({"punctuation": "strip"}, "normalize"),
        ({"unknown_key": 1}, "xtra"),
    ],
)
def test_config_rejects_bad_values(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PerplexityFilterConfig(**{"models": {"en": str(MODEL)}, **params})


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="perplexity model for 'en' not found"):
        PerplexityFilterConfig(models={"en": str(tmp_path / "nope.arpa")}).build()


def test_model_with_other_normalisation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "en.arpa"
    shutil.copy(MODEL, path)
    shutil.copy(str(MODEL) + ".meta.json", str(path) + ".meta.json")
    PerplexityFilterConfig(models={"en": str(path)}).build()  # same settings: accepted
    with pytest.raises(ValueError, match="lowercase: model=True filter=False"):
        PerplexityFilterConfig(models={"en": str(path)}, lowercase=False).build()


def test_percentile_cutoffs_nearest_rank() -> None:
    assert percentile_cutoffs([5.0, 1.0, 4.0, 2.0, 3.0, math.nan], [33, 66, 100]) == [2.0, 4.0, 5.0]
    with pytest.raises(ValueError):
        percentile_cutoffs([], [50])


# --- real data -----------------------------------------------------------------------------------


def _dolma_docs(shared_data: Path) -> list[str]:
    base = shared_data / "web_text_en" / "dolma_tests"
    texts = []
    for p in sorted(base.glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in p.read_text(encoding="utf-8").splitlines() if line]
    with gzip.open(base / "000.json.gz", "rt", encoding="utf-8") as f:
        texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts


def test_real_web_english_vs_shuffled_and_other_languages(shared_data: Path, model: kenlm.Model) -> None:
    n = TextNormalizer()
    docs = _dolma_docs(shared_data)
    assert len(docs) == 30
    real = [score_text(model, n, t).perplexity for t in docs]
    salad = [score_text(model, n, shuffle_words(t, i)).perplexity for i, t in enumerate(docs)]
    assert all(r < s for r, s in zip(real, salad, strict=True))
    assert statistics.median(salad) > 2 * statistics.median(real)

    def lang_median(lang: str) -> float:
        lines = (shared_data / "langid" / "lingua_sentences" / f"{lang}.txt").read_text("utf-8").split("\n")
        chunks = [" ".join(lines[i : i + 10]) for i in range(0, 200, 10)]
        return statistics.median(score_text(model, n, c).perplexity for c in chunks)

    en = lang_median("en")
    for lang in ("de", "fr", "es", "zh"):
        assert lang_median(lang) > 5 * en, lang


def test_sentencepiece_is_optional(tmp_path: Path) -> None:
    try:
        import sentencepiece  # noqa: F401

        pytest.skip("sentencepiece is installed; the missing-package message cannot be shown")
    except ImportError:
        pass
    fake = tmp_path / "en.model"
    fake.write_bytes(b"not a model")
    with pytest.raises(ImportError, match="pip install sentencepiece"):
        list(TextNormalizer(tokenizer=str(fake)).lines("hello"))
