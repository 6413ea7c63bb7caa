"""Word, sentence and line splitting for the heuristic filters: regular expressions only, no spaCy.

The filters in `filters/gopher.py`, `filters/c4.py` and `filters/fineweb.py` count words, lines and
sentences. spaCy (what datatrove uses) costs ~20 ms per 4 KB document; one compiled regex pass costs
~0.2 ms, and a chain of filters shares one split per document through `view()`.

What a *word* is, per script (the rule `WORD_RE` implements):

- Spaced scripts (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari and other Indic scripts, Hangul,
  ...): a maximal run of letters, combining marks, digits and `_`. Kept inside a word: an apostrophe
  between letters (`O'Brien`, `l'homme`), a period before a letter (`U.S`, `example.com`),
  `/ : . ,` between digits (`9/11`, `10:30`, `3.5`, `1,000`). English clitics are their own words,
  as in spaCy and the Penn Treebank (`don't` -> `don` `'t`, `it's` -> `it` `'s`). A trailing period
  belongs to dotted abbreviations (`U.S.`, `e.g.`), single capital initials (`J.`) and common titles
  (`Mr.`, `Dr.`, `St.`). Hyphens split words (`e-mail` -> `e` `-` `mail`), as in spaCy. Korean is
  written with spaces between eojeol, so Hangul is a spaced script.
- URLs (`http://...`, `https://...`, `www....`) are one word each.
- Han (Chinese characters, Japanese kanji), Hiragana and Katakana (incl. half-width): **each character
  is one word**. These scripts have no spaces; without a dictionary segmenter a whole sentence would
  otherwise be one "word" and "at least 50 words" would drop every Chinese document. One character
  per word over-counts relative to a segmenter like jieba (Chinese words average ~1.5 characters),
  which errs on the side of keeping documents. The mean word length of CJK text is then 1, so the
  Gopher mean-word-length rule is computed over non-CJK words only (see `filters/gopher.py`).
- Thai, Lao, Khmer, Myanmar (no spaces, no per-character rule): a run between spaces/punctuation is one
  word, so these scripts are under-counted. Use the filters on them only with adjusted thresholds.
- Punctuation and symbols are not words. They are *symbol tokens* (a run of periods counts once,
  every other mark counts once each), counted in `TextView.n_symbol_tokens`.

A *line* is what `str.splitlines()` returns; a *paragraph* is a block separated by 2+ newlines.
A *sentence* ends at `.`, `!`, `?`, `…` (optionally followed by closing quotes/brackets) followed by
whitespace, unless the period ends a title, a dotted abbreviation or a single capital initial
(`Mr.`, `e.g.`, `J. Smith`); or at a CJK full stop `。！？` (no space needed).

Speed: character classes (letters, marks, digits, CJK) are generated once at import from the `regex`
module's Unicode properties (BMP code points exactly; outside the BMP, U+10000-U+1F0FF count as word
characters, emoji and pictographs as symbols, U+20000-U+3FFFF as CJK) and compiled with the standard
`re` engine, which runs these patterns ~3x faster than `regex`. The `regex` module is used directly
where its features are needed (variable-length look-behind for sentence ends, `Sentence_Terminal`).
The shared `view()` and the C4 line cache are one-entry, module-level caches: one per worker process,
used by one thread (as in a Ray actor).
"""

from __future__ import annotations

import re
from functools import cached_property

import regex

_PLANES = range(0x40000)  # BMP, SMP, SIP, TIP: every assigned letter, mark and digit
_BMP = range(0x10000)


def _char_class(prop: str, points: range = _BMP) -> str:
    """A character class body (ranges) of the code points in `points` matching a `regex` pattern.

    Classes are limited to the BMP by default: the `re` engine tests BMP classes with one table
    look-up but scans non-BMP ranges one by one, which made word splitting 10x slower. Outside the
    BMP the classes below use three coarse ranges instead (see `_SMP_WORD`, `_CJK`).
    """
    matcher = regex.compile(prop, regex.V1)
    text = "".join(map(chr, points))
    codes = [ord(c) for c in matcher.findall(text)]
    ranges: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = re.escape(chr(codes[i])), re.escape(chr(codes[j]))
        ranges.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(ranges)


