"""Cut an HTML page into text blocks and describe each with numbers a main-content model can score.

A block is the text between two block-level boundaries (``<p>``, ``<li>``, ``<h2>``, ``<td>``, ``<br>``,
...), with what the page says about it: its tag, whether it sits in ``<nav>``/``<footer>``/``<aside>``,
the class and id words of its ancestors (``sidebar``, ``comment``, ``content``...), how much of it is
link text, and how much of the page's text its containers hold. :func:`block_features` turns a page's
blocks into one row of floats per block; ``pipeline.readers.main_content`` scores the rows.

Parsing is lxml's libxml2 HTML parser (already a dependency through trafilatura); the walk is one
``iterwalk`` pass with no recursion, so a page nested 100k tags deep costs time, never the stack.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import lxml.etree as etree
import numpy as np

# Elements whose content is never page text.
SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "template",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "canvas",
        "head",
        "input",
        "video",
        "audio",
        "source",
        "track",
    ]
)
# Elements that end the running block where they start and where they end.
BLOCK_TAGS = frozenset(
    [
        "html",
        "body",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "nav",
        "aside",
        "p",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "pre",
        "blockquote",
        "form",
        "fieldset",
        "figure",
        "figcaption",
        "address",
        "details",
        "summary",
        "center",
        "hr",
        "br",
        "menu",
        "legend",
        "hgroup",
    ]
)
HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])

# Semantic containers and the bit each sets on everything inside it.
CONTAINER_BITS = {
    "nav": 1 << 0,
    "header": 1 << 1,
    "footer": 1 << 2,
    "aside": 1 << 3,
    "form": 1 << 4,
    "article": 1 << 5,
    "main": 1 << 6,
    "li": 1 << 7,
    "table": 1 << 8,
    "a": 1 << 9,
    "blockquote": 1 << 10,
    "pre": 1 << 11,
    "figure": 1 << 12,
    "dl": 1 << 13,
    "label": 1 << 14,
    "code": 1 << 15,
    "noscript": 1 << 16,
    # Controls: libxml2 nests the rest of a page inside an unclosed <button>, so never skip them.
    "button": 1 << 17,
    "select": 1 << 17,
    "option": 1 << 17,
    "textarea": 1 << 17,
    "dialog": 1 << 17,
}
_N_CONTAINER_BITS = 18

# Words in class/id attributes, in groups; a group sets one bit on everything inside the element.
_WORD_GROUPS: tuple[tuple[str, ...], ...] = (
    ("nav", "navbar", "navigation", "menu", "menubar", "breadcrumb", "breadcrumbs", "topbar"),
    ("footer", "foot", "copyright", "legal", "bottom"),
    ("header", "masthead", "banner", "top"),
    ("sidebar", "side", "aside", "widget", "widgets", "rail"),
    ("comment", "comments", "reply", "respond", "discussion", "disqus"),
    ("share", "social", "sharing", "follow", "facebook", "twitter"),
    ("related", "recommended", "popular", "trending", "more", "recent", "similar", "suggested"),
    ("ad", "ads", "advert", "advertisement", "sponsor", "sponsored", "promo", "banner-ad", "dfp"),
    ("cookie", "consent", "gdpr", "popup", "modal", "overlay", "newsletter", "subscribe", "signup"),
    ("login", "signin", "search", "account", "cart", "skip", "hidden", "sr", "visually"),
    ("author", "byline", "meta", "tags", "tag", "date", "time", "published", "category", "categories"),
    ("pagination", "pager", "paging", "next", "prev", "previous"),
    ("content", "main", "body", "article", "post", "entry", "story", "text", "prose", "blog"),
    ("product", "description", "detail", "details", "price", "specs", "features", "review", "reviews"),
    ("thread", "message", "forum", "topic", "answer", "question", "post-body", "postbody", "bbcode"),
    ("doc", "docs", "documentation", "markdown", "rst", "wiki", "mw", "section", "highlight"),
    ("card", "item", "teaser", "list", "grid", "tile", "listing", "results", "feed"),
    ("title", "headline", "heading", "h1", "name"),
    ("caption", "credit", "figure", "image", "img", "photo", "gallery", "thumb", "thumbnail"),
    ("btn", "button", "cta", "link", "links", "icon"),
)
_WORD_BIT = {w: 1 << i for i, group in enumerate(_WORD_GROUPS) for w in group}
_N_WORD_BITS = len(_WORD_GROUPS)
_CLASS_WORDS = re.compile(r"[a-z]+")

_BLOCK_TAG_IDS = {
    t: i
    for i, t in enumerate(
        [
            "p",
            "div",
            "li",
            "td",
            "th",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "dd",
            "dt",
            "pre",
            "blockquote",
            "br",
            "span",
        ]
    )
}
_N_BLOCK_TAGS = len(_BLOCK_TAG_IDS) + 1  # + "other"

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?。！？](?:\s|$)")
_DIGIT = re.compile(r"\d")
# Words of short boilerplate lines ("All rights reserved", "Sign up", "Read more").
_BOILERPLATE_WORDS = frozenset(
    [
        "copyright",
        "rights",
        "reserved",
        "privacy",
        "policy",
        "terms",
        "cookie",
        "cookies",
        "subscribe",
        "sign",
        "login",
        "log",
        "share",
        "follow",
        "read",
        "more",
        "posted",
        "comment",
        "comments",
        "newsletter",
        "skip",
        "menu",
    ]
)


@dataclass
class Block:
    """One run of text between block boundaries, with its place in the page."""

    text: str
    tag: str
    bits: int  # container bits | word-group bits << 16 of all ancestors
    near_bits: int  # word-group bits of the nearest ancestor that has a class or id
    depth: int
    link_chars: int
    ancestors: tuple[int, ...]  # ids of open block-level elements, outermost first
    heading: int  # 1..6 inside <hN>, else 0
    path: int  # hash of the tag and class path to its block element: equal for repeated structures


@dataclass
class Page:
    """A page's blocks, and the text each block-level element holds (for container features)."""

    blocks: list[Block] = field(default_factory=list)
    element_chars: list[int] = field(default_factory=list)  # by element id
    element_link_chars: list[int] = field(default_factory=list)
    element_blocks: list[int] = field(default_factory=list)
    title: str = ""
    kinds: int = 0  # page-kind bits from og:type, JSON-LD @type and the generator <meta>


