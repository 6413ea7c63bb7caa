"""HTML to text: real pages give the gold article, legacy encodings decode, bad HTML never crashes."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from pipeline.readers.html import (
    DEFAULT_EXTRACTOR,
    EXTRACTORS,
    ExtractionError,
    decode_html,
    extract_text,
)

# Three news pages (NYT without a meta charset, CT Post and LA Times with one).
PAGES = (
    "04a6711caa7c687592777718866e781e976e0fe684faebe8b3cedcef8cd0ea34",
    "05844573ca7e1fba714d715bb11ca08c26e25328999c74a1cb3bc8a0e4399f0f",
    "098bb3e96c0acdf36efdcde45fb9cca3f8c82c7cb2071b76097a1b96155f1eb2",
)

ZH = (
    "北京时间周二晚间，研究人员发布了一份关于大规模网络文本清洗的报告。报告指出，"
    "高质量的训练数据对语言模型的效果至关重要，而去重和过滤是其中最耗费计算资源的环节。"
)
JA = (
    "東京の研究チームは火曜日、ウェブから収集した文章を整理するための新しい手法を発表した。"
    "同チームによると、重複の除去と品質の判定が学習データの質を大きく左右するという。"
)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _article(body: str, charset: str | None, lang: str) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    paragraphs = "".join(f"<p>{body}</p>" for _ in range(3))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head>{meta}<title>{body[:10]}</title></head><body>'
        '<nav><a href="/">Home</a> <a href="/news">News</a></nav>'
        f"<article><h1>{body[:12]}</h1>{paragraphs}</article>"
        "<footer>&copy; 2024</footer></body></html>"
    )


@pytest.fixture(scope="module")
def aeb(shared_data: Path) -> tuple[Path, dict]:
    root = shared_data / "web_text_en" / "article_extraction_benchmark"
    return root, json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))


def _page(root: Path, key: str) -> bytes:
    return gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes())


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize("key", PAGES)
def test_real_page_yields_gold_article(aeb, key: str, extractor: str) -> None:
    root, gold = aeb
    text = extract_text(_page(root, key), extractor, url=gold[key]["url"])
    assert text and text == text.strip()
    ref = gold[key]["articleBody"]
    sentences = [_norm(s) for s in re.split(r"(?<=[.!?])\s+|\n+", ref) if len(s.split()) >= 10]
    out = _norm(text)
    assert sentences[0] in out
    found = sum(s in out for s in sentences)
    assert found >= 0.9 * len(sentences), f"{found}/{len(sentences)} gold sentences extracted"
    # Main content, not the whole page: most output tokens belong to the article.
    gold_tokens, out_tokens = Counter(ref.split()), Counter(text.split())
    precision = sum((gold_tokens & out_tokens).values()) / sum(out_tokens.values())
    assert precision > 0.75


def test_real_page_in_windows_1252_matches_utf8(aeb) -> None:
    """The same real page, re-encoded to windows-1252 and labelled so, extracts to the same text."""
    root, _ = aeb
    utf8 = _page(root, PAGES[2])
    assert b'charset="UTF-8"' in utf8
    legacy = utf8.decode("utf-8").replace('charset="UTF-8"', 'charset="windows-1252"')
    legacy_bytes = legacy.encode("cp1252", errors="xmlcharrefreplace")
    assert legacy_bytes != utf8
    for extractor in EXTRACTORS:
        assert extract_text(legacy_bytes, extractor) == extract_text(utf8, extractor)


def test_real_pages_deterministic_and_order_independent(aeb) -> None:
    root, _ = aeb
    pages = [_page(root, key) for key in PAGES]
    for extractor in EXTRACTORS:
        forward = [extract_text(p, extractor) for p in pages]
        backward = [extract_text(p, extractor) for p in reversed(pages)][::-1]
        assert forward == backward


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize(
    ("body", "encoding", "label", "lang"),
    [(ZH, "gbk", "gbk", "zh"), (ZH, "gb18030", "GB2312", "zh"), (JA, "shift_jis", "Shift_JIS", "ja")],
    ids=["gbk", "gb2312", "shift_jis"],
)
def test_legacy_encoding_from_meta_charset(
    body: str, encoding: str, label: str, lang: str, extractor: str
) -> None:
    data = _article(body, label, lang).encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = extract_text(data, extractor)
    assert body in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_legacy_encoding_from_http_charset_hint(extractor: str) -> None:
    data = _article(JA, None, "ja").encode("shift_jis")
    assert JA in extract_text(data, extractor, encoding_hint="Shift_JIS")
    # A wrong transport label that cannot decode the bytes is ignored in favour of detection.
    assert decode_html(_article(ZH, "gbk", "zh").encode("gbk"), "utf-8") == _article(ZH, "gbk", "zh")


def test_decode_prefers_bom_then_valid_utf8() -> None:
    html = _article(ZH, None, "zh")
    assert decode_html(b"\xef\xbb\xbf" + html.encode("utf-8"), "gbk") == html
    assert decode_html(b"\xff\xfe" + html.encode("utf-16-le")) == html
    # Servers often label UTF-8 pages iso-8859-1; valid UTF-8 wins over that label.
    assert decode_html(html.encode("utf-8"), "iso-8859-1") == html
    # Invalid bytes never raise: they become U+FFFD or a best-effort legacy decoding.
    assert isinstance(decode_html(b"<p>\xff\xfe\xfd\x80 broken</p>"), str)


EMPTY = [
    b"",
    "",
    "   \n\t",
    b"\x00\x00",
    "<html><head></head><body></body></html>",
    "<html><body><script>var a = '<p>' + 1;</script><style>p {}</style></body></html>",
]


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize("empty", EMPTY, ids=range(len(EMPTY)))
def test_empty_input_gives_empty_string(empty: bytes | str, extractor: str) -> None:
    assert extract_text(empty, extractor) == ""


BROKEN = {
    "unclosed_tags": "<html><body><div><p>{t} <b>bold <i>italic <div></p></table></span>{t}",
    "stray_end_tags": "</html></body><html><body></p></div><p>{t}</p></td></tr></body>",
    "xml_declaration": '<?xml version="1.0" encoding="ISO-8859-1"?><html><body><p>{t}</p></body></html>',
    "control_chars": "<html><body><p>{t}\x0b\x0c\x1b\x7f {t}</p></body></html>",
    "nul_bytes": "<html><body><p>{t}\x00</p><p>\x00{t}</p></body></html>",
    "lone_surrogate": "<html><body><p>{t} \ud800 {t}</p></body></html>",
    "deep_nesting": "<html><body>" + "<div>" * 20000 + "<p>{t}</p>" + "</div>" * 20000 + "</body></html>",
    "unterminated_comment": "<html><body><p>{t}</p><!-- never closed <p>hidden</p>",
    "binary_garbage": "\x1f\x8b\x08<html><body><p>{t}</p>\ufffd\ufffd</body></html>",
}
SENTENCE = "The committee published its findings on Tuesday after a long review of the evidence."


@pytest.mark.parametrize("extractor", EXTRACTORS)
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_html_never_crashes(case: str, extractor: str) -> None:
    html = BROKEN[case].replace("{t}", SENTENCE)
    for page in (html, html.encode("utf-8", "surrogatepass")):
        try:
            text = extract_text(page, extractor)
        except ExtractionError as exc:  # the documented failure: a reason the caller records
            assert re.fullmatch(r"[a-z0-9_]+", exc.reason)
            continue
        assert isinstance(text, str)
        assert "\x00" not in text and "\x0b" not in text
        if case not in ("deep_nesting", "binary_garbage"):
            assert "committee published its findings" in text, (case, text[:200])


def test_resiliparse_recovers_text_from_deep_nesting() -> None:
    html = BROKEN["deep_nesting"].replace("{t}", SENTENCE)
    assert SENTENCE in extract_text(html, "resiliparse")


def test_unknown_extractor_and_bad_type() -> None:
    with pytest.raises(ValueError, match="unknown HTML extractor 'readability'"):
        extract_text("<p>x</p>", "readability")
    with pytest.raises(TypeError):
        extract_text(123, DEFAULT_EXTRACTOR)  # type: ignore[arg-type]


def test_default_extractor_is_supported() -> None:
    assert DEFAULT_EXTRACTOR in EXTRACTORS
