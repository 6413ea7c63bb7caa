"""Word block lists: the bundled real LDNOOBW lists on crafted text per script and on real web text."""

from __future__ import annotations

import json
import pickle

import pytest
from pydantic import ValidationError

from filters.keywords import (
    BUNDLED_LISTS,
    WordBlocklistConfig,
    WordBlocklistFilter,
    WordMatcher,
    available_lists,
    count_words,
    normalize,
    read_list,
)
from pipeline.config import ConfigError, parse_config
from pipeline.schema import Document

SOURCE = "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\n"


def make(**kw) -> WordBlocklistFilter:
    f = WordBlocklistConfig(type="word_blocklist", **kw).build()
    f.setup()
    return f


def doc(text: str, lang: str | None = None, i: int = 0) -> Document:
    attrs = {"language": {"lang": lang, "score": 0.9}} if lang else {}
    return Document(id=str(i), text=text, source="test", attributes=attrs)


@pytest.fixture(scope="module")
def any_hit() -> WordBlocklistFilter:
    """Drops on a single hit, so tests can see exactly what matches."""
    return make(min_hits=1, min_ratio=None)


def terms(f: WordBlocklistFilter, text: str, lang: str) -> list[str]:
    d = doc(text, lang)
    f.process(d)
    return d.attributes["word_blocklist"]["terms"]


def test_bundled_lists_are_the_28_ldnoobw_languages_with_licence():
    names = available_lists(BUNDLED_LISTS)
    assert len(names) == 28 and {"en", "zh", "ja", "th", "ko", "fr-CA-u-sd-caqc"} <= set(names)
    assert (BUNDLED_LISTS / "LICENSE").read_text().startswith("Attribution 4.0 International")
    assert "ldnoobw" in (BUNDLED_LISTS / "NOTICE.md").read_text().lower()
    assert len(read_list(BUNDLED_LISTS / "en")) == 403


def test_english_matches_whole_words_only(any_hit):
    assert terms(any_hit, "A class on bass, assassins and Massachusetts.", "en") == []
    assert terms(any_hit, "What an ASS. You ass-hat!", "en") == ["ass"]
    # leftmost-longest: "asshole" is one hit, not also "ass"
    d = doc("asshole", "en")
    any_hit.process(d)
    assert d.attributes["word_blocklist"]["hits"] == 1
    assert d.attributes["word_blocklist"]["terms"] == ["asshole"]


def test_multi_word_entry_spans_line_breaks(any_hit):
    assert terms(any_hit, "they watched 2 Girls\n  1 cup yesterday", "en") == ["2 girls 1 cup"]


def test_chinese_substrings_and_single_character_entries(any_hit):
    d = doc("他妈的，你这个下贱的人", "zh")
    any_hit.process(d)
    assert d.attributes["word_blocklist"]["terms"] == ["他妈的", "下贱"]
    assert d.attributes["word_blocklist"]["hits"] == 2  # 他妈的 not counted again as 他妈
    # '性' is a zh entry but occurs in ordinary words: one-character CJK entries are skipped by default
    assert terms(any_hit, "这款手机的性能和可靠性都很好", "zh") == []
    strict = make(min_hits=1, min_ratio=None, min_substring_chars=1)
    assert terms(strict, "这款手机的性能和可靠性都很好", "zh") == ["性"]


def test_japanese_latin_entries_stop_at_kana(any_hit):
    assert terms(any_hit, "これはsmです。", "ja") == ["sm"]
    assert terms(any_hit, "xxxのサイト", "ja") == []  # "xx" is an entry, "xxx" is not a match for it
    assert terms(any_hit, "ＳＭ女王", "ja") == ["sm女王"]  # NFKC: full-width letters


def test_thai_and_korean(any_hit):
    assert terms(any_hit, "มึงไปไหนมา", "th") == ["มึง"]
    assert terms(any_hit, "씨발놈아 진짜", "ko") == ["씨발놈"]  # Korean: word start, particles may follow
    assert terms(any_hit, "아씨발", "ko") == []


def test_zh_entry_with_trailing_dot_is_not_a_number_prefix(any_hit):
    assert terms(any_hit, "增长了13.5%", "zh") == []


def test_thresholds_count_and_ratio():
    text3 = "shit, what a bitch, you bastard"  # 3 en hits in 6 words
    f = make(min_hits=3, min_ratio=None)
    assert f.process(doc(text3, "en")) == "blocklist_words"
    assert f.process(doc("shit, what a bitch", "en")) is None
    long_text = text3 + " " + "ordinary words about gardening and weather " * 200
    both = make(min_hits=3, min_ratio=0.005)
    d = doc(long_text, "en")
    assert both.process(d) is None  # 3 hits, ratio ~0.002
    assert d.attributes["word_blocklist"]["hits"] == 3
    assert 0.001 < d.attributes["word_blocklist"]["ratio"] < 0.005
    assert both.process(doc(text3, "en")) == "blocklist_words"
    ratio_only = make(min_hits=None, min_ratio=0.1)
    assert ratio_only.process(doc("what a bitch", "en")) == "blocklist_words"