_SMP_WORD = "\U00010000-\U0001f0ff"  # historic scripts, math letters: word characters
_CJK_PROP = r"[\p{Han}\p{Hiragana}\p{Katakana}\u30fc\uff70]"
_CJK = _char_class(_CJK_PROP) + "\U00020000-\U0003ffff"  # + CJK extensions B-H (all Han)
_W = "[" + _char_class(rf"[[\p{{L}}\p{{M}}\p{{N}}_]--{_CJK_PROP}]") + _SMP_WORD + "]"
_L = "[" + _char_class(rf"[\p{{L}}--{_CJK_PROP}]") + _SMP_WORD + "]"
_LU = "[" + _char_class(r"\p{Lu}") + "]"
_TITLES = (
    "Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Ft|Gen|Gov|Sen|Rep|Rev|Capt|Col|Lt|Sgt|vs|etc|approx|dept|est|"
    "Inc|Ltd|Corp|Co|No|Nos|Vol|pp|Fig|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_CLITIC = "(?:[sSmMdDtT]|re|RE|ve|VE|ll|LL)"

_WORD_ALTERNATIVES = rf"""
    (?:https?://|www\.)[^\s<>"'`(){{}}\[\]]*[^\s<>"'`(){{}}\[\].,;:!?]   # URL
    | (?:{_L}\.){{2,}}(?!{_W})                                       # U.S.  D.C.  e.g.  a.m.
    | (?=[^\W\d_]{{1,5}}\.)(?:{_LU}|{_TITLES})\.(?!{_W})             # initials, Mr.  Dr.  St.
    | ['’]{_CLITIC}(?!{_W})                                         # 's 're 've 'll 'm 'd 't
    | \d+(?:[/:.,]\d+)+                                              # 9/11  10:30  3.5  1,000
    | {_W}+(?:(?:['’](?!{_CLITIC}(?!{_W}))|\.(?={_L}))+{_W}+)*      # word
    | [{_CJK}]                                                       # CJK: one character, one word
"""
WORD_RE = re.compile(_WORD_ALTERNATIVES, re.VERBOSE)
"""One word per match; see the module docstring for the rule per script."""

_TOKEN_GROUPED_RE = re.compile(rf"\s*(?:({_WORD_ALTERNATIVES}) | \.{{2,}} | \S)", re.VERBOSE)
"""Group 1 is a word; a match outside it is a symbol token (findall gives '' for it). The leading
whitespace run is skipped in one step instead of trying every alternative at each space (~25% faster)."""

TOKEN_RE = re.compile(rf"{_WORD_ALTERNATIVES} | \.{{2,}} | \S", re.VERBOSE)
"""Words and symbol tokens, in text order."""

CJK_RE = re.compile(f"[{_CJK}]")
NO_LETTER_WORD_RE = re.compile(r"^[^\n" + _char_class(r"\p{L}") + _SMP_WORD + _CJK + r"]+$", re.MULTILINE)
"""Matches a word without any letter, in words joined by newlines."""

_ABBREVIATIONS = _TITLES + r"|e\.g|i\.e|a\.m|p\.m|U\.S|U\.K|[A-Z]"
SENTENCE_END_RE = regex.compile(
    rf"""
    (?<!\b(?:{_ABBREVIATIONS}))(?:[.!?]+|…)["'”’)\]»]*\s+(?=\S)    # Latin-style end + space
    | [。！？]+[”’」』）)]*(?=\S)                                  # CJK full stop, no space needed
    """,
    regex.VERBOSE,
)
"""Matches the boundary after a sentence (not at the very end of the text)."""

_INLINE_SENTENCE_END_RE = regex.compile(
    SENTENCE_END_RE.pattern.replace(r"\s+(?=\S)", r"[^\S\n]+(?=\S)"), regex.VERBOSE
)
"""The same boundaries, except across a newline: counts sentences of many lines in one call."""

SENTENCE_TERMINALS = frozenset(regex.findall(r"\p{Sentence_Terminal}", "".join(map(chr, _PLANES))))
"""Unicode's Sentence_Terminal characters: . ! ? 。 ！ ？ । ۔ ։ and ~150 more."""

PARAGRAPH_SPLIT_RE = re.compile(r"\n{2,}")
LINE_RUN_SPLIT_RE = re.compile(r"\n+")


def words(text: str) -> list[str]:
    """The words of `text` (no punctuation tokens), per the rule in the module docstring."""
    return WORD_RE.findall(text)


def tokens(text: str) -> list[str]:
    """Words and symbol tokens in order (what spaCy-style tokenizers return)."""
    return TOKEN_RE.findall(text)


def count_sentences(text: str) -> int:
    """Number of sentences in `text` (0 for blank text)."""
    stripped = text.strip()
    if not stripped:
        return 0
    return 1 + len(SENTENCE_END_RE.findall(stripped))


def count_sentences_in_lines(lines: list[str]) -> int:
    """`sum(count_sentences(line) for line in lines)` for stripped non-empty lines, in one regex call."""
    return len(lines) + len(_INLINE_SENTENCE_END_RE.findall("\n".join(lines))) if lines else 0


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` with their end punctuation, stripped, without empty ones."""
    stripped = text.strip()
    out, start = [], 0
    for match in SENTENCE_END_RE.finditer(stripped):
        out.append(stripped[start : match.end()].strip())
        start = match.end()
    out.append(stripped[start:].strip())
    return [s for s in out if s]


def split_lines(text: str) -> list[str]:
    """Lines as `str.splitlines()` gives them (handles \\r\\n and Unicode line separators)."""
    return text.splitlines()


def split_paragraphs(text: str) -> list[str]:
    """Blocks separated by two or more newlines (after stripping the text)."""
    return PARAGRAPH_SPLIT_RE.split(text.strip())


class TextView:
    """Lazily computed splits of one text, shared by every filter of a chain via `view()`.

    Each property is computed on first use only, so a filter that drops early pays for nothing more.
    """

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def _tokens(self) -> list[str]:
        return _TOKEN_GROUPED_RE.findall(self.text)

    @cached_property
    def words(self) -> list[str]:
        return list(filter(None, self._tokens))

    @cached_property
    def n_words(self) -> int:
        return len(self.words)

    @cached_property
    def n_symbol_tokens(self) -> int:
        """Punctuation/symbol tokens (a run of periods counts once); words are not included."""
        return self._tokens.count("")

    @cached_property
    def nonblank_lines(self) -> list[str]:
        return [line for line in self.text.split("\n") if line and not line.isspace()]

    @cached_property
    def n_cjk_words(self) -> int:
        return len(CJK_RE.findall(self.text))

    @cached_property
    def n_no_letter_words(self) -> int:
        return len(NO_LETTER_WORD_RE.findall("\n".join(self.words)))


_last: TextView | None = None


def known_word_count(text: str) -> int | None:
    """The word count of `text` if the current view already split it, else None (never splits)."""
    cached = _last
    if cached is not None and cached.text is text and "words" in cached.__dict__:
        return cached.n_words
    return None


def seed_word_count(text: str, n_words: int) -> None:
    """Make `text` the current view, with a word count a transform derived without re-splitting.

    Words never span a line break, so a transform that only drops whole lines knows the new count
    from the old one minus the words of the dropped lines (see `filters/c4.py`); a later filter that
    needs only the count (FineWeb's list ratio) then skips a full split.
    """
    view(text).__dict__["n_words"] = n_words


def view(text: str) -> TextView:
    """The `TextView` of `text`, reused while the same string object flows through a filter chain.

    The cache holds one entry and is keyed on object identity: a transform that rewrites `doc.text`
    creates a new string, so the next filter gets a fresh view. Holding the reference keeps the id from
    being reused, so identity is safe.
    """
    global _last
    cached = _last
    if cached is not None and cached.text is text:
        return cached
    cached = _last = TextView(text)
    return cached
