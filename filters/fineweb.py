"""FineWeb's custom quality rules (Penedo et al. 2024, "The FineWeb Datasets", section 3.4).

Three rules FineWeb added after Gopher and C4, plus its list-document rule, with its defaults:
- drop if fewer than 12% of non-blank lines end in terminal punctuation,
- drop if more than 67% of non-blank lines are 30 characters or shorter,
- drop if more than 1% of the characters (newlines excluded) are in lines that repeat an earlier line,
- drop if there are more than 0.3 newlines per word (list-like documents).

Terminal punctuation is Unicode's `Sentence_Terminal` property (`. ! ? 。 ！ ？ ։ ۔ ।` and ~150 more),
tested after stripping trailing spaces. Words come from `filters.text` (CJK: one per character).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from filters.gopher import duplicate_stats
from filters.text import SENTENCE_TERMINALS, view
from pipeline.schema import Document
from pipeline.step import DocumentStep, StageConfig


def _r(x: float) -> float:
    return round(x, 4)


class FineWebQualityConfig(StageConfig):
    """FineWeb's line-punctuation, short-line, duplicate-line-chars and list-ratio rules."""

    type: Literal["fineweb_quality"] = "fineweb_quality"
    min_line_punct_ratio: float | None = Field(
        0.12, description="Min fraction of non-blank lines ending in terminal punctuation."
    )
    line_punct_exclude_zero: bool = Field(
        False, description="Keep documents where no line ends in punctuation (ratio exactly 0)."
    )
    max_short_line_ratio: float | None = Field(0.67, description="Max fraction of short non-blank lines.")
    short_line_length: int = Field(30, description="A line of at most this many characters is short.")
    max_char_dup_ratio: float | None = Field(
        0.01, description="Max fraction of characters (newlines excluded) in lines repeating an earlier one."
    )
    max_newline_word_ratio: float | None = Field(0.3, description="Max newlines per word.")

    def build(self) -> FineWebQualityFilter:
        return FineWebQualityFilter(self)


class FineWebQualityFilter(DocumentStep):
    def __init__(self, config: FineWebQualityConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name

    def process(self, doc: Document) -> str | None:
        reason, stats = self.evaluate(doc.text)
        doc.attributes[self.name] = stats
        return reason

    def evaluate(self, text: str) -> tuple[str | None, dict[str, Any]]:
        c = self.config
        v = view(text)
        lines = v.nonblank_lines
        stats: dict[str, Any] = {"lines": len(lines)}
        if not lines:
            return "fineweb_empty_document", stats
        n = len(lines)

        if c.min_line_punct_ratio is not None:
            terminals = SENTENCE_TERMINALS
            ratio = sum(1 for line in lines if line.rstrip()[-1:] in terminals) / n
            stats["line_punct_ratio"] = _r(ratio)
            if ratio < c.min_line_punct_ratio and not (ratio == 0 and c.line_punct_exclude_zero):
                return "fineweb_line_punct_ratio", stats

        if c.max_short_line_ratio is not None:
            limit = c.short_line_length
            ratio = sum(1 for line in lines if len(line) <= limit) / n
            stats["short_line_ratio"] = _r(ratio)
            if ratio > c.max_short_line_ratio:
                return "fineweb_short_line_ratio", stats

        if c.max_char_dup_ratio is not None:
            chars = len(text) - text.count("\n")
            ratio = duplicate_stats(lines)[1] / chars if chars else 0.0
            stats["char_dup_ratio"] = _r(ratio)
            if ratio > c.max_char_dup_ratio:
                return "fineweb_char_dup_ratio", stats

        if c.max_newline_word_ratio is not None:
            n_words = v.n_words
            ratio = text.count("\n") / n_words if n_words else float("inf")
            stats["newline_word_ratio"] = _r(ratio) if n_words else None
            if ratio > c.max_newline_word_ratio:
                return "fineweb_list_ratio", stats
        return None, stats
