"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", appendix A1.1).

Defaults are the paper's published thresholds (table A1 for repetition). Every threshold can be set
from YAML; setting a threshold to null disables its rule. Each rule drops with its own reason and the
stats that decided it are recorded in `doc.attributes[<stage name>]`.

Words come from `filters.text` (regex, no spaCy; CJK one character per word). Where the paper is
silent, the definitions follow datatrove's implementation (which FineWeb was built with) so numbers
are comparable; the deliberate differences are listed in docs/heuristics.md. For documents whose
words are mostly CJK characters, the mean-word-length rule is skipped and n-gram lengths are scaled
by `cjk_ngram_scale` (default 2: a Chinese word is ~1.5-2 characters).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from itertools import accumulate
from typing import Any, Literal

from pydantic import Field

from filters.text import LINE_RUN_SPLIT_RE, PARAGRAPH_SPLIT_RE, view
from pipeline.schema import Document
from pipeline.step import DocumentStep, StageConfig

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
BULLETS = ("•", "-", "*", "‣", "◦", "●", "▪", "⁃")


def _r(x: float) -> float:
    return round(x, 4)


class GopherQualityConfig(StageConfig):
    """Gopher quality filters: length, word length, symbols, bullets, alphabetic words, stop words."""

    type: Literal["gopher_quality"] = "gopher_quality"
    min_words: int | None = Field(50, description="Drop documents with fewer words (CJK: one per character).")
    max_words: int | None = Field(100_000, description="Drop documents with more words.")
    min_mean_word_length: float | None = Field(
        3, description="Drop if the mean length of non-CJK words is below this (skipped if most are CJK)."
    )
    max_mean_word_length: float | None = Field(
        10, description="Drop if the mean non-CJK word length is above."
    )
    max_hash_ratio: float | None = Field(0.1, description="Max count of '#' per word.")
    max_ellipsis_ratio: float | None = Field(0.1, description="Max count of '...' or '…' per word.")
    max_bullet_lines_ratio: float | None = Field(
        0.9, description="Max fraction of non-blank lines starting with a bullet."
    )
    bullets: tuple[str, ...] = Field(
        BULLETS, description="Line prefixes (after spaces) that count as bullets."
    )
    max_ellipsis_lines_ratio: float | None = Field(
        0.3, description="Max fraction of non-blank lines ending with '...' or '…'."
    )
    min_alpha_words_ratio: float | None = Field(
        0.8, description="Min fraction of tokens (words + punctuation marks) containing a letter."
    )
    min_stop_words: int | None = Field(2, description="Min number of distinct stop words present.")
    stop_words: tuple[str, ...] = Field(
        GOPHER_STOP_WORDS,
        description="Stop words, matched case-insensitively on whole words (CJK: single characters).",
    )
    stop_words_by_language: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Stop words per language (the language stage's label, e.g. zh); documents of other "
        "languages use `stop_words`. English stop words would drop every non-English document.",
    )
    language_attribute: str = Field("language", description="Stage name whose 'lang' attribute is read.")

    def build(self) -> GopherQualityFilter:
        return GopherQualityFilter(self)


