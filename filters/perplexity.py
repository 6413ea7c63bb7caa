"""Perplexity (metric) filter: score documents with a real KenLM n-gram model, CCNet-style.

Why: a language model trained on "good" reference text (Wikipedia-like) gives low perplexity to fluent
prose and high perplexity to boilerplate, keyword spam and machine-garbled text. CCNet (Wenzek et al.
2020) normalises each line, scores it with KenLM, and aggregates per document weighted by line length:
``pp = 10 ** (-sum(log10 p(line)) / sum(tokens + 1))``. Documents are then kept by a threshold or put
in head/middle/tail buckets by perplexity percentiles computed per language.

The normalisation (`TextNormalizer`) is shared with `winnow train-lm` (filters/kenlm_train.py): a model
only gives meaningful scores on text prepared exactly as its training text was. `train-lm` writes a
`<model>.meta.json` beside the model; the filter refuses a model whose recorded normalisation differs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import regex
from pydantic import Field, model_validator

from pipeline.schema import Document
from pipeline.step import ConfigPath, DocumentStep, StageConfig

NORMALIZATION_VERSION = 1
"""Bump when `TextNormalizer` output changes, so old models are detected rather than silently mis-scored."""

BUCKETS = ("head", "middle", "tail")
Bucket = Literal["head", "middle", "tail"]
Punctuation = Literal["normalize", "remove", "keep"]

# Typographic and full-width punctuation mapped to the ASCII that carries the same meaning, so
# "“quoted”", "\"quoted\"" and "«quoted»" are one n-gram history rather than three.
_PUNCT_MAP = {
    "，": ",", "、": ",", "。": ".", "．": ".", "・": ".", "·": ".", "‧": ".",
    "：": ":", "；": ";", "？": "?", "！": "!", "¿": "?", "¡": "!",
    "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "＂": '"', "″": '"',
    "「": '"', "」": '"', "『": '"', "』": '"', "《": '"', "》": '"', "〈": '"', "〉": '"',
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "‹": "'", "›": "'", "＇": "'", "′": "'", "´": "'", "`": "'",
    "（": "(", "）": ")", "［": "[", "］": "]", "｛": "{", "｝": "}",
    "【": "[", "】": "]", "〔": "[", "〕": "]",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-", "－": "-", "•": "-", "‣": "-",
    "…": "...", "～": "~", "〜": "~", "％": "%", "＆": "&", "＃": "#", "＊": "*", "／": "/", "＼": "\\",
    "＠": "@", "＋": "+", "＝": "=", "＜": "<", "＞": ">", "｜": "|", "＿": "_", "＄": "$",
}  # fmt: skip
_PUNCT_TABLE = str.maketrans(_PUNCT_MAP)
_CONTROL = regex.compile(r"\p{Cc}")
_FORMAT = regex.compile(r"\p{Cf}")  # zero-width spaces/joiners, soft hyphens, BOMs: invisible, dropped
_MARKS = regex.compile(r"\p{Mn}")
_DIGITS = regex.compile(r"\d")
_PUNCT_ALL = regex.compile(r"\p{P}")
# Built-in word split when no tokenizer is given: runs of letters/digits/marks are words; every
# punctuation or symbol character is its own token; Han/Kana characters are one token each (those
# scripts have no spaces, so a "word" would otherwise be a whole clause).
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
_WORDS = regex.compile(rf"[{_CJK}]|[\p{{P}}\p{{S}}]|[^\s\p{{P}}\p{{S}}{_CJK}]+")
# KenLM reserves these; lmplz refuses a corpus containing them.
_RESERVED = {"<s>": "<_s>", "</s>": "</_s>", "<unk>": "<_unk>"}


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class TextNormalizer:
    """CCNet-style line normalisation plus pre-tokenisation; identical for training and scoring.

    `tokenizer` is None (built-in word split), an HF `tokenizer.json`, or a SentencePiece `.model`
    (needs the optional `sentencepiece` package). The tokenizer is loaded on first use, so the object
    pickles cheaply to Ray workers.
    """

    lowercase: bool = True
    strip_accents: bool = True
    digits: bool = True
    punctuation: Punctuation = "normalize"
    tokenizer: str | None = None

    def describe(self) -> dict[str, Any]:
        """What a model's meta file records, and what the filter compares it with."""
        return {
            "version": NORMALIZATION_VERSION,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "digits": self.digits,
            "punctuation": self.punctuation,
            "tokenizer_sha256": sha256_file(self.tokenizer) if self.tokenizer else None,
        }

    def normalize(self, line: str) -> str:
        """One line of text, normalised; whitespace collapsed; "" when nothing is left."""
        line = _FORMAT.sub("", _CONTROL.sub(" ", line))
        if self.lowercase:
            line = line.lower()
        if self.strip_accents and not line.isascii():
            line = unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", line)))
        if self.digits:
            line = _DIGITS.sub("0", line)
        if self.punctuation == "normalize":
            line = line.translate(_PUNCT_TABLE)
        elif self.punctuation == "remove":
            line = _PUNCT_ALL.sub(" ", line)
        return " ".join(line.split())

    def tokenize_lines(self, lines: Sequence[str]) -> list[list[str]]:
        """Split already-normalised lines into tokens, batched (HF tokenizers are faster on batches)."""
        tok = self._tokenizer()
        if tok is None:
            out = [_WORDS.findall(line) for line in lines]
        elif hasattr(tok, "encode_batch"):
            out = [enc.tokens for enc in tok.encode_batch(list(lines), add_special_tokens=False)]
        else:
            out = [tok.encode(line, out_type=str) for line in lines]
        # A token must be one KenLM word: no inner whitespace, not a reserved symbol.
        return [[_RESERVED.get(t, t).replace(" ", "▁") for t in toks if t.strip()] for toks in out]

    def lines(self, text: str) -> Iterator[list[str]]:
        """Token lists of the document's non-empty lines, in order."""
        normed = [n for n in (self.normalize(line) for line in text.split("\n")) if n]
        for toks in self.tokenize_lines(normed):
            if toks:
                yield toks

    def _tokenizer(self) -> Any:
        if self.tokenizer is None:
            return None
        cached = _TOKENIZERS.get(self.tokenizer)
        if cached is None:
            cached = _TOKENIZERS[self.tokenizer] = load_tokenizer(self.tokenizer)
        return cached


