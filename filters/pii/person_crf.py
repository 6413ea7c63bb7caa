"""Person names by a small CRF, run only on candidate windows, to catch names the rules have no cue for.

The rules in `names.py` need a cue word or a name-list pattern; a linear-chain CRF (CRFsuite) scores
each token from its own shape and list membership *and* its neighbours, so it can tag
`Kónya, Becker and Vasquez` or `"...", says Joly.`. The model is trained by winnow itself on generated
sentences (``winnow train-pii-model``, `person_crf_train.py`) and ships as `person_crf.model`.

To stay fast it never sees most of the text: only windows around capitalised words (Latin script) or
listed Chinese surnames, with two tokens of context each side. Features are plain strings, so the
same function serves training and tagging.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from filters.pii.names import _CUE_LAST, _NEVER_NAME, _NOT_PERSON, _TITLES, Gazetteer, gazetteer
from filters.pii.spans import Span

MODEL_PATH = Path(__file__).with_name("person_crf.model")

_CJK = "\u4e00-\u9fff"
# CJK characters one token each; Latin words with inner apostrophes/hyphens; numbers; one symbol.
_TOKEN_RE = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+(?:['’\-][^\W\d_{_CJK}]+)*|\d+|[^\w\s]")
_SHAPE_TABLE: dict[int, str] = {}
CONTEXT = 2  # neighbours each side in the features, and context tokens added to each window
MAX_GAP = 3  # candidates at most this many tokens apart share a window ("Kónya, Becker and Vasquez")


Token = tuple[int, int, str]


def tokenize(text: str) -> list[Token]:
    """(start, end, text) of every token."""
    return [(m.start(), m.end(), m.group()) for m in _TOKEN_RE.finditer(text)]


def _shape(tok: str) -> str:
    """`Xx`, `X.`-like word shape with runs collapsed: `McDowell` -> `XxXx`, `42` -> `d`."""
    out = []
    for c in tok:
        s = "X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c
        if "\u4e00" <= c <= "\u9fff":
            s = "C"
        if not out or out[-1] != s:
            out.append(s)
    return "".join(out)[:6]


def _is_candidate(tok: str, g: Gazetteer) -> bool:
    c = tok[0]
    if "\u4e00" <= c <= "\u9fff":
        return c in g.zh_surnames
    return c.isupper() and tok.lower() not in _NEVER_NAME


@lru_cache(maxsize=1)
def _zh_given_chars() -> frozenset[str]:
    return frozenset("".join(gazetteer().zh_given))


def _base(tok: str, g: Gazetteer) -> list[str]:
    """Features of a token on its own: word, shape, affixes, list membership."""
    low = tok.lower()
    feats = ["w=" + low, "s=" + _shape(tok)]
    c = tok[0]
    if "\u4e00" <= c <= "\u9fff":
        if c in g.zh_surnames:
            feats.append("zS")
        if c in _zh_given_chars():
            feats.append("zG")
        return feats
    if len(tok) > 3 and tok.isalpha():
        feats += ["p3=" + low[:3], "x3=" + low[-3:], "x2=" + low[-2:]]
    if tok in g.first:
        feats.append("gF")
    if tok in g.last:
        feats.append("gL")
    if low in g.ambiguous:
        feats.append("gA")
    if low in _NEVER_NAME:
        feats.append("gN")
    if low in _NOT_PERSON:
        feats.append("gK")
    if low in _TITLES:
        feats.append("gT")
    if low in _CUE_LAST:
        feats.append("gC")
    return feats


_NEIGHBOUR_KEEP = ("w=", "s=", "g", "z")


_OFFSETS = (-2, -1, 1, 2)
# token -> (own features, its features as seen from each neighbour offset). Tokens repeat a lot
# (Chinese characters, function words), and this is most of the CRF's cost; cleared when large.
_FEATURE_CACHE: dict[str, tuple[list[str], tuple[list[str], ...]]] = {}


def _token_features(tok: str, g: Gazetteer) -> tuple[list[str], tuple[list[str], ...]]:
    hit = _FEATURE_CACHE.get(tok)
    if hit is None:
        base = _base(tok, g)
        near = [f for f in base if f.startswith(_NEIGHBOUR_KEEP)]
        # Seen from token i, this token at i+off carries the prefix `off`.
        hit = (base, tuple([f"{off}{f}" for f in near] for off in _OFFSETS))
        if len(_FEATURE_CACHE) > 200_000:
            _FEATURE_CACHE.clear()
        _FEATURE_CACHE[tok] = hit
    return hit


def features(tokens: list[str], g: Gazetteer) -> list[list[str]]:
    """Per-token feature lists: own features plus the neighbours' word, shape and list flags."""
    cached = [_token_features(t, g) for t in tokens]
    n = len(tokens)
    out = []
    for i in range(n):
        feats = ["b", *cached[i][0]]
        for k, off in enumerate(_OFFSETS):
            j = i + off
            if 0 <= j < n:
                feats += cached[j][1][k]
            else:
                feats.append(f"{off}EDGE")
        if i + 1 < n and "\u4e00" <= tokens[i][0] <= "\u9fff" and tokens[i] + tokens[i + 1] in g.zh_given:
            feats.append("zG2")  # a listed two-character given name starts at the next character
        if i > 0:  # word bigram with the previous token: "said Joly", "und Frau"
            feats.append(f"-1w|w={tokens[i - 1].lower()}|{tokens[i].lower()}")
        out.append(feats)
    return out


