"""Decontamination against eval sets: real overlaps caught, unrelated text kept, masks exact."""

from __future__ import annotations

import csv
import glob
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dedup.decontaminate as dc
from dedup.decontaminate import DecontaminateConfig, tokenize
from pipeline.config import ConfigError, parse_config
from pipeline.schema import Document

CS = "neardup/clough_stevenson_short_answers"
MASK = "[EVAL]"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n+", text) if p.strip()]


def _tail(para: str) -> str:
    """What follows the paragraph's last word (closing punctuation), which a mask leaves in place."""
    return para[re.search(r"\w(?=\W*$)", para).end() :]


@pytest.fixture(scope="module")
def sources(shared_data: Path) -> list[str]:
    """The five Wikipedia source texts of the Clough-Stevenson corpus (tasks a-e)."""
    return [_read(shared_data / CS / f"orig_task{t}.txt") for t in "abcde"]


@pytest.fixture(scope="module")
def web_docs(shared_data: Path) -> list[str]:
    """Real web text: CCNet-head documents and human-extracted news/blog articles."""
    docs = []
    for p in sorted(glob.glob(str(shared_data / "web_text_en" / "dolma_tests" / "*.jsonl"))):
        docs += [json.loads(line)["text"] for line in Path(p).read_text(encoding="utf-8").split("\n") if line]
    bench = shared_data / "web_text_en" / "article_extraction_benchmark"
    gold = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
    docs += [v["articleBody"] for _, v in sorted(gold.items())]
    return docs


def _eval_file(tmp: Path, texts: list[str], name: str = "eval.jsonl", field: str = "text") -> str:
    path = tmp / name
    lines = [json.dumps({field: t, "id": i}) + "\n" for i, t in enumerate(texts)]
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def _step(tmp: Path, eval_path: str, **extra: object):
    cfg = DecontaminateConfig(
        eval_sets=[{"name": "clough", "paths": [eval_path]}], cache_dir=str(tmp / "cache"), **extra
    )
    step = cfg.build()
    step.setup()
    return step


def test_planted_source_paragraphs_are_caught_and_unrelated_docs_kept(sources, web_docs, tmp_path) -> None:
    step = _step(tmp_path, _eval_file(tmp_path, sources))
    docs = [Document(id=f"w{i}", text=t, source="web") for i, t in enumerate(web_docs)]
    planted = {}
    for k, src in enumerate(sources):  # one paragraph of each source planted in the middle of a web doc
        para = max(src.split("\n\n"), key=len)
        i = 7 * k + 3
        half = len(docs[i].text) // 2
        cut = docs[i].text.rfind("\n", 0, half) + 1
        docs[i].text = docs[i].text[:cut] + para + "\n" + docs[i].text[cut:]
        planted[docs[i].id] = k
    reasons = step.process_batch(docs)
    flagged = {d.id for d, r in zip(docs, reasons, strict=True) if r == "contaminated"}
    assert flagged == set(planted)  # every planted doc, and none of the ~200 real unrelated documents
    for d in docs:
        if d.id in planted:
            attrs = d.attributes["decontaminate"]
            assert attrs["eval_set"] == "clough" and attrs["example"] == planted[d.id]
            assert attrs["matched_ngrams"] > 10
        else:
            assert "decontaminate" not in d.attributes


def test_plagiarised_answers_by_category(shared_data, sources, tmp_path) -> None:
    """The corpus' own answers: copy-paste answers are caught, independently written ones never."""
    step = _step(tmp_path, _eval_file(tmp_path, sources))
    info = (shared_data / CS / "file_information.csv").read_text(encoding="utf-8").split("\n")
    rows = [r for r in csv.DictReader(info) if r["File"].strip()]
    by_cat: dict[str, list[bool]] = {}
    for r in rows:
        doc = Document(id=r["File"], text=_read(shared_data / CS / r["File"]), source="cs")
        hit = step.process(doc) == "contaminated"
        if hit:
            assert doc.attributes["decontaminate"]["example"] == "abcde".index(r["Task"])
        by_cat.setdefault(r["Category"], []).append(hit)
    assert not any(by_cat["non"])  # 38 answers written without the source
    assert all(by_cat["orig"])
    assert sum(by_cat["cut"]) >= 15  # 17 of 19 cut-and-paste answers share a 13-word run


