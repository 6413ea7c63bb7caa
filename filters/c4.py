"""C4 heuristics (Raffel et al. 2020, section 2.2) as two named stages: a filter and a line transform.

C4's reference code (TFDS `c4_utils.clean_page`, and datatrove's `C4QualityFilter`) does two things
at once: it removes lines (no terminal punctuation, fewer than 3 words, "javascript", cookie/terms
notices, a word over 1000 characters) and it drops whole pages ("lorem ipsum", a curly bracket, fewer
than 5 sentences), judging pages on the lines it keeps. A winnow filter must not silently rewrite
text, so the two effects are split:

- `c4_quality` (filter): decides keep/drop exactly as C4 does, on the lines C4 would keep, and leaves
  the text untouched. It records how many lines C4 would remove.
- `c4_lines` (transform): removes those lines (and Wikipedia-style citation marks) and counts what it
  removed per rule, in the stage counters and in the document's attributes.

Use both (`c4_quality` then `c4_lines`) for C4 as published. Both use the same line rules, and both
orders give the same result: the lines `c4_lines` keeps all pass the line rules again.
"""

from __future__ import annotations

from typing import Any, Literal

import regex
from pydantic import Field

from filters.text import CJK_RE, count_sentences_in_lines, known_word_count, seed_word_count, words
from pipeline.schema import Document
from pipeline.step import DocumentStep, StageConfig

CITATION_RE = regex.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'", "。", "！", "？")
POLICY_PHRASES = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)


class _C4Rules(StageConfig):
    """Line rules shared by the filter and the transform."""

    end_punctuation: tuple[str, ...] = Field(
        C4_END_PUNCTUATION,
        description="Lines must end with one of these (C4: . ? ! \" '; CJK full stops added, see docs).",
    )
    drop_ellipsis_lines: bool = Field(True, description="Lines ending in '...' count as unterminated.")
    min_words_per_line: int = Field(3, description="Lines with fewer words are removed (0 disables).")
    max_word_length: int | None = Field(1000, description="Lines with a longer whitespace token are removed.")
    remove_citations: bool = Field(True, description="Strip [1], [edit], [citation needed] before judging.")
    javascript_lines: bool = Field(True, description="Remove lines mentioning 'javascript'.")
    policy_lines: bool = Field(True, description="Remove lines with cookie / terms-of-use notices.")
    policy_phrases: tuple[str, ...] = Field(POLICY_PHRASES, description="Lowercase phrases of policy lines.")


# Line verdict: (cleaned line, rule that removes it or None, has "lorem ipsum", has "{").
Verdict = tuple[str, str | None, bool, bool]

_RULE_FIELDS = tuple(_C4Rules.model_fields.keys() - StageConfig.model_fields.keys())
_cache: tuple[str, tuple, list[Verdict]] | None = None


def _rules_key(rules: _C4Rules) -> tuple:
    return tuple(getattr(rules, f) for f in sorted(_RULE_FIELDS))


def line_verdicts(rules: _C4Rules, text: str, key: tuple | None = None) -> list[Verdict]:
    """C4's verdict on every line of `text`, in order.

    Line rules, in C4's order: a whitespace token longer than `max_word_length`; (citations cut);
    no terminal punctuation or an ellipsis ending; fewer than `min_words_per_line` words; mentions
    "javascript"; a cookie/terms notice. The last entry of the previous call is reused when
    `c4_lines` runs right after `c4_quality` on the same text with the same rules.
    """
    global _cache
    key = key if key is not None else _rules_key(rules)
    cached = _cache
    if cached is not None and cached[0] is text and cached[1] == key:
        return cached[2]
    out: list[Verdict] = []
    limit = rules.max_word_length
    n_min = rules.min_words_per_line
    ends = rules.end_punctuation
    for raw in text.splitlines():
        line = raw.strip()
        if limit is not None and len(line) > limit and any(len(w) > limit for w in line.split()):
            out.append((line, "too_long_word", False, False))
            continue
        if rules.remove_citations and "[" in line:
            line = CITATION_RE.sub("", line)
        if not line.endswith(ends) or (rules.drop_ellipsis_lines and line.endswith("...")):
            out.append((line, "no_terminal_punctuation", False, False))
            continue
        # C4 counts whitespace-separated words; a line with CJK (no spaces) may pass on words() instead.
        if n_min and len(line.split()) < n_min and (not CJK_RE.search(line) or len(words(line)) < n_min):
            out.append((line, "too_few_words", False, False))
            continue
        low = line.lower()
        rule = None
        if rules.javascript_lines and "javascript" in low:
            rule = "javascript"
        elif rules.policy_lines and any(p in low for p in rules.policy_phrases):
            rule = "policy"
        out.append((line, rule, "lorem ipsum" in low, "{" in line))
    _cache = (text, key, out)
    return out


