"""Word block lists (LDNOOBW format): drop documents dense in listed words, per language.

One Aho-Corasick automaton per set of lists scans the normalised text once, whatever the number of
entries. How an entry matches depends on its script, because word boundaries do not exist everywhere:

- entries with Han, Hiragana, Katakana, Thai, Lao, Khmer or Myanmar characters (scripts written without
  spaces) match as substrings;
- entries with Hangul match at the start of a word only (Korean writes particles onto the word's end);
- all other entries match whole words: the characters just outside the match must not be letters,
  digits, marks or '_' of a spaced script (a CJK neighbour counts as a boundary, so "sm" is found in
  "smです"; the zh entry "13." is not found in "13.5").

Text and entries are both normalised the same way: NFKC, lowercase, whitespace runs to one space (so a
multi-word entry matches across line breaks). Overlapping matches are resolved leftmost-longest, so
"他妈的" counts once, not also as "他妈".
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from typing import Any, Literal

import ahocorasick
import regex
from pydantic import Field, model_validator

from pipeline import bundle
from pipeline.schema import Document
from pipeline.step import ConfigPath, DocumentStep, StageConfig

BUNDLED_LISTS = bundle.data_dir() / "blocklists" / "ldnoobw"
"""The LDNOOBW lists shipped with winnow (CC-BY-4.0, licence beside them)."""

_NOT_A_LIST = {"LICENSE", "README", "NOTICE", "USERS"}

_NO_SPACE = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")
_HANGUL = regex.compile(r"\p{Hangul}")
_CJK_CHAR = r"\p{Han}\p{Hiragana}\p{Katakana}"
# Words for the hit ratio: each Han/kana character is one word (CJK has no spaces), otherwise runs of
# word characters. Thai/Lao/Khmer runs count as one word per space-separated run (an undercount).
_WORD = regex.compile(rf"[{_CJK_CHAR}]|[\w--[{_CJK_CHAR}]]+", regex.V1)

Mode = Literal["word", "prefix", "substring"]

DEFAULT_EXCLUDE = ("グロ", "女の子")

DEFAULT_ALIASES: dict[str, list[str]] = {
    "fr": ["fr", "fr-CA-u-sd-caqc"],
    "tl": ["fil"],
    "nb": ["no"],
    "nn": ["no"],
}


def normalize(text: str) -> str:
    """NFKC, lowercase, whitespace runs to single spaces: the form both text and entries are matched in."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.lower().split())


def entry_mode(entry: str) -> Mode:
    """How a (normalised) entry matches, from its script."""
    if _NO_SPACE.search(entry):
        return "substring"
    if _HANGUL.search(entry):
        return "prefix"
    return "word"


def _is_word_char(c: str) -> bool:
    """A character that glues to a spaced-script word (so a match next to it is not a whole word)."""
    if c.isalnum():
        return not _NO_SPACE.match(c)
    return c == "_" or c in "\u200c\u200d" or unicodedata.category(c)[0] == "M"