# What the page says it is (og:type, JSON-LD @type, forum software in <meta name="generator">): the
# gold main content of a product or forum page holds more than an article's does.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("article", re.compile(r"article|newsarticle|blogposting|report|review", re.I)),
    ("product", re.compile(r"product|offer|aggregaterating|book|softwareapplication", re.I)),
    (
        "forum",
        re.compile(
            r"discussionforumposting|qapage|question|answer|comment|"
            r"discourse|vbulletin|phpbb|xenforo|flarum|invision|mybb|nodebb",
            re.I,
        ),
    ),
    ("listing", re.compile(r"itemlist|collectionpage|searchresultspage|listitem|offercatalog", re.I)),
    (
        "docs",
        re.compile(
            r"techarticle|apireference|howto|faqpage|sphinx|mkdocs|docusaurus|"
            r"gitbook|hugo|jekyll|mediawiki|readthedocs",
            re.I,
        ),
    ),
    (
        "website",
        re.compile(
            r"website|webpage|organization|localbusiness|service|aboutpage|"
            r"contactpage",
            re.I,
        ),
    ),
)
_LD_TYPE = re.compile(r'"@type"\s*:\s*\[?\s*"([^"]+)"')


def _kind_bits(value: str) -> int:
    """Page-kind bits of one og:type / @type / generator value."""
    bits = 0
    for k, (_, pattern) in enumerate(_KINDS):
        if pattern.search(value):
            bits |= 1 << k
    return bits


def _word_bits(value: str, cache: dict[str, int]) -> int:
    """Word-group bits of a class or id value (pages repeat the same few values: cached per page)."""
    bits = cache.get(value)
    if bits is None:
        bits = 0
        for word in _CLASS_WORDS.findall(value.lower()):
            bits |= _WORD_BIT.get(word, 0)
        cache[value] = bits
    return bits


_PARSER = etree.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, huge_tree=True
)