_TOKENIZERS: dict[str, Any] = {}


def load_tokenizer(path: str) -> Any:
    """An HF `tokenizers` tokenizer.json, or a SentencePiece model (optional dependency)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer file not found: {path}")
    if path.endswith(".json"):
        from tokenizers import Tokenizer

        return Tokenizer.from_file(path)
    try:
        import sentencepiece
    except ImportError as e:
        raise ImportError(
            f"{path} is not a tokenizer.json, so it is read as a SentencePiece model, which needs the "
            "optional package: pip install sentencepiece"
        ) from e
    return sentencepiece.SentencePieceProcessor(model_file=path)


def load_model(path: str) -> Any:
    """KenLM's own loader: ARPA or binary, chosen by KenLM from the file itself."""
    import kenlm

    if not os.path.isfile(path):
        raise FileNotFoundError(f"KenLM model not found: {path}")
    return kenlm.Model(path)


def meta_path(model_path: str) -> str:
    return model_path + ".meta.json"


def check_model_normalization(model_path: str, normalizer: TextNormalizer) -> None:
    """Refuse a model trained on text prepared differently (its scores would be meaningless)."""
    mp = meta_path(model_path)
    if not os.path.isfile(mp):
        return
    with open(mp, encoding="utf-8") as f:
        trained = json.load(f).get("normalization", {})
    wanted = normalizer.describe()
    diff = {k: (trained.get(k), v) for k, v in wanted.items() if trained.get(k) != v}
    if diff:
        detail = ", ".join(f"{k}: model={a!r} filter={b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(
            f"{model_path} was trained on text normalised differently from this filter's settings "
            f"({detail}); use the same settings as `winnow train-lm` recorded in {mp}"
        )