def test_mask_replaces_exactly_the_overlap(sources, web_docs, tmp_path) -> None:
    step = _step(tmp_path, _eval_file(tmp_path, sources), mode="mask", mask=MASK)
    para = _paragraphs(sources[2])[1]
    before, after = web_docs[0], web_docs[1]
    doc = Document(id="m", text=f"{before}\n\n{para}\n\n{after}", source="web")
    assert step.process(doc) is None  # masking keeps the document
    # The overlap runs from the paragraph's first word to its last word; closing punctuation stays.
    tail = _tail(para)
    assert tail == ")."
    assert doc.text == f"{before}\n\n{MASK}{tail}\n\n{after}"
    attrs = doc.attributes["decontaminate"]
    assert attrs["masked_spans"] == 1 and attrs["masked_chars"] == len(para) - len(tail)
    assert attrs["example"] == 2
    assert step.counters["masked_spans"] == 1 and step.counters["masked_docs"] == 1


def test_mask_two_separate_overlaps(sources, tmp_path) -> None:
    step = _step(tmp_path, _eval_file(tmp_path, sources), mode="mask", mask=MASK)
    a = _paragraphs(sources[0])[0]
    b = _paragraphs(sources[4])[0]
    # (Ending with "The end." would extend the match: the source's next paragraph starts with "The".)
    doc = Document(id="m", text=f"Intro words here. {a} Our own words in between. {b} Fin.", source="s")
    step.process(doc)
    assert doc.text == f"Intro words here. {MASK}{_tail(a)} Our own words in between. {MASK}{_tail(b)} Fin."
    assert doc.attributes["decontaminate"]["masked_spans"] == 2
    assert {m["example"] for m in doc.attributes["decontaminate"]["matches"]} == {0, 4}


def test_normalisation_case_punctuation_unicode(sources, tmp_path) -> None:
    step = _step(tmp_path, _eval_file(tmp_path, sources))
    sentence = sources[1].split(". ")[0]  # the first sentence of the PageRank article
    variants = [
        sentence.upper(),
        sentence.replace(" ", " -- ").replace(",", ";"),
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in sentence),  # full-width forms (NFKC)
    ]
    for v in variants:
        assert step.process(Document(id="v", text=f"prefix {v} suffix", source="s")) == "contaminated", v
    # 12 words of it are not enough for a 13-gram.
    twelve = " ".join(sentence.split()[:12])
    assert step.process(Document(id="s", text=twelve, source="s")) is None


def test_cjk_counts_characters(shared_data, tmp_path) -> None:
    news = shared_data / "web_text_zh" / "skywork_eval_loss" / "zh_news.jsonl"
    texts = [json.loads(line)["text"] for line in news.read_text(encoding="utf-8").split("\n")[:40] if line]
    step = _step(tmp_path, _eval_file(tmp_path, texts[:20]))
    assert tokenize("中文分词，按字。ABC def") == ["中", "文", "分", "词", "按", "字", "abc", "def"]
    quote = texts[5][100:120]
    assert 14 <= len(tokenize(quote)) <= 20  # about one token per character
    assert step.process(Document(id="q", text=f"新闻报道：{quote}。", source="zh")) == "contaminated"
    assert step.process(Document(id="q", text=f"新闻报道：{quote[:12]}。", source="zh")) is None
    others = [Document(id=str(i), text=t, source="zh") for i, t in enumerate(texts[20:])]
    assert step.process_batch(others) == [None] * len(others)


def test_batching_does_not_change_results(sources, web_docs, tmp_path) -> None:
    step = _step(tmp_path, _eval_file(tmp_path, sources))
    texts = [*web_docs[:30], sources[3], "short", "", *web_docs[30:40]]
    one_by_one = [step.process(Document(id=str(i), text=t, source="s")) for i, t in enumerate(texts)]
    batch = step.process_batch([Document(id=str(i), text=t, source="s") for i, t in enumerate(texts)])
    assert one_by_one == batch
    assert batch.count("contaminated") == 1