class GopherQualityFilter(DocumentStep):
    def __init__(self, config: GopherQualityConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.stop_words = frozenset(w.lower() for w in config.stop_words)
        self.stop_words_by_language = {
            lang: frozenset(w.lower() for w in words) for lang, words in config.stop_words_by_language.items()
        }

    def process(self, doc: Document) -> str | None:
        lang = (doc.attributes.get(self.config.language_attribute) or {}).get("lang")
        reason, stats = self.evaluate(doc.text, self.stop_words_by_language.get(lang, self.stop_words))
        doc.attributes[self.name] = stats
        return reason

    def evaluate(
        self, text: str, stop_words: frozenset[str] | None = None
    ) -> tuple[str | None, dict[str, Any]]:
        """(reason or None, stats); rules run in the paper's order and stop at the first failure."""
        c = self.config
        v = view(text)
        words = v.words
        n = len(words)
        stats: dict[str, Any] = {"words": n}
        if c.min_words is not None and n < c.min_words:
            return "gopher_short_document", stats
        if c.max_words is not None and n > c.max_words:
            return "gopher_long_document", stats
        if n == 0:  # only reachable with min_words: null; every ratio below is per word
            return "gopher_short_document", stats

        if c.min_mean_word_length is not None or c.max_mean_word_length is not None:
            total, count = sum(map(len, words)), n
            if v.n_cjk_words:  # one-character CJK words would pull the mean to 1: leave them out
                total, count = total - v.n_cjk_words, count - v.n_cjk_words
            # In mostly-CJK text the other words are numbers and Latin names: no signal, skip the rule.
            mean = total / count if count > 0 and 2 * v.n_cjk_words <= n else None
            stats["mean_word_length"] = None if mean is None else _r(mean)
            if mean is not None:
                if c.min_mean_word_length is not None and mean < c.min_mean_word_length:
                    return "gopher_short_mean_word_length", stats
                if c.max_mean_word_length is not None and mean > c.max_mean_word_length:
                    return "gopher_long_mean_word_length", stats

        if c.max_hash_ratio is not None:
            ratio = text.count("#") / n
            stats["hash_ratio"] = _r(ratio)
            if ratio > c.max_hash_ratio:
                return "gopher_hash_ratio", stats
        if c.max_ellipsis_ratio is not None:
            ratio = (text.count("...") + text.count("…")) / n
            stats["ellipsis_ratio"] = _r(ratio)
            if ratio > c.max_ellipsis_ratio:
                return "gopher_ellipsis_ratio", stats

        lines = v.nonblank_lines
        if c.max_bullet_lines_ratio is not None and lines:
            ratio = sum(1 for line in lines if line.lstrip().startswith(c.bullets)) / len(lines)
            stats["bullet_lines_ratio"] = _r(ratio)
            if ratio > c.max_bullet_lines_ratio:
                return "gopher_bullet_lines", stats
        if c.max_ellipsis_lines_ratio is not None and lines:
            ratio = sum(1 for line in lines if line.rstrip().endswith(("...", "…"))) / len(lines)
            stats["ellipsis_lines_ratio"] = _r(ratio)
            if ratio > c.max_ellipsis_lines_ratio:
                return "gopher_ellipsis_lines", stats

        if c.min_alpha_words_ratio is not None:
            ratio = (n - v.n_no_letter_words) / (n + v.n_symbol_tokens)
            stats["alpha_words_ratio"] = _r(ratio)
            if ratio < c.min_alpha_words_ratio:
                return "gopher_alpha_words", stats

        if c.min_stop_words is not None:
            found = (stop_words or self.stop_words).intersection(" ".join(words).lower().split())
            stats["stop_words"] = len(found)
            if len(found) < c.min_stop_words:
                return "gopher_stop_words", stats
        return None, stats


DEFAULT_TOP_NGRAMS = {2: 0.2, 3: 0.18, 4: 0.16}
DEFAULT_DUP_NGRAMS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


class GopherRepetitionConfig(StageConfig):
    """Gopher repetition removal: duplicate lines/paragraphs and repeated word n-grams (table A1)."""

    type: Literal["gopher_repetition"] = "gopher_repetition"
    max_dup_para_fraction: float | None = Field(
        0.3, description="Max fraction of paragraphs that repeat one."
    )
    max_dup_para_char_fraction: float | None = Field(
        0.2, description="Max fraction of chars in repeat paragraphs."
    )
    max_dup_line_fraction: float | None = Field(
        0.3, description="Max fraction of lines that repeat an earlier one."
    )
    max_dup_line_char_fraction: float | None = Field(
        0.2, description="Max fraction of chars in repeated lines."
    )
    top_ngram_max_fractions: dict[int, float] = Field(
        DEFAULT_TOP_NGRAMS, description="n -> max fraction of chars in the most frequent word n-gram."
    )
    dup_ngram_max_fractions: dict[int, float] = Field(
        DEFAULT_DUP_NGRAMS, description="n -> max fraction of chars in repeated word n-grams."
    )
    cjk_ngram_scale: float = Field(
        2.0,
        gt=0,
        description="In documents whose words are mostly CJK characters, n-gram lengths are multiplied "
        "by this (a Chinese word is ~1.5-2 characters); 1 uses the same n as for spaced scripts.",
    )

    def build(self) -> GopherRepetitionFilter:
        return GopherRepetitionFilter(self)


def duplicate_stats(items: list[str]) -> tuple[int, int]:
    """(number of items equal to an earlier one, their total characters)."""
    dup_n = dup_chars = 0
    for item, count in Counter(items).items():
        if count > 1:
            dup_n += count - 1
            dup_chars += len(item) * (count - 1)
    return dup_n, dup_chars


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(words[i:] for i in range(n)), strict=False))


def top_ngram(words: list[str], n: int) -> tuple[int, int]:
    """(characters of the most frequent n-gram, words joined by spaces, times its count; that count).

    Ties go to the n-gram seen first, as `Counter.most_common` does. (0, 0) without any n-gram.
    """
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    if not counts:
        return 0, 0
    top = max(counts.values())
    gram = next(g for g, c in counts.items() if c == top)
    return (sum(map(len, gram)) + n - 1) * top, top