@dataclass(frozen=True)
class Score:
    """Sum of log10 probabilities and of predicted tokens (words + </s> per line) over a document."""

    log10_prob: float
    tokens: int
    lines: int

    @property
    def perplexity(self) -> float:
        return 10.0 ** (-self.log10_prob / self.tokens) if self.tokens else math.nan


def score_text(model: Any, normalizer: TextNormalizer, text: str) -> Score:
    """CCNet aggregation: summing log-probs and token counts over lines = a length-weighted mean."""
    logp, tokens, lines = 0.0, 0, 0
    for toks in normalizer.lines(text):
        logp += model.score(" ".join(toks), bos=True, eos=True)
        tokens += len(toks) + 1
        lines += 1
    return Score(logp, tokens, lines)


def percentile_cutoffs(values: Sequence[float], percentiles: Sequence[float]) -> list[float]:
    """Nearest-rank percentiles (deterministic, no interpolation), rounded as the filter records them."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        raise ValueError("no scored documents to compute perplexity percentiles from")
    out = []
    for p in percentiles:
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        out.append(round(ordered[min(rank, len(ordered)) - 1], 2))
    return out


class PerplexityFilter(DocumentStep):
    """Scores each document with its language's KenLM model; keeps by threshold and/or bucket."""

    def __init__(self, config: PerplexityFilterConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self._normalizers = {lang: self._normalizer(lang) for lang in config.models}
        for lang, path in config.models.items():
            if not os.path.isfile(path):
                raise FileNotFoundError(f"perplexity model for {lang!r} not found: {path}")
            check_model_normalization(path, self._normalizers[lang])
        self._models: dict[str, Any] = {}

    def _normalizer(self, lang: str) -> TextNormalizer:
        c = self.config
        return TextNormalizer(
            lowercase=c.lowercase,
            strip_accents=c.strip_accents,
            digits=c.digits,
            punctuation=c.punctuation,
            tokenizer=c.tokenizers.get(lang),
        )

    def __getstate__(self) -> dict[str, Any]:
        # Loaded models stay out of pickles: each Ray worker loads its own in setup().
        state = self.__dict__.copy()
        state["_models"] = {}
        return state

    def setup(self) -> None:
        if not self._models:
            self._models = {lang: load_model(path) for lang, path in self.config.models.items()}

    def _language(self, doc: Document) -> str | None:
        attr = doc.attributes.get(self.config.language_attribute)
        lang = attr.get("lang") if isinstance(attr, dict) else None
        return lang if isinstance(lang, str) and lang else self.config.default_language

    def process(self, doc: Document) -> str | None:
        if not self._models:
            self.setup()
        lang = self._language(doc)
        if lang is None or lang not in self._models:
            label = "no_language" if lang is None else "no_model"
            doc.attributes[self.name] = {"label": label, "lang": lang}
            self.count(label)
            return None
        score = score_text(self._models[lang], self._normalizers[lang], doc.text)
        if not score.tokens:
            doc.attributes[self.name] = {"label": "empty", "lang": lang}
            self.count("empty")
            return None
        pp = round(score.perplexity, 2)
        attrs: dict[str, Any] = {"perplexity": pp, "lang": lang, "lines": score.lines, "tokens": score.tokens}
        doc.attributes[self.name] = attrs
        self.count("scored")
        cut = self.config.buckets.get(lang)
        if cut is not None:
            bucket = "head" if pp < cut[0] else "middle" if pp < cut[1] else "tail"
            attrs["bucket"] = bucket
            self.count(f"bucket_{bucket}")
            if bucket not in self.config.keep_buckets:
                return f"perplexity_bucket_{bucket}"
        limit = self.config.max_perplexity_for(lang)
        if limit is not None and pp > limit:
            return "perplexity_too_high"
        return None


class PerplexityFilterConfig(StageConfig):
    """YAML: `{type: perplexity, models: {en: models/en.binary}, max_perplexity: 1000}`."""

    type: Literal["perplexity"] = "perplexity"
    models: dict[str, ConfigPath] = Field(
        description="Language code -> KenLM model (ARPA or binary, e.g. from `winnow train-lm`). Documents "
        "in other languages pass through labelled `no_model`.",
        min_length=1,
    )
    tokenizers: dict[str, ConfigPath] = Field(
        default_factory=dict,
        description="Language code -> pre-tokenizer used when the model was trained: an HF tokenizer.json "
        "or a SentencePiece .model (optional package). Languages not listed use the built-in word split.",
    )
    max_perplexity: float | dict[str, float] | None = Field(
        default=None,
        description="Drop documents above this perplexity (`perplexity_too_high`); one number for every "
        "language or a per-language map (languages not in the map have no threshold).",
    )
    buckets: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="Language code -> [p33, p66] perplexity cut-offs (CCNet buckets): below the first is "
        "`head`, below the second `middle`, else `tail`. `winnow train-lm --bucket-sample` prints them.",
    )
    keep_buckets: list[Bucket] = Field(
        default_factory=lambda: list(BUCKETS),
        description="Buckets kept; others are dropped with reason `perplexity_bucket_<name>`. The default "
        "keeps all three (annotate only).",
    )
    language_attribute: str = Field(
        default="language",
        description="Name of the language stage whose `lang` attribute picks the model.",
    )
    default_language: str | None = Field(
        default=None,
        description="Language assumed for documents without a language attribute (e.g. `en` when no "
        "language stage runs); if unset they pass through labelled `no_language`.",
    )
    lowercase: bool = Field(default=True, description="Lowercase before scoring (CCNet).")
    strip_accents: bool = Field(default=True, description="Remove combining accents (CCNet).")
    digits: bool = Field(default=True, description="Replace every digit with 0 (CCNet).")
    punctuation: Punctuation = Field(
        default="normalize",
        description="`normalize` maps typographic/full-width punctuation to ASCII (CCNet); `remove` drops "
        "all punctuation; `keep` leaves it.",
    )

    @model_validator(mode="after")
    def _check(self) -> PerplexityFilterConfig:
        for what, keys in (("tokenizers", self.tokenizers), ("buckets", self.buckets)):
            extra = sorted(set(keys) - set(self.models))
            if extra:
                raise ValueError(f"{what} given for languages without a model: {extra}")
        if isinstance(self.max_perplexity, dict):
            extra = sorted(set(self.max_perplexity) - set(self.models))
            if extra:
                raise ValueError(f"max_perplexity given for languages without a model: {extra}")
        mp = self.max_perplexity
        limits = mp.values() if isinstance(mp, dict) else [mp]
        if any(v is not None and v <= 0 for v in limits):
            raise ValueError("max_perplexity must be > 0")
        for lang, (lo, hi) in self.buckets.items():
            if not 0 < lo <= hi:
                raise ValueError(f"buckets[{lang}] must be two increasing positive cut-offs, got {[lo, hi]}")
        if not self.keep_buckets:
            raise ValueError("keep_buckets must keep at least one bucket")
        return self

    def max_perplexity_for(self, lang: str) -> float | None:
        if isinstance(self.max_perplexity, dict):
            return self.max_perplexity.get(lang)
        return self.max_perplexity

    def check_files(self) -> list[str]:
        from filters.model_files import kenlm_problem

        problems = super().check_files()
        return problems or [p for p in map(kenlm_problem, self.models.values()) if p]

    def build(self) -> PerplexityFilter:
        return PerplexityFilter(self)
