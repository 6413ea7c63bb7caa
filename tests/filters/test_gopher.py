"""Gopher quality and repetition rules: each rule on a crafted document, YAML config, real documents."""

from __future__ import annotations

import json
import random
from itertools import accumulate

import pytest

from filters.gopher import (
    GopherQualityConfig,
    GopherRepetitionConfig,
    dup_ngram_chars,
    top_ngram,
)
from filters.text import words
from pipeline.config import ConfigError, parse_config
from pipeline.schema import Document

CLEAN = (
    "The council met on Tuesday to discuss the new budget for the city library. Members agreed that "
    "the reading rooms should stay open later during the exam season, and that the children's section "
    "needs new shelves.\n\n"
    "A local teacher said the changes would help students who have nowhere quiet to study at home. "
    "The library will also extend its lending period for textbooks, which many families cannot afford "
    "to buy.\n\n"
    "Funding comes from a grant that was approved last spring, together with a small increase in the "
    "annual contribution from the regional government. Work on the building starts in the autumn."
)

NO_STOP_WORDS = (
    "Council members met on Tuesday, discussing a new budget for our city library. Members agreed "
    "reading rooms should stay open later during exam season, while children need new shelves. "
    "A local teacher said these changes would help students who lack quiet places for study at home. "
    "Our library will also extend its lending period for textbooks, which many families cannot "
    "afford. Funding comes from a grant approved last spring, plus a small increase in regional money."
)


def quality(text: str, **kw) -> tuple[str | None, dict]:
    return GopherQualityConfig(**kw).build().evaluate(text)


def repetition(text: str, **kw) -> tuple[str | None, dict]:
    return GopherRepetitionConfig(**kw).build().evaluate(text)


def test_clean_document_passes_both() -> None:
    reason, stats = quality(CLEAN)
    assert reason is None
    assert stats["words"] > 100 and stats["stop_words"] >= 5
    assert repetition(CLEAN)[0] is None


def test_process_records_stats_under_stage_name() -> None:
    step = GopherQualityConfig(name="gq").build()
    doc = Document(id="1", text="Too short.", source="t")
    assert step.process(doc) == "gopher_short_document"
    assert doc.attributes["gq"] == {"words": 2}


@pytest.mark.parametrize(
    ("text", "kw", "reason", "stat"),
    [
        ("Only a few words here.", {}, "gopher_short_document", "words"),
        (CLEAN, {"max_words": 50}, "gopher_long_document", "words"),
        ("a an it is of to be by me we " * 10, {}, "gopher_short_mean_word_length", "mean_word_length"),
        ("internationalisation " * 60, {}, "gopher_long_mean_word_length", "mean_word_length"),
        (CLEAN + " #tag" * 40, {}, "gopher_hash_ratio", "hash_ratio"),
        (CLEAN + " and so on..." * 40, {}, "gopher_ellipsis_ratio", "ellipsis_ratio"),
        (
            "\n".join("- " + s for s in CLEAN.replace("\n", " ").split(". ")),
            {},
            "gopher_bullet_lines",
            "bullet_lines_ratio",
        ),
        (
            CLEAN.replace(".\n", "…\n"),
            {"max_ellipsis_ratio": None},
            "gopher_ellipsis_lines",
            "ellipsis_lines_ratio",
        ),
        (CLEAN + " 12 34 56 78" * 30, {}, "gopher_alpha_words", "alpha_words_ratio"),
        (NO_STOP_WORDS, {}, "gopher_stop_words", "stop_words"),
    ],
)
def test_each_quality_rule(text: str, kw: dict, reason: str, stat: str) -> None:
    got, stats = quality(text, **kw)
    assert got == reason, stats
    assert stat in stats


def test_null_threshold_disables_a_rule() -> None:
    assert quality("Only a few words here.", min_words=None, min_stop_words=None)[0] is None


def test_stop_words_are_case_insensitive() -> None:
    # "The" and "With" capitalised still count.
    text = " ".join(["The", "With"] + ["word"] * 60)
    assert quality(text)[1]["stop_words"] == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\n\n".join(["Same paragraph here."] * 3 + ["Other one."]), "gopher_dup_para_fraction"),
        (
            "\n\n".join(["A very long paragraph that repeats " * 5] * 2 + [f"p{i}" for i in range(6)]),
            "gopher_dup_para_char_fraction",
        ),
        ("\n".join(["Same line."] * 4 + ["Other line.", "Third."]), "gopher_dup_line_fraction"),
        (
            "\n".join(["A very long line that repeats once " * 4] * 2 + [f"l{i}" for i in range(6)]),
            "gopher_dup_line_char_fraction",
        ),
        ("buy now " * 50, "gopher_top_2_gram"),
        (CLEAN + " " + " ".join(CLEAN.split()[:60]), "gopher_dup_5_gram"),
    ],
)
def test_each_repetition_rule(text: str, reason: str) -> None:
    got, stats = repetition(text)
    assert got == reason, stats


def test_empty_document() -> None:
    assert repetition("  \n ")[0] == "gopher_empty_document"


def _greedy_reference(ws: list[str], n: int) -> int:
    """Straightforward scan: the definition `dup_ngram_chars` implements with a shortcut."""
    seen: set[tuple[str, ...]] = set()
    i = total = 0
    while i < len(ws) - n + 1:
        gram = tuple(ws[i : i + n])
        if gram in seen:
            total += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return total


