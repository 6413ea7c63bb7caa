"""FineWeb quality rules: each on a crafted document, YAML config, and real English/Chinese text."""

from __future__ import annotations

import json

import pytest

from filters.fineweb import FineWebQualityConfig
from pipeline.config import parse_config
from pipeline.schema import Document

PROSE = [
    "The council met on Tuesday to discuss the new budget for the city library.",
    "Members agreed that the reading rooms should stay open later during the exam season.",
    "A local teacher said the change would help students who need a quiet place to study.",
    "The library will also extend its lending period for expensive textbooks this year.",
]


def evaluate(text: str, **kw) -> tuple[str | None, dict]:
    return FineWebQualityConfig(**kw).build().evaluate(text)


def test_prose_is_kept_with_stats() -> None:
    step = FineWebQualityConfig(name="fw").build()
    doc = Document(id="1", text="\n".join(PROSE), source="t")
    assert step.process(doc) is None
    stats = doc.attributes["fw"]
    assert stats["lines"] == 4 and stats["line_punct_ratio"] == 1.0
    assert stats["short_line_ratio"] == 0.0 and stats["char_dup_ratio"] == 0.0
    assert 0 < stats["newline_word_ratio"] < 0.1


@pytest.mark.parametrize(
    ("text", "reason", "stat"),
    [
        ("  \n\n ", "fineweb_empty_document", "lines"),
        ("\n".join(p.rstrip(".") for p in PROSE * 3), "fineweb_line_punct_ratio", "line_punct_ratio"),
        (
            "\n".join(
                [*PROSE, "Home", "About us", "Contact", "Blog", "Shop", "Cart", "Login", "Help", "FAQ"]
            ),
            "fineweb_short_line_ratio",
            "short_line_ratio",
        ),
        ("\n".join([*PROSE, PROSE[0]]), "fineweb_char_dup_ratio", "char_dup_ratio"),
        ("\n".join(f"Entry {i}." for i in range(40)), "fineweb_list_ratio", "newline_word_ratio"),
    ],
)
def test_each_rule(text: str, reason: str, stat: str) -> None:
    got, stats = evaluate(text, **({"max_short_line_ratio": None} if reason == "fineweb_list_ratio" else {}))
    assert got == reason, stats
    assert stat in stats


def test_options() -> None:
    no_punct = "\n".join(p.rstrip(".") for p in PROSE)
    assert evaluate(no_punct, line_punct_exclude_zero=True)[0] is None
    assert evaluate(no_punct, min_line_punct_ratio=None)[0] is None
    short = "\n".join(p[:25] + "." for p in PROSE)
    assert evaluate(short)[0] == "fineweb_short_line_ratio"
    assert evaluate(short, short_line_length=10)[0] is None


def test_unicode_terminal_punctuation_and_trailing_spaces() -> None:
    lines = ["今天的会议讨论了城市图书馆的新预算。", "यह एक वाक्य है।", "Is this a question?   "]
    assert evaluate("\n".join(lines * 3))[1]["line_punct_ratio"] == 1.0


def test_thresholds_from_yaml() -> None:
    cfg = parse_config(
        "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\nstages:\n"
        "  - {type: fineweb_quality, short_line_length: 12, max_char_dup_ratio: null}\n",
        "t.yaml",
        "/tmp",
    )
    (fw,) = cfg.stage_configs()
    assert fw.short_line_length == 12 and fw.max_char_dup_ratio is None


def _jsonl(path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_real_english_documents(shared_data) -> None:
    docs = _jsonl(shared_data / "web_text_en" / "dolma_tests" / "cc_en_head-0091.jsonl")
    docs += _jsonl(shared_data / "web_text_en" / "dolma_tests" / "cc_en_head-0174.jsonl")
    results = [evaluate(t) for t in docs]
    assert sum(r is None for r, _ in results) >= 0.6 * len(docs)
    assert all(s["line_punct_ratio"] >= 0.12 for r, s in results if r is None)


def test_real_chinese_news(shared_data) -> None:
    docs = _jsonl(shared_data / "web_text_zh" / "skywork_eval_loss" / "zh_news.jsonl")[:400]
    reasons = [evaluate(t)[0] for t in docs]
    assert reasons.count("fineweb_list_ratio") == 0  # one word per character: no false "list" documents
    assert reasons.count(None) >= 0.8 * len(docs)