def parse(html: str) -> etree._Element | None:
    """The document element of ``html``, or ``None`` when libxml2 finds no document in it."""
    try:
        return etree.fromstring(html.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None


def _page_kinds(root: etree._Element) -> int:
    bits = 0
    for meta in root.iterfind(".//meta"):
        name = (meta.get("property") or meta.get("name") or "").lower()
        if name in ("og:type", "generator"):
            bits |= _kind_bits(meta.get("content") or "")
    for script in root.iterfind(".//script[@type='application/ld+json']"):
        for value in _LD_TYPE.findall(script.text or ""):
            bits |= _kind_bits(value)
    return bits


_LINK_BIT = CONTAINER_BITS["a"]


def segment(root: etree._Element) -> Page:
    """Walk the tree once and cut its visible text into blocks.

    Text and link characters are added to the innermost open block element, and each element's
    totals to its parent's when it ends, so the walk is linear in the page's size.
    """
    page = Page()
    title = root.find(".//title")
    if title is not None and title.text:
        page.title = _WS.sub(" ", title.text).strip()
    page.kinds = _page_kinds(root)
    blocks = page.blocks
    chars_of, links_of, blocks_of = page.element_chars, page.element_link_chars, page.element_blocks
    class_cache: dict[str, int] = {}
    pieces: list[str] = []
    link_chars = 0
    # Open elements: (bits, near_bits, heading, is-block, path hash); open block elements: id, tag, path.
    stack: list[tuple[int, int, int, bool, int]] = [(0, 0, 0, False, 0)]
    open_blocks: list[tuple[int, str, int]] = [(-1, "", 0)]
    ancestors: tuple[int, ...] = ()

    def flush() -> None:
        nonlocal link_chars
        text = " ".join("".join(pieces).split())
        pieces.clear()
        if text:
            bits, near, heading, _, _ = stack[-1]
            element, tag, path = open_blocks[-1]
            n = len(text)
            links = min(link_chars, n)
            if element >= 0:
                chars_of[element] += n
                links_of[element] += links
                blocks_of[element] += 1
            blocks.append(Block(text, tag, bits, near, len(stack), links, ancestors, heading, path))
        link_chars = 0

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if event == "start":
            if tag in SKIP_TAGS:
                walker.skip_subtree()
                stack.append((0, 0, 0, False, -1))  # popped at its end event; text never read
                continue
            parent_bits, parent_near, parent_heading, _, parent_path = stack[-1]
            words = 0
            klass = el.get("class")
            if klass:
                words = _word_bits(klass, class_cache)
            ident = el.get("id")
            if ident:
                words |= _word_bits(ident, class_cache)
            bits = parent_bits | CONTAINER_BITS.get(tag, 0) | (words << _N_CONTAINER_BITS)
            near = words or parent_near
            heading = int(tag[1]) if tag in HEADINGS else parent_heading
            path = hash((parent_path, tag, klass))
            is_block = tag in BLOCK_TAGS
            if is_block:
                if pieces:
                    flush()
                element = len(chars_of)
                chars_of.append(0)
                links_of.append(0)
                blocks_of.append(0)
                open_blocks.append((element, tag, path))
                ancestors = (*ancestors, element)
            stack.append((bits, near, heading, is_block, path))
            text = el.text
            if text:
                pieces.append(text)
                if bits & _LINK_BIT:
                    link_chars += len(text.strip())
        else:
            if stack[-1][3]:
                if pieces:
                    flush()  # before the pop: the block's text belongs to this element
                element = open_blocks.pop()[0]
                ancestors = ancestors[:-1]
                parent = open_blocks[-1][0]
                if parent >= 0:
                    chars_of[parent] += chars_of[element]
                    links_of[parent] += links_of[element]
                    blocks_of[parent] += blocks_of[element]
            skipped = stack.pop()[4] == -1
            if skipped or tag == "img":
                pieces.append(" ")
            tail = el.tail
            if tail:
                pieces.append(tail)
                if stack[-1][0] & _LINK_BIT:
                    link_chars += len(tail.strip())
    if pieces:
        flush()
    return page


# Names of the columns block_features returns, in order (the model file records them too).
FEATURE_NAMES: list[str] = (
    [
        "log_chars",
        "log_words",
        "link_density",
        "mean_word_len",
        "punct_ratio",
        "digit_ratio",
        "upper_start",
        "ends_sentence",
        "sentences",
        "boilerplate_words",
        "position",
        "depth",
        "heading",
        "repeated",
        "same_path_log",
        "in_title",
        "parent_share",
        "grandparent_share",
        "parent_link_density",
        "parent_blocks_log",
        "best_container",
        "best_share",
        "page_link_density",
        "page_blocks_log",
        "page_chars_log",
        "page_li_share",
    ]
    + [f"kind_{k}" for k, _ in _KINDS]
    + [f"container_{t}" for t in list(CONTAINER_BITS)[:_N_CONTAINER_BITS]]
    + [f"class_{g[0]}" for g in _WORD_GROUPS]
    + [f"near_{g[0]}" for g in _WORD_GROUPS]
    + [f"tag_{t}" for t in _BLOCK_TAG_IDS]
    + ["tag_other"]
)


def _best_container(page: Page, total: int) -> int:
    """The element that holds the most non-link text, discounted for holding everything: a
    readability-style guess at the main content's box (-1 when the page has no text)."""
    best, best_score = -1, 0.0
    for i, chars in enumerate(page.element_chars):
        plain = chars - page.element_link_chars[i]
        if plain <= 0:
            continue
        share = plain / total
        score = share * (1.0 - 0.5 * share) / math.log2(2 + page.element_blocks[i])
        if score > best_score:
            best, best_score = i, score
    return best


_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_BITS_COL = _COL[f"container_{next(iter(CONTAINER_BITS))}"]
_WORDS_COL = _COL[f"class_{_WORD_GROUPS[0][0]}"]
_NEAR_COL = _COL[f"near_{_WORD_GROUPS[0][0]}"]
_TAG_COL = _COL["tag_p"]
_KIND_COL = _COL[f"kind_{_KINDS[0][0]}"]
_ALL_BITS = np.arange(_N_CONTAINER_BITS + _N_WORD_BITS, dtype=np.int64)
_NEAR_BITS = np.arange(_N_WORD_BITS, dtype=np.int64)


def block_features(page: Page) -> np.ndarray:
    """One row of :data:`FEATURE_NAMES` per block (float32)."""
    blocks = page.blocks
    n = len(blocks)
    out = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float32)
    if not n:
        return out
    c = _COL
    total = sum(len(b.text) for b in blocks) or 1
    best = _best_container(page, total)
    text_count: dict[str, int] = {}
    path_count: dict[int, int] = {}
    for b in blocks:
        text_count[b.text] = text_count.get(b.text, 0) + 1
        path_count[b.path] = path_count.get(b.path, 0) + 1
    title = page.title.lower()
    chars_of, links_of, blocks_of = page.element_chars, page.element_link_chars, page.element_blocks
    for i, b in enumerate(blocks):
        text = b.text
        chars = len(text)
        words = _WORD.findall(text)
        n_words = len(words)
        word_chars = sum(map(len, words))
        row = out[i]
        row[c["log_chars"]] = math.log1p(chars)
        row[c["log_words"]] = math.log1p(n_words)
        row[c["link_density"]] = b.link_chars / chars
        row[c["mean_word_len"]] = word_chars / n_words if n_words else 0.0
        row[c["punct_ratio"]] = (chars - word_chars - text.count(" ")) / chars
        row[c["digit_ratio"]] = len(_DIGIT.findall(text)) / chars
        row[c["upper_start"]] = text[0].isupper()
        row[c["ends_sentence"]] = text[-1] in ".!?。！？:\"'”"
        row[c["sentences"]] = math.log1p(len(_SENTENCE_END.findall(text)))
        row[c["boilerplate_words"]] = chars < 200 and (
            "©" in text or any(w.lower() in _BOILERPLATE_WORDS for w in words)
        )
        row[c["position"]] = i / n
        row[c["depth"]] = min(b.depth, 60) / 60.0
        row[c["heading"]] = (7 - b.heading) / 6.0 if b.heading else 0.0
        row[c["repeated"]] = text_count[text] > 1
        row[c["same_path_log"]] = math.log(path_count[b.path])
        row[c["in_title"]] = bool(title) and chars > 10 and text.lower() in title
        ids = b.ancestors
        if ids:
            parent = ids[-1]
            row[c["parent_share"]] = chars_of[parent] / total
            row[c["grandparent_share"]] = chars_of[ids[-2]] / total if len(ids) > 1 else 1.0
            row[c["parent_link_density"]] = links_of[parent] / max(chars_of[parent], 1)
            row[c["parent_blocks_log"]] = math.log1p(blocks_of[parent])
            row[c["best_container"]] = best in ids
        row[_TAG_COL + _BLOCK_TAG_IDS.get(b.tag, _N_BLOCK_TAGS - 1)] = 1.0
    bits = np.array([b.bits for b in blocks], dtype=np.int64)
    out[:, _BITS_COL : _BITS_COL + len(_ALL_BITS)] = (bits[:, None] >> _ALL_BITS) & 1
    near = np.array([b.near_bits for b in blocks], dtype=np.int64)
    out[:, _NEAR_COL : _NEAR_COL + _N_WORD_BITS] = (near[:, None] >> _NEAR_BITS) & 1
    out[:, c["best_share"]] = chars_of[best] / total if best >= 0 else 0.0
    out[:, c["page_link_density"]] = sum(b.link_chars for b in blocks) / total
    out[:, c["page_blocks_log"]] = math.log1p(n)
    out[:, c["page_chars_log"]] = math.log1p(total)
    li = CONTAINER_BITS["li"]
    out[:, c["page_li_share"]] = sum(len(b.text) for b in blocks if b.bits & li) / total
    for k in range(len(_KINDS)):
        out[:, _KIND_COL + k] = page.kinds >> k & 1
    return out