class C4QualityConfig(_C4Rules):
    """C4's page-level rules, judged on the lines C4 keeps. Never rewrites text (see `c4_lines`)."""

    type: Literal["c4_quality"] = "c4_quality"
    min_sentences: int | None = Field(5, description="Drop pages with fewer sentences in kept lines.")
    lorem_ipsum: bool = Field(True, description="Drop pages with 'lorem ipsum' in a kept line.")
    curly_bracket: bool = Field(True, description="Drop pages with '{' in a kept line.")

    def build(self) -> C4QualityFilter:
        return C4QualityFilter(self)


class C4QualityFilter(DocumentStep):
    def __init__(self, config: C4QualityConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.key = _rules_key(config)

    def process(self, doc: Document) -> str | None:
        reason, stats = self.evaluate(doc.text)
        doc.attributes[self.name] = stats
        return reason

    def evaluate(self, text: str) -> tuple[str | None, dict[str, Any]]:
        """Walk the lines as C4 does: page-level rules apply to lines that survive the line rules
        before them (a '{' in a line without end punctuation does not drop the page)."""
        c = self.config
        kept = removed = 0
        kept_lines: list[str] = []
        stats: dict[str, Any] = {}
        for line, rule, lorem, curly in line_verdicts(c, text, self.key):
            if rule is not None and rule != "javascript" and rule != "policy":
                removed += 1
                continue
            if lorem and c.lorem_ipsum:
                stats.update(lines_kept=kept, lines_removed=removed)
                return "c4_lorem_ipsum", stats
            if rule == "javascript":
                removed += 1
                continue
            if curly and c.curly_bracket:
                stats.update(lines_kept=kept, lines_removed=removed)
                return "c4_curly_bracket", stats
            if rule == "policy":
                removed += 1
                continue
            kept += 1
            kept_lines.append(line)
        sentences = count_sentences_in_lines(kept_lines)
        stats.update(lines_kept=kept, lines_removed=removed, sentences=sentences)
        if c.min_sentences is not None and sentences < c.min_sentences:
            return "c4_too_few_sentences", stats
        return None, stats


class C4LinesConfig(_C4Rules):
    """C4's line removal as an explicit transform: rewrites the text and counts what it removed."""

    type: Literal["c4_lines"] = "c4_lines"

    def build(self) -> C4LinesTransform:
        return C4LinesTransform(self)


class C4LinesTransform(DocumentStep):
    def __init__(self, config: C4LinesConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.key = _rules_key(config)

    def clean(self, text: str) -> tuple[str, dict[str, int]]:
        """(text with C4's kept lines joined by newlines, removed-line counts per rule)."""
        kept: list[str] = []
        removed: dict[str, int] = {}
        dropped: list[str] = []  # removed lines, and the original of lines a citation was cut from
        added: list[str] = []  # the kept version of those cut lines
        raws = text.splitlines()
        for raw, (line, rule, _, _) in zip(raws, line_verdicts(self.config, text, self.key), strict=True):
            if rule is None:
                kept.append(line)
                if "[" in raw and len(line) != len(raw.strip()):
                    dropped.append(raw)
                    added.append(line)
            else:
                removed[rule] = removed.get(rule, 0) + 1
                dropped.append(raw)
        new = "\n".join(kept).strip()
        before = known_word_count(text)
        if before is not None and new != text:
            n_words = before - len(words("\n".join(dropped))) + len(words("\n".join(added)))
            seed_word_count(new, n_words)
        return new, removed

    def process(self, doc: Document) -> str | None:
        new, removed = self.clean(doc.text)
        bytes_removed = len(doc.text.encode()) - len(new.encode())
        lines_removed = sum(removed.values())
        doc.attributes[self.name] = {
            "lines_removed": lines_removed,
            "bytes_removed": bytes_removed,
            "removed_by_rule": dict(sorted(removed.items())),
        }
        self.count("docs_changed", int(new != doc.text))
        self.count("lines_removed", lines_removed)
        self.count("bytes_removed", bytes_removed)
        for rule, n in removed.items():
            self.count(f"lines_removed_{rule}", n)
        if new != doc.text:
            doc.text = new
        if not new:
            return "c4_lines_empty"
        return None
