"""winnow's own main-content extractor: every text block of a page scored by a model trained on WCXB.

The page is cut into blocks (:mod:`pipeline.readers.blocks`), each block becomes a row of layout and
text features, and a gradient-boosted tree model (LightGBM, shipped in this package as
``main_content_model.txt.gz``) gives each block the probability that a person would call it the
page's main content. Blocks at or above the model's threshold are kept, in page order, headings and
paragraphs separated by blank lines, list items and table rows by one newline.

The model was trained by ``winnow train-extractor`` on the WCXB development split (1,497 real pages of
seven types, CC-BY-4.0); its cross-validated scores, grouped by domain, are in
``docs/extractors.md``. Prediction is deterministic (one thread, no randomness) and needs no network.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.readers import blocks as blk

MODEL_PATH = Path(__file__).with_name("main_content_model.txt.gz")
MIN_FALLBACK_WORDS = 10

# Blocks inside these containers are one item of a list or table: a newline between two of them.
_ITEM_BITS = blk.CONTAINER_BITS["li"] | blk.CONTAINER_BITS["table"] | blk.CONTAINER_BITS["dl"]


@dataclass(frozen=True)
class BlockModel:
    """A LightGBM booster over :data:`blocks.FEATURE_NAMES` and the probability cut-off it was tuned at."""

    booster: object
    threshold: float
    feature_names: tuple[str, ...]

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Main-content probability of each row of ``features``."""
        if not len(features):
            return np.zeros(0)
        return self.booster.predict(features, num_threads=1)


def save_model(booster: object, threshold: float, path: Path) -> None:
    """Write a booster and its threshold as one gzipped LightGBM text model with a JSON header line."""
    header = json.dumps({"threshold": threshold, "feature_names": blk.FEATURE_NAMES})
    text = f"{header}\n{booster.model_to_string()}"
    # mtime=0: the same model gives the same file bytes.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(text.encode("utf-8"))


def load_model(path: Path = MODEL_PATH) -> BlockModel:
    """Read a model written by :func:`save_model`; refuse one trained on other features."""
    import lightgbm

    header, model_text = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n", 1)
    meta = json.loads(header)
    names = tuple(meta["feature_names"])
    if names != tuple(blk.FEATURE_NAMES):
        raise ValueError(
            f"{path}: trained on other block features than this winnow computes; retrain it with "
            "`winnow train-extractor`"
        )
    booster = lightgbm.Booster(model_str=model_text)
    return BlockModel(booster, float(meta["threshold"]), names)


_LOCK = threading.Lock()
_MODEL: BlockModel | None = None


def default_model() -> BlockModel:
    """The shipped model, loaded once per process (Ray workers run several readers in threads)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            _MODEL = load_model()
    return _MODEL


def render(blocks: list[blk.Block], keep: np.ndarray) -> str:
    """Kept blocks in page order: headings and paragraphs apart by a blank line, items by a newline."""
    parts: list[str] = []
    previous: blk.Block | None = None
    for block, kept in zip(blocks, keep.tolist(), strict=True):
        if not kept:
            continue
        if previous is not None:
            same_list = (
                block.bits & _ITEM_BITS
                and previous.bits & _ITEM_BITS
                and not block.heading
                and not previous.heading
            )
            parts.append("\n" if same_list else "\n\n")
        parts.append(block.text)
        previous = block
    return "".join(parts)


def extract_main_content(html: str, model: BlockModel | None = None) -> str:
    """Main-content text of ``html`` (already decoded); ``""`` when the page has none."""
    root = blk.parse(html)
    if root is None:
        return ""
    page = blk.segment(root)
    if not page.blocks:
        return ""
    model = model or default_model()
    scores = model.scores(blk.block_features(page))
    keep = scores >= model.threshold
    if not keep.any():
        # A page that is one short text (a stub, a bare <p>) scores low everywhere; keep its best
        # block when that block is prose, not a lone label.
        best = int(np.argmax(scores))
        if len(page.blocks[best].text.split()) >= MIN_FALLBACK_WORDS:
            keep[best] = True
    return render(page.blocks, keep)