def test_dup_ngram_chars_equals_the_full_scan() -> None:
    rng = random.Random(7)
    for _ in range(300):
        vocab = [f"w{i}" * rng.randint(1, 3) for i in range(rng.randint(2, 12))]
        ws = [rng.choice(vocab) for _ in range(rng.randint(0, 80))]
        cum = [0, *accumulate(map(len, ws))]
        for n in range(5, 11):
            got = dup_ngram_chars(ws, n, cum)
            assert max(got, 0) == _greedy_reference(ws, n)


def test_top_ngram_ties_go_to_the_first_seen() -> None:
    assert top_ngram(["aa", "b", "c", "aa", "b", "c"], 2) == (len("aa b") * 2, 2)
    assert top_ngram(["x"], 2) == (0, 0)


def test_thresholds_from_yaml() -> None:
    cfg = parse_config(
        "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\n"
        "stages:\n"
        "  - type: gopher_quality\n"
        "    min_words: 10\n"
        "    stop_words: [的, 是]\n"
        "    max_hash_ratio: null\n"
        "  - type: gopher_repetition\n"
        "    dup_ngram_max_fractions: {5: 0.3}\n"
        "    cjk_ngram_scale: 1\n",
        "t.yaml",
        "/tmp",
    )
    q, r = cfg.stage_configs()
    assert q.min_words == 10 and q.stop_words == ("的", "是") and q.max_hash_ratio is None
    assert r.dup_ngram_max_fractions == {5: 0.3}
    with pytest.raises(ConfigError, match="min_wrds"):
        parse_config(
            "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\nstages:\n  - type: gopher_quality\n"
            "    min_wrds: 3\n",
            "t.yaml",
            "/tmp",
        )


def _jsonl(path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


ZH_STOP_WORDS = ("的", "是", "在", "了", "和", "有", "我", "这", "不", "也")


def test_real_english_documents(shared_data) -> None:
    docs = _jsonl(shared_data / "web_text_en" / "dolma_tests" / "cc_en_head-0091.jsonl")
    docs += _jsonl(shared_data / "web_text_en" / "dolma_tests" / "cc_en_head-0174.jsonl")
    q, r = GopherQualityConfig().build(), GopherRepetitionConfig().build()
    kept = [t for t in docs if q.evaluate(t)[0] is None and r.evaluate(t)[0] is None]
    # CCNet "head" documents are good English: most pass, and the stats are those of prose.
    assert len(kept) >= 0.7 * len(docs)
    for t in kept:
        stats = q.evaluate(t)[1]
        assert 3.5 < stats["mean_word_length"] < 6.5 and stats["stop_words"] >= 3


def test_real_chinese_news_is_not_too_short(shared_data) -> None:
    docs = _jsonl(shared_data / "web_text_zh" / "skywork_eval_loss" / "zh_news.jsonl")[:400]
    q = GopherQualityConfig().build()
    reasons = [q.evaluate(t)[0] for t in docs]
    assert "gopher_short_document" not in [r for r, t in zip(reasons, docs, strict=True) if len(t) >= 100]
    # English stop words and the word-length rule do not apply to Chinese: with a Chinese stop-word
    # list (docs/heuristics.md) ordinary news passes.
    zh = GopherQualityConfig(stop_words=ZH_STOP_WORDS).build()
    kept = sum(zh.evaluate(t)[0] is None for t in docs)
    assert kept >= 0.85 * len(docs)
    assert sum(GopherRepetitionConfig().build().evaluate(t)[0] is None for t in docs) >= 0.9 * len(docs)


def test_real_chinese_ngrams_are_scaled(shared_data) -> None:
    t = _jsonl(shared_data / "web_text_zh" / "skywork_eval_loss" / "zh_news.jsonl")[0]
    assert len(words(t)) > 100
    stats = GopherRepetitionConfig().build().evaluate(t)[1]
    assert stats["ngram_scale"] == 2.0
    assert "top_4_gram_char_fraction" in stats and "dup_20_gram_char_fraction" in stats


def test_documented_defaults_are_the_defaults() -> None:
    """The YAML block in docs/heuristics.md parses and equals every stage's defaults."""
    import re
    from pathlib import Path

    md = (Path(__file__).resolve().parents[2] / "docs" / "heuristics.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", md, re.S).group(1)
    cfg = parse_config("sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\n" + block, "doc.yaml", "/tmp")
    stages = cfg.stage_configs()
    assert [s.type for s in stages] == [
        "gopher_quality",
        "gopher_repetition",
        "c4_quality",
        "c4_lines",
        "fineweb_quality",
    ]
    assert all(s == type(s)() for s in stages)


def test_stop_words_follow_the_document_language() -> None:
    """Per-language stop words: a German document passes with German ones, fails with the English list."""
    from filters.gopher import GopherQualityConfig
    from pipeline.schema import Document

    text = " ".join(["Der Hund und die Katze sind in dem Haus, und das ist gut so."] * 8)
    by_lang = {"de": ("der", "die", "und", "das")}
    step = GopherQualityConfig(type="gopher_quality", stop_words_by_language=by_lang).build()
    german = Document(id="1", text=text, source="s", attributes={"language": {"lang": "de"}})
    unknown = Document(id="2", text=text, source="s")
    assert step.process(german) is None
    assert step.process(unknown) == "gopher_stop_words"