def test_index_is_cached_and_keyed_by_content(sources, tmp_path, monkeypatch) -> None:
    path = _eval_file(tmp_path, sources)
    first = _step(tmp_path, path)
    assert len(list((tmp_path / "cache").glob("*.hashes.npy"))) == 1
    assert first.index.info["sets"]["clough"]["examples"] == 5
    assert isinstance(first.index.hashes, np.memmap)  # actors share the page cache, not copies

    def no_rebuild(config):
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(dc, "build_index", no_rebuild)
    second = _step(tmp_path, path)
    assert np.array_equal(second.index.hashes, first.index.hashes)
    monkeypatch.undo()
    _eval_file(tmp_path, sources[:3])  # same file name, new content: new key
    third = _step(tmp_path, path)
    assert third.index.info["sets"]["clough"]["examples"] == 3
    assert len(list((tmp_path / "cache").glob("*.hashes.npy"))) == 2


def test_parquet_nested_and_list_fields(sources, tmp_path) -> None:
    table = pa.table(
        {
            "doc": [{"question": "Which algorithm?", "passage": sources[1]}],
            "choices": [["yes", sources[3].split("\n\n")[0]]],
        }
    )
    pq.write_table(table, tmp_path / "eval.parquet")
    cfg = DecontaminateConfig(
        eval_sets=[
            {"name": "pq", "paths": [str(tmp_path / "*.parquet")], "text_fields": ["doc.passage", "choices"]}
        ],
        cache_dir=str(tmp_path / "cache"),
    )
    step = cfg.build()
    assert step.process(Document(id="a", text=sources[3], source="s")) == "contaminated"
    assert step.process(Document(id="b", text=sources[1], source="s")) == "contaminated"
    assert step.process(Document(id="c", text=sources[0], source="s")) is None


def test_config_and_eval_errors(sources, tmp_path) -> None:
    _eval_file(tmp_path, sources)
    cfg = parse_config(
        "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\nstages:\n  - type: decontaminate\n"
        "    eval_sets: [{name: cs, paths: [eval.jsonl]}]\n    cache_dir: cache\n",
        "t.yaml",
        str(tmp_path),
    )
    assert cfg.stages[0].eval_sets[0].paths == [str(tmp_path / "eval.jsonl")]
    with pytest.raises(ConfigError, match="unknown key 'ngram'"):
        parse_config(
            "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\nstages:\n  - type: decontaminate\n"
            "    eval_sets: [{name: cs, paths: [eval.jsonl]}]\n    ngram: 8\n",
            "t.yaml",
            str(tmp_path),
        )
    wrong_field = _eval_file(tmp_path, ["x"], name="q.jsonl", field="question")
    with pytest.raises(ValueError, match=r"q\.jsonl:1: eval record has no field 'text'"):
        _step(tmp_path, wrong_field)
    short = _eval_file(tmp_path, ["too short to have thirteen words"], name="short.jsonl")
    with pytest.raises(ValueError, match="gives no 13-word n-grams"):
        _step(tmp_path, short)
    with pytest.raises(FileNotFoundError, match="eval file not found"):
        _step(tmp_path, str(tmp_path / "missing.jsonl"))


def test_many_ngrams_index(tmp_path) -> None:
    """Half a million n-grams build in well under a second of numpy work and look up exactly."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    texts = [" ".join(words[j] for j in rng.integers(0, 5000, 1012)) for _ in range(500)]
    step = _step(tmp_path, _eval_file(tmp_path, texts))
    assert step.index.info["unique_ngrams"] == 500 * 1000
    probe = " ".join(texts[321].split()[500:520])
    doc = Document(id="p", text=probe, source="s")
    assert step.process(doc) == "contaminated" and doc.attributes["decontaminate"]["example"] == 321
    fresh = " ".join(words[j] for j in rng.integers(0, 5000, 5000))
    assert step.process(Document(id="f", text=fresh, source="s")) is None


def test_step_pickles_without_the_index(sources, tmp_path) -> None:
    import pickle

    step = _step(tmp_path, _eval_file(tmp_path, sources))
    shipped = pickle.loads(pickle.dumps(step))
    assert shipped.index is None
    assert shipped.process(Document(id="x", text=sources[0], source="s")) == "contaminated"
