"""winnow's own HTML extractor: blocks, the shipped model, rendering, and its training command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pipeline.readers import blocks, main_content
from pipeline.readers.html import EXTRACTORS, extract_text
from pipeline.readers.main_content_train import align_labels, train, word_f1

WCXB = Path(__file__).resolve().parents[3] / "shared" / "data" / "web_text_en" / "wcxb_dev"

ARTICLE = """<html><head><title>How rivers carve canyons</title></head><body>
<nav class="site-nav"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>
<div class="sidebar"><h3>Popular</h3><ul><li><a href="/a">Ten tips for hikers</a></li>
<li><a href="/b">Best boots of the year</a></li></ul></div>
<article class="post-content"><h1>How rivers carve canyons</h1>
<p>Rivers cut into rock over millions of years. Sediment carried by fast water grinds the riverbed
deeper, and the walls on either side are left standing as the canyon grows.</p>
<p>The Colorado River, for example, has exposed nearly two billion years of geological history in
the walls of the Grand Canyon, layer after layer of sandstone, limestone and shale.</p>
<p>Floods matter more than ordinary flow: a single large flood can move more rock in a few days
than the river moves in a decade of calm water.</p></article>
<footer class="footer"><p>© 2024 Example Media. All rights reserved.</p>
<p><a href="/privacy">Privacy policy</a> · <a href="/terms">Terms of use</a></p></footer>
</body></html>"""


def test_the_winnow_extractor_keeps_the_article_and_drops_navigation_and_footer() -> None:
    assert "winnow" in EXTRACTORS
    text = extract_text(ARTICLE.encode(), "winnow")
    assert "Rivers cut into rock over millions of years." in text
    assert "a single large flood can move more rock" in text
    for boilerplate in ("About us", "Best boots of the year", "All rights reserved", "Privacy policy"):
        assert boilerplate not in text
    paragraphs = text.split("\n\n")
    assert any(p.startswith("The Colorado River") for p in paragraphs)


def test_extraction_is_deterministic_and_empty_pages_give_nothing() -> None:
    assert extract_text(ARTICLE, "winnow") == extract_text(ARTICLE, "winnow")
    assert extract_text("<html><body><script>var x = 1;</script></body></html>", "winnow") == ""
    assert extract_text("", "winnow") == ""


def test_blocks_follow_the_page_and_skip_scripts() -> None:
    root = blocks.parse("<body><p>one <b>two</b><script>x()</script> three</p><li>item</li></body>")
    page = blocks.segment(root)
    assert [b.text for b in page.blocks] == ["one two three", "item"]
    assert page.blocks[1].tag == "li"
    assert blocks.block_features(page).shape == (2, len(blocks.FEATURE_NAMES))


def test_content_after_an_unclosed_button_is_still_read() -> None:
    """libxml2 nests the rest of a page inside an unclosed <button>; a skipped button lost it all."""
    html = "<body><button>Menu<div><p>" + "Real text of the page. " * 10 + "</p></div></body>"
    assert "Real text of the page." in extract_text(html, "winnow")


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    good = main_content.load_model()
    path = tmp_path / "m.txt.gz"
    main_content.save_model(good.booster, 0.5, path)
    assert main_content.load_model(path).threshold == 0.5
    import gzip

    header, body = gzip.decompress(path.read_bytes()).decode().split("\n", 1)
    meta = json.loads(header)
    meta["feature_names"] = meta["feature_names"][:-1]
    path.write_bytes(gzip.compress((json.dumps(meta) + "\n" + body).encode()))
    with pytest.raises(ValueError, match="retrain"):
        main_content.load_model(path)


def test_labels_follow_the_gold_text_in_page_order() -> None:
    story = "The first long paragraph of the story goes on and on, with more words than a menu has."
    gold = f"{story} Home is where the heart is."
    texts = ["Home", story, "Home is where", "Share"]
    # The menu's "Home" comes before the story in the page but after it in the gold: not matched.
    assert align_labels(texts, gold) == [0, 1, 1, 0]
    assert word_f1("a b c", "a b c") == 1.0
    assert word_f1("", "") == 1.0


@pytest.mark.skipif(not WCXB.is_dir(), reason="WCXB data not found at ../shared (not in a user's clone)")
def test_train_extractor_on_real_wcxb_pages(tmp_path: Path) -> None:
    out = tmp_path / "model.txt.gz"
    args = argparse.Namespace(wcxb=str(WCXB), output=str(out), folds=2, trees=20, leaves=15, seed=0, limit=60)
    assert train(args) == 0
    card = json.loads((tmp_path / "model.card.json").read_text())
    assert card["pages"] == 60 and 0.5 < card["cv_word_f1"]["all"] <= 1.0
    model = main_content.load_model(out)
    first = out.read_bytes()
    assert train(args) == 0
    assert out.read_bytes() == first, "same data and options must give the same model bytes"
    text = main_content.extract_main_content(ARTICLE, model)
    assert "Rivers cut into rock" in text