def test_list_picked_by_language_label(any_hit):
    text = "merde alors, quel connard"
    assert terms(any_hit, text, "fr") == ["merde", "connard"]
    assert terms(any_hit, text, "en") == []
    d = doc(text)  # no language label: the fallback list (en)
    any_hit.process(d)
    assert d.attributes["word_blocklist"]["lists"] == ["en"]
    assert terms(any_hit, "osti de criss", "fr") == ["osti", "criss"]  # fr also uses the fr-CA list
    assert terms(any_hit, "putang ina mo", "tl") == ["putang ina"]  # lid.176 'tl' -> LDNOOBW 'fil'


def test_language_without_list_is_counted_and_kept():
    f = make(min_hits=1, min_ratio=None)
    d = doc("Xin chào, fuck", "vi")
    assert f.process(d) is None
    assert d.attributes["word_blocklist"] == {"lists": [], "hits": 0, "ratio": 0.0, "terms": []}
    assert f.counters["no_list_for_language"] == 1


def test_extra_and_excluded_words():
    f = make(languages=["en"], extra_words=["Spamword"], exclude_words=["anal"], min_hits=1, min_ratio=None)
    assert terms(f, "buy SPAMWORD now, anal retentive", "en") == ["spamword"]


def test_matcher_with_thousands_of_patterns():
    entries = [f"w{i}x" for i in range(20_000)] + read_list(BUNDLED_LISTS / "en")
    m = WordMatcher(entries)
    assert m.size == 20_403
    text = normalize("Foo w19999x bar w123x w123xy and an ass. " * 50)
    found = m.find(text)
    assert found[:3] == ["w19999x", "w123x", "ass"] and len(found) == 150


def test_count_words_cjk_characters_count_one_each():
    assert count_words("hello world") == 2
    assert count_words("你好世界") == 4
    assert count_words("hello 你好 world") == 4


def test_config_needs_a_threshold_and_known_lists(tmp_path):
    with pytest.raises(ValidationError, match="min_hits and/or min_ratio"):
        WordBlocklistConfig(type="word_blocklist", min_hits=None, min_ratio=None)
    with pytest.raises(FileNotFoundError, match="xx"):
        make(languages=["xx"])
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "en").write_text("# comment\nfoo bar\n\nbaz\n", encoding="utf-8")
    cfg = parse_config(
        SOURCE + "stages:\n  - {type: word_blocklist, lists_dir: lists, min_hits: 2, min_ratio: null}\n",
        "t.yaml",
        str(tmp_path),
    )
    step = cfg.stage_configs()[0].build()
    step.setup()
    assert step.process(doc("Foo  bar and BAZ", "en")) == "blocklist_words"
    with pytest.raises(ConfigError, match="min_hits"):
        parse_config(SOURCE + "stages:\n  - {type: word_blocklist, min_hits: 0}\n", "t.yaml", "/tmp")


def test_pickle_rebuilds_matchers(any_hit):
    clone = pickle.loads(pickle.dumps(any_hit))
    assert clone._matchers == {} and not clone._ready
    assert terms(clone, "you bastard", "en") == ["bastard"]


def test_clean_real_web_text_is_kept(shared_data):
    """Real clean Chinese news/tech and English CCNet-head documents: nothing dropped with defaults."""
    f = make()
    cases = [("zh", p) for p in sorted((shared_data / "web_text_zh" / "skywork_eval_loss").glob("*.jsonl"))]
    cases += [("en", p) for p in sorted((shared_data / "web_text_en" / "dolma_tests").glob("*.jsonl"))]
    n = 0
    for lang, path in cases:
        for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
            if line.strip():
                assert f.process(doc(json.loads(line)["text"], lang, i)) is None
                n += 1
    assert n > 1000


def test_real_chinese_porn_spam_pages_are_dropped(shared_data):
    """Real CC-MAIN-2020-34 pages from Chinese porn/video spam sites are dropped; their neighbours kept."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    f = make(fallback_languages=["zh"])
    path = shared_data / "cc_warc" / "commoncrawl" / "resiliparse__warcfile.warc.gz"
    dropped, kept = [], []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response):
            body = rec.reader.read()
            text = extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=False)
            if not any("\u4e00" <= c <= "\u9fff" for c in text[:2000]):
                continue
            d = doc(text)
            (dropped if f.process(d) else kept).append(rec.headers.get("WARC-Target-URI"))
            if d.attributes["word_blocklist"]["hits"] >= 3:
                assert d.attributes["word_blocklist"]["terms"]
    assert any("0513mt.com" in u for u in dropped) and any("096355.com" in u for u in dropped)
    assert len(kept) >= len(dropped)
