"""C4: the page-level filter (`c4_quality`) and the explicit line-removal transform (`c4_lines`)."""

from __future__ import annotations

import json

import pytest

from filters.c4 import C4LinesConfig, C4QualityConfig, line_verdicts
from filters.text import count_sentences, count_sentences_in_lines, view, words
from pipeline import registry
from pipeline.config import parse_config
from pipeline.schema import Document

GOOD = [
    "The council met on Tuesday to discuss the new budget for the city library.",
    "Members agreed that the reading rooms should stay open later during exams.",
    "A local teacher said the change would help students who need a quiet place.",
    "The library will also extend its lending period for expensive textbooks.",
    "Funding comes from a grant that the regional government approved last spring.",
    "Work on the building starts in the autumn and should end before winter.",
]
NOISE = [
    "Home",
    "Share on Facebook",
    "Please enable JavaScript to view the comments.",
    "This site uses cookies to improve your experience.",
    "Read more...",
]


def page(*lines: str) -> str:
    return "\n".join(lines)


def evaluate(text: str, **kw) -> tuple[str | None, dict]:
    return C4QualityConfig(**kw).build().evaluate(text)


def test_good_page_is_kept_and_not_rewritten() -> None:
    text = page(*NOISE[:2], *GOOD, *NOISE[2:])
    step = C4QualityConfig().build()
    doc = Document(id="1", text=text, source="t")
    assert step.process(doc) is None
    assert doc.text is text  # the filter never rewrites
    assert doc.attributes["c4_quality"] == {"lines_kept": 6, "lines_removed": 5, "sentences": 6}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (page(*GOOD, "Lorem ipsum dolor sit amet, consectetur adipiscing elit."), "c4_lorem_ipsum"),
        (page(*GOOD[:3], "The function returns { x: 1 } to the caller.", *GOOD[3:]), "c4_curly_bracket"),
        (page(*GOOD[:4], *NOISE), "c4_too_few_sentences"),
    ],
)
def test_page_rules(text: str, reason: str) -> None:
    assert evaluate(text)[0] == reason


def test_page_rules_apply_to_kept_lines_only() -> None:
    """As in C4's reference code: a '{' in a line C4 removes anyway does not drop the page."""
    assert evaluate(page(*GOOD, "body { color: red }"))[0] is None
    assert evaluate(page(*GOOD, "Please enable javascript { here }."))[0] is None
    assert evaluate(page(*GOOD, "body { color: red }"), curly_bracket=False)[0] is None
    assert evaluate(page(*GOOD[:4], "One more. And another."))[0] is None  # 6 sentences in kept lines


def test_thresholds_from_yaml() -> None:
    cfg = parse_config(
        "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\nstages:\n"
        "  - {type: c4_quality, min_sentences: 2, lorem_ipsum: false}\n"
        "  - {type: c4_lines, min_words_per_line: 5, policy_lines: false}\n",
        "t.yaml",
        "/tmp",
    )
    q, lines = cfg.stage_configs()
    assert (q.min_sentences, q.lorem_ipsum) == (2, False)
    assert (lines.min_words_per_line, lines.policy_lines) == (5, False)
    assert registry.STAGES["c4_lines"] == "filters.c4:C4LinesConfig"


def test_c4_lines_removes_and_counts() -> None:
    step = C4LinesConfig().build()
    raw = page(
        "Home",
        *GOOD[:2],
        "Please enable JavaScript to view the comments.",
        "x" * 1001 + " end.",
        "We use cookies. See our privacy policy.",
        "Paris is the capital of France.[1][citation needed]",
    )
    doc = Document(id="1", text=raw, source="t")
    assert step.process(doc) is None
    assert doc.text == page(*GOOD[:2], "Paris is the capital of France.")
    attrs = doc.attributes["c4_lines"]
    assert attrs["lines_removed"] == 4
    assert attrs["removed_by_rule"] == {
        "javascript": 1,
        "no_terminal_punctuation": 1,
        "policy": 1,
        "too_long_word": 1,
    }
    assert attrs["bytes_removed"] == len(raw.encode()) - len(doc.text.encode())
    assert step.counters["lines_removed"] == 4 and step.counters["lines_removed_policy"] == 1
    assert step.counters["bytes_removed"] == attrs["bytes_removed"]


def test_c4_lines_empty_result_is_a_named_drop() -> None:
    doc = Document(id="1", text=page(*NOISE), source="t")
    assert C4LinesConfig().build().process(doc) == "c4_lines_empty"


def test_order_of_filter_and_transform_does_not_matter() -> None:
    q, lines = C4QualityConfig().build(), C4LinesConfig().build()
    for text in [page(*NOISE, *GOOD), page(*GOOD[:3], *NOISE), page(*GOOD, "a { b }.")]:
        cleaned = lines.clean(text)[0]
        assert (q.evaluate(text)[0] is None) == (q.evaluate(cleaned)[0] is None)
        assert lines.clean(cleaned)[0] == cleaned  # idempotent


def _docs(shared_data) -> list[str]:
    out = []
    for name in ("cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"):
        path = shared_data / "web_text_en" / "dolma_tests" / name
        out += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    return out


def test_seeded_word_count_is_exact_on_real_documents(shared_data) -> None:
    """c4_lines hands the cleaned text's word count to the next filter without re-splitting it."""
    lines = C4LinesConfig().build()
    for text in _docs(shared_data):
        view(text).words  # noqa: B018 - as after gopher filters in a chain
        doc = Document(id="1", text=text, source="t")
        lines.process(doc)
        assert view(doc.text).n_words == len(words(doc.text))


def test_real_english_documents(shared_data) -> None:
    q = C4QualityConfig().build()
    results = [q.evaluate(t) for t in _docs(shared_data)]
    assert sum(r is None for r, _ in results) >= 0.7 * len(results)
    assert all(s["lines_kept"] >= 1 for r, s in results if r is None)


def test_real_chinese_news_keeps_its_lines(shared_data) -> None:
    path = shared_data / "web_text_zh" / "skywork_eval_loss" / "zh_news.jsonl"
    docs = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()][:300]
    lines = C4LinesConfig().build()
    kept_share = [len(lines.clean(t)[0]) / len(t.strip()) for t in docs]
    # Lines ending in 。！？ count as terminated and CJK characters count as words.
    assert sum(s > 0.5 for s in kept_share) >= 0.9 * len(docs)
    q = C4QualityConfig().build()
    assert sum(q.evaluate(t)[0] is None for t in docs) >= 0.7 * len(docs)


def test_one_call_sentence_count_equals_per_line_count(shared_data) -> None:
    q = C4QualityConfig().build()
    for t in _docs(shared_data):
        kept = [line for line, rule, _, _ in line_verdicts(q.config, t) if rule is None]
        assert count_sentences_in_lines(kept) == sum(count_sentences(line) for line in kept)