def windows(tokens: list[Token], g: Gazetteer) -> Iterator[tuple[int, int]]:
    """[start, end) token ranges around runs of candidates, with CONTEXT tokens on each side."""
    given = _zh_given_chars()
    n = len(tokens)
    cands = [
        i
        for i, (_, _, t) in enumerate(tokens)
        if _is_candidate(t, g)
        # A Chinese surname counts only before a character that is used in given names.
        and (t[0] < "\u4e00" or t[0] > "\u9fff" or (i + 1 < n and tokens[i + 1][2] in given))
    ]
    if not cands:
        return
    first = last = cands[0]
    for i in cands[1:]:
        if i - last <= MAX_GAP and i - first < 40:
            last = i
            continue
        yield max(0, first - CONTEXT), min(len(tokens), last + CONTEXT + 1)
        first = last = i
    yield max(0, first - CONTEXT), min(len(tokens), last + CONTEXT + 1)


_BREAK = frozenset('()[]{}"«»“”„:;|/')


def spans_from_labels(tokens: list[Token], labels: list[str]) -> list[Span]:
    """BIO labels (B-PER/I-PER/O) to character spans that start and end on a letter token."""
    groups: list[list[Token]] = []
    for tok, lab in zip(tokens, labels, strict=True):
        if tok[2] in _BREAK:  # "(UTC) Luis Martinez": a bracket or quote never sits inside a name
            lab = "O"
        if lab == "B-PER" or (lab == "I-PER" and not (groups and groups[-1])):
            groups.append([tok])
        elif lab == "I-PER":
            groups[-1].append(tok)
        elif groups and groups[-1]:
            groups.append([])
    spans = []
    for group in groups:
        letters = [i for i, (_, _, t) in enumerate(group) if t[0].isalpha()]
        if letters:
            spans.append(Span(group[letters[0]][0], group[letters[-1]][1], "person"))
    return spans


@lru_cache(maxsize=1)
def _tagger() -> Any:
    import pycrfsuite

    tagger = pycrfsuite.Tagger()
    tagger.open(str(MODEL_PATH))
    return tagger


# A Chinese "name" right before these is the start of a place or organisation: 清华大学, 张家界.
_ZH_NOT_PERSON = frozenset(
    [
        "大学",
        "学院",
        "中学",
        "小学",
        "公司",
        "银行",
        "集团",
        "医院",
        "路",
        "街",
        "市",
        "省",
        "县",
        "区",
        *"镇村山河湖寺站界",
    ]
)


def _listed(span: Span, win: list[Token], g: Gazetteer) -> bool:
    """A Latin-script span needs one word that is a listed, unambiguous name (`Cool`, `Gdańsk` are not)."""
    for s, _, t in win:
        if span.start <= s < span.end:
            if "\u4e00" <= t[0] <= "\u9fff":
                if span.end - span.start < 3:  # 安心, 公平, 国家: two characters are too often a word
                    return False
                after = [w for b, _, w in win if b >= span.end][:2]
                return not (after[:1] and (after[0] in _ZH_NOT_PERSON or "".join(after) in _ZH_NOT_PERSON))
            if len(t) > 1 and (t in g.first or t in g.last) and t.lower() not in g.ambiguous:
                return True
    return False


_CAP_RE = re.compile(r"[^\W\d_a-z\u4e00-\u9fff][^\W\d_\u4e00-\u9fff]+")
# Characters tokenised each side of a seed, enough for its window and context: Latin words are
# several characters a token, Chinese characters one.
REGION_MARGIN, ZH_REGION_MARGIN = 80, 10


@lru_cache(maxsize=1)
def _zh_seed_re() -> re.Pattern[str]:
    """A listed Chinese surname before a character used in given names: where a Chinese name can start."""
    g = gazetteer()
    surnames = sorted(g.zh_surnames, key=len, reverse=True)
    given = "".join(sorted(_zh_given_chars()))
    return re.compile(f"(?:{'|'.join(map(re.escape, surnames))})[{re.escape(given)}]")


def _regions(text: str, g: Gazetteer) -> list[tuple[int, int]]:
    """Merged character ranges around seeds: a listed, unambiguous name word or a Chinese name start.

    A CRF span must hold such a seed (see `_listed`), so text far from every seed is never tokenised.
    """
    seeds = [
        (m.start(), REGION_MARGIN)
        for m in _CAP_RE.finditer(text)
        if (m.group() in g.first or m.group() in g.last) and m.group().lower() not in g.ambiguous
    ]
    if _HAS_CJK.search(text) and not _KANA_HANGUL.search(text):  # Japanese/Korean: not Chinese names
        seeds += [(m.start(), ZH_REGION_MARGIN) for m in _zh_seed_re().finditer(text)]
        seeds.sort()
    out: list[tuple[int, int]] = []
    for i, margin in seeds:
        a, b = max(0, i - margin), i + margin
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


_HAS_CJK = re.compile(f"[{_CJK}]")
_KANA_HANGUL = re.compile("[\u3040-\u30ff\uac00-\ud7af]")


def find_persons_crf(text: str) -> list[Span]:
    """Person spans the CRF tags inside the candidate windows of `text`."""
    g = gazetteer()
    tagger = _tagger()
    spans: list[Span] = []
    for ra, rb in _regions(text, g):
        tokens = [(s + ra, e + ra, t) for s, e, t in tokenize(text[ra:rb])]
        for a, b in windows(tokens, g):
            win = tokens[a:b]
            labels = tagger.tag(features([t for _, _, t in win], g))
            if "B-PER" in labels or "I-PER" in labels:
                found = spans_from_labels(win, labels)
                spans += [s for s in found if _listed(s, win, g) and s not in spans]
    return spans