def dup_ngram_chars(words: list[str], n: int, cum: list[int]) -> int:
    """Characters of word n-grams that repeat an earlier, non-overlapping occurrence (-1: no repeats).

    Scan left to right; an n-gram already seen counts its characters (words, no spaces) and the scan
    jumps past it, so overlapping repeats are not counted twice. Positions whose n-gram occurs once in
    the document cannot match, so only positions of repeated n-grams are visited (same result as the
    full scan, and clean documents cost one `Counter`). `cum` is the prefix sum of word lengths.
    -1 says no n-gram occurs twice, so no longer n-gram can either.
    """
    grams = _ngrams(words, n)
    counts = Counter(grams)
    if len(counts) == len(grams):
        return -1
    candidates = [i for i, g in enumerate(grams) if counts[g] > 1]
    seen: set[tuple[str, ...]] = set()
    total = 0
    j = 0
    while j < len(candidates):
        i = candidates[j]
        gram = grams[i]
        if gram in seen:
            total += cum[i + n] - cum[i]
            j = bisect_left(candidates, i + n, j + 1)
        else:
            seen.add(gram)
            j += 1
    return total


class GopherRepetitionFilter(DocumentStep):
    def __init__(self, config: GopherRepetitionConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.top = sorted(config.top_ngram_max_fractions.items())
        self.dup = sorted(config.dup_ngram_max_fractions.items())

    def process(self, doc: Document) -> str | None:
        reason, stats = self.evaluate(doc.text)
        doc.attributes[self.name] = stats
        return reason

    def evaluate(self, text: str) -> tuple[str | None, dict[str, Any]]:
        c = self.config
        stats: dict[str, Any] = {}
        if not text.strip():
            return "gopher_empty_document", stats
        size = len(text)

        paragraphs = PARAGRAPH_SPLIT_RE.split(text.strip())
        dup_n, dup_chars = duplicate_stats(paragraphs)
        stats["dup_para_fraction"] = _r(dup_n / len(paragraphs))
        stats["dup_para_char_fraction"] = _r(dup_chars / size)
        if c.max_dup_para_fraction is not None and dup_n / len(paragraphs) > c.max_dup_para_fraction:
            return "gopher_dup_para_fraction", stats
        if c.max_dup_para_char_fraction is not None and dup_chars / size > c.max_dup_para_char_fraction:
            return "gopher_dup_para_char_fraction", stats

        lines = LINE_RUN_SPLIT_RE.split(text)
        dup_n, dup_chars = duplicate_stats(lines)
        stats["dup_line_fraction"] = _r(dup_n / len(lines))
        stats["dup_line_char_fraction"] = _r(dup_chars / size)
        if c.max_dup_line_fraction is not None and dup_n / len(lines) > c.max_dup_line_fraction:
            return "gopher_dup_line_fraction", stats
        if c.max_dup_line_char_fraction is not None and dup_chars / size > c.max_dup_line_char_fraction:
            return "gopher_dup_line_char_fraction", stats

        v = view(text)
        words = v.words
        top, dup = self.top, self.dup
        if 2 * v.n_cjk_words > len(words) and c.cjk_ngram_scale != 1:
            scale = c.cjk_ngram_scale
            stats["ngram_scale"] = scale
            top = [(max(1, int(n * scale + 0.5)), limit) for n, limit in top]
            dup = [(max(1, int(n * scale + 0.5)), limit) for n, limit in dup]
        unique_from = float("inf")  # no n-gram of this length or longer occurs twice
        for n, limit in top:
            chars, count = top_ngram(words, n)
            if count <= 1:
                unique_from = min(unique_from, n)
            frac = chars / size
            stats[f"top_{n}_gram_char_fraction"] = _r(frac)
            if frac > limit:
                return f"gopher_top_{n}_gram", stats

        # A repeated n-gram implies a repeated (n-1)-gram (its prefix), so once some length has no
        # repeat, the duplicate fractions of longer n-grams are 0 without counting them.
        cum: list[int] = []
        for n, limit in dup:
            chars = 0
            if n < unique_from:
                cum = cum or [0, *accumulate(map(len, words))]
                chars = dup_ngram_chars(words, n, cum)
                if chars < 0:
                    unique_from, chars = n, 0
            frac = chars / size
            stats[f"dup_{n}_gram_char_fraction"] = _r(frac)
            if frac > limit:
                return f"gopher_dup_{n}_gram", stats
        return None, stats