def read_list(path: str | os.PathLike[str]) -> list[str]:
    """Entries of an LDNOOBW-format file: one per line, blank lines and '#' comments skipped."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def available_lists(folder: str | os.PathLike[str]) -> list[str]:
    """Language codes of the list files in a folder (file name = code), sorted."""
    names = []
    for name in os.listdir(folder):
        stem = name.split(".")[0]
        if name.startswith(".") or stem.upper() in _NOT_A_LIST or name.endswith(".md"):
            continue
        if os.path.isfile(os.path.join(folder, name)):
            names.append(name)
    return sorted(names)


class WordMatcher:
    """Multi-pattern matcher over normalised text: counts non-overlapping hits with boundary rules."""

    def __init__(self, entries: Iterable[str], min_substring_chars: int = 1) -> None:
        self.automaton = ahocorasick.Automaton()
        count = 0
        for raw in entries:
            term = normalize(raw)
            if entry_mode(term) == "substring" and len(term) < min_substring_chars:
                continue
            if term and term not in self.automaton:
                self.automaton.add_word(term, (term, entry_mode(term)))
                count += 1
        self.size = count
        if count:
            self.automaton.make_automaton()

    def find(self, text: str) -> list[str]:
        """Matched terms in order of position (normalised text), leftmost-longest, non-overlapping."""
        if not self.size or not text:
            return []
        n = len(text)
        spans: list[tuple[int, int, str]] = []
        for end, (term, mode) in self.automaton.iter(text):
            start = end - len(term) + 1
            if mode != "substring" and start > 0 and _is_word_char(text[start - 1]):
                continue
            if mode == "word" and end + 1 < n and _is_word_char(text[end + 1]):
                continue
            spans.append((start, -end, term))
        spans.sort()
        found: list[str] = []
        last_end = -1
        for start, neg_end, term in spans:
            if start > last_end:
                found.append(term)
                last_end = -neg_end
        return found


def count_words(text: str) -> int:
    """Words for the hit ratio (CJK characters count one each)."""
    return sum(1 for _ in _WORD.finditer(text))


class WordBlocklistFilter(DocumentStep):
    """Drop documents whose block-list hits reach a count and/or a ratio to words."""

    def __init__(self, config: WordBlocklistConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.folder = config.lists_dir or str(BUNDLED_LISTS)
        self._lists: dict[str, list[str]] = {}
        self._matchers: dict[tuple[str, ...], WordMatcher] = {}
        self._ready = False

    def __getstate__(self) -> dict[str, Any]:
        # Matchers are rebuilt per actor in setup(); only the config travels.
        state = self.__dict__.copy()
        state["_lists"] = {}
        state["_matchers"] = {}
        state["_ready"] = False
        return state

    def setup(self) -> None:
        if self._ready:
            return
        if not os.path.isdir(self.folder):
            raise FileNotFoundError(f"{self.name}: block-list folder not found: {self.folder}")
        have = available_lists(self.folder)
        wanted = self.config.languages if self.config.languages is not None else have
        missing = [lang for lang in [*wanted, *self.config.fallback_languages] if lang not in have]
        if missing:
            raise FileNotFoundError(
                f"{self.name}: no block list for {missing} in {self.folder} (have: {', '.join(have)})"
            )
        for lang in sorted({*wanted, *self.config.fallback_languages}):
            self._lists[lang] = [*read_list(os.path.join(self.folder, lang)), *self.config.extra_words]
        self._ready = True

    def lists_for(self, doc: Document) -> tuple[str, ...]:
        """The lists to apply: by the language stage's label when present, else the fallback languages."""
        label = doc.attributes.get(self.config.language_attribute)
        lang = label.get("lang") if isinstance(label, dict) else None
        if lang is None:
            return tuple(self.config.fallback_languages)
        names = self.config.language_aliases.get(lang, [lang])
        return tuple(sorted(n for n in names if n in self._lists))

    def matcher(self, names: tuple[str, ...]) -> WordMatcher:
        m = self._matchers.get(names)
        if m is None:
            exclude = {normalize(w) for w in self.config.exclude_words}
            entries = (e for name in names for e in self._lists[name] if normalize(e) not in exclude)
            m = WordMatcher(entries, self.config.min_substring_chars)
            self._matchers[names] = m
        return m

    def process(self, doc: Document) -> str | None:
        if not self._ready:
            self.setup()
        names = self.lists_for(doc)
        if not names:
            self.count("no_list_for_language")
            doc.attributes[self.name] = {"lists": [], "hits": 0, "ratio": 0.0, "terms": []}
            return None
        text = normalize(doc.text)
        found = self.matcher(names).find(text)
        hits = len(found)
        ratio = hits / max(1, count_words(text)) if hits else 0.0
        terms = list(dict.fromkeys(found))[: self.config.max_terms]
        doc.attributes[self.name] = {
            "lists": list(names),
            "hits": hits,
            "ratio": round(ratio, 5),
            "terms": terms,
        }
        cfg = self.config
        if hits == 0:
            return None
        enough_hits = cfg.min_hits is None or hits >= cfg.min_hits
        dense_enough = cfg.min_ratio is None or ratio >= cfg.min_ratio
        if enough_hits and dense_enough:
            return "blocklist_words"
        return None


class WordBlocklistConfig(StageConfig):
    """LDNOOBW-format word block lists per language, with a hit-count and/or hit-ratio threshold."""

    type: Literal["word_blocklist"]
    lists_dir: ConfigPath | None = Field(
        None,
        description="Folder of list files named by language code (LDNOOBW layout). Default: the LDNOOBW "
        "lists bundled under data/blocklists/ldnoobw.",
    )
    languages: list[str] | None = Field(
        None, description="List files to load (language codes). Default: every list in the folder."
    )
    fallback_languages: list[str] = Field(
        default_factory=lambda: ["en"],
        description="Lists applied to documents with no language label from the language stage.",
    )
    language_attribute: str = Field(
        "language", description="Stage name whose attributes hold the document's 'lang' label."
    )
    language_aliases: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ALIASES.items()},
        description="Model label -> list names, e.g. lid.176's 'tl' -> LDNOOBW's 'fil'. Labels not listed "
        "use the list of the same name; a label with no list is not checked (counted no_list_for_language).",
    )
    extra_words: list[str] = Field(default_factory=list, description="Entries added to every loaded list.")
    exclude_words: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="Entries removed from every list. Default: ja 'グロ' and '女の子', which C4 also allows "
        "because as substrings they flag over 10% of Japanese pages.",
    )
    min_substring_chars: int = Field(
        2,
        ge=1,
        description="Skip substring (CJK/Thai) entries shorter than this: one-character entries such as "
        "zh '性' or '乳' occur inside ordinary words (性能, 乳业) and would flag clean text.",
    )
    min_hits: int | None = Field(3, ge=1, description="Drop when hits >= this (None: no count condition).")
    min_ratio: float | None = Field(
        0.005, gt=0.0, le=1.0, description="Drop when hits / words >= this (None: no ratio condition)."
    )
    max_terms: int = Field(5, ge=0, description="Record at most this many distinct matched terms.")

    @model_validator(mode="after")
    def _one_threshold(self) -> WordBlocklistConfig:
        if self.min_hits is None and self.min_ratio is None:
            raise ValueError("set min_hits and/or min_ratio (a single hit is not a good reason to drop)")
        return self

    def build(self) -> WordBlocklistFilter:
        return WordBlocklistFilter(self)
