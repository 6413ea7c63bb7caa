"""Word/sentence/line splitting: the per-script rules of filters/text.py, on crafted and real text."""

from __future__ import annotations

import json
import random

from filters import text
from filters.text import count_sentences, split_paragraphs, split_sentences, tokens, view, words


def test_english_words_follow_spacy_conventions() -> None:
    got = words("Don't call Mr. Smith in D.C. at 9 a.m. on 9/11, it costs $3.50 or 1,000 yen.")
    assert got == [
        "Don",
        "'t",
        "call",
        "Mr.",
        "Smith",
        "in",
        "D.C.",
        "at",
        "9",
        "a.m.",
        "on",
        "9/11",
        "it",
        "costs",
        "3.50",
        "or",
        "1,000",
        "yen",
    ]


def test_apostrophes_hyphens_urls() -> None:
    assert words("O'Brien met l'homme; it's e-mail") == ["O'Brien", "met", "l'homme", "it", "'s", "e", "mail"]
    assert words("see https://example.com/a?b=1, or www.example.org.") == [
        "see",
        "https://example.com/a?b=1",
        "or",
        "www.example.org",
    ]


def test_symbols_are_tokens_not_words() -> None:
    assert tokens("Wait... (yes) #tag!") == ["Wait", "...", "(", "yes", ")", "#", "tag", "!"]
    v = view("Wait... (yes) #tag!")
    assert v.words == ["Wait", "yes", "tag"]
    assert v.n_symbol_tokens == 5


def test_cjk_is_one_word_per_character() -> None:
    assert words("今天天气很好。") == ["今", "天", "天", "气", "很", "好"]
    assert words("カタカナーとひらがな") == ["カ", "タ", "カ", "ナ", "ー", "と", "ひ", "ら", "が", "な"]
    # Latin inside CJK text stays one word; the CJK characters around it are split.
    assert words("iPhoneを販売") == ["iPhone", "を", "販", "売"]
    assert view("中文text").n_cjk_words == 2


def test_spaced_scripts_keep_combining_marks() -> None:
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # Devanagari vowel signs stay in the word
    assert words("한국어 텍스트입니다") == ["한국어", "텍스트입니다"]  # Hangul is spaced, not per character
    assert words("Привет, мир") == ["Привет", "мир"]
    assert words("مرحبا بالعالم") == ["مرحبا", "بالعالم"]


def test_sentences() -> None:
    s = "Mr. Smith went to Washington. He saw e.g. the U.S. Capitol! Then J. Doe left... ok"
    assert count_sentences(s) == 4
    assert split_sentences("今天天气很好。我们去公园吧！好的") == ["今天天气很好。", "我们去公园吧！", "好的"]
    assert count_sentences("   ") == 0
    assert split_paragraphs("a\n\n\nb\nc\n\n") == ["a", "b\nc"]


def test_view_is_shared_by_identity() -> None:
    a = "some text here"
    assert view(a) is view(a)
    b = "".join(["some text ", "here"])  # equal, but another object: a fresh view
    assert b == a and b is not a
    assert view(b) is not view(a)


def test_seeded_word_count() -> None:
    t = "one two three\nfour five"
    assert text.known_word_count(t) is None or view(t).n_words == 5
    view(t).words  # noqa: B018 - split once
    assert text.known_word_count(t) == 5
    new = "one two three"
    text.seed_word_count(new, 3)
    assert view(new).n_words == 3


def test_words_never_span_lines() -> None:
    """What c4_lines relies on to derive the word count of kept lines without re-splitting."""
    rng = random.Random(0)
    pieces = ["U.S.", "Mr.", "don't", "9/11", "http://x.org/a", "中文", "e-mail", "...", "[1]", "A.", "word"]
    for _ in range(200):
        lines = [
            " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 6))
        ]
        joined = "\n".join(lines)
        assert len(words(joined)) == sum(len(words(line)) for line in lines)


def test_real_english_word_counts_are_close_to_whitespace_counts(shared_data) -> None:
    path = shared_data / "web_text_en" / "dolma_tests" / "cc_en_head-0091.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        t = json.loads(line)["text"]
        n_ws, n = len(t.split()), len(words(t))
        assert 0.85 * n_ws <= n <= 1.25 * n_ws, (n_ws, n)


def test_real_chinese_news_has_many_words(shared_data) -> None:
    path = shared_data / "web_text_zh" / "skywork_eval_loss" / "zh_news.jsonl"
    docs = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    # Whitespace splitting sees a handful of "words" per document; per-character counting sees them all.
    assert sum(len(t.split()) < 50 for t in docs) > 0.5 * len(docs)
    assert all(len(words(t)) >= 50 for t in docs if len(t) >= 100)


def test_sentences_of_many_lines_in_one_call() -> None:
    lines = [
        "Mr. Smith left. He came back!",
        "今天天气很好。我们去公园吧！",
        "One 'quoted'",
        "A. B. Cee is here.",
    ]
    assert text.count_sentences_in_lines(lines) == sum(count_sentences(line) for line in lines) == 6
    assert text.count_sentences_in_lines([]) == 0
