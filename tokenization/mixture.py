"""Mixture sampling: each document's fate is a pure function of (seed, source, document id, plan).

A document gets one 64-bit hash of (seed, source, id). Its low 32 bits decide selection, its high 32
bits decide the split, so no RNG stream, worker count or file order can change the outcome:
- `epochs: x` keeps floor(x) whole copies of every document, plus one more copy of those whose
  selection value is below frac(x) * 2**32 (x < 1 is downsampling, x > 1 upsampling);
- `tokens: N` (a budget) is the same rule with the threshold computed from the source's tokens: the
  smallest threshold whose selected documents reach N tokens. It is found by a streamed two-level
  histogram of tokens over the selection value (65,536 buckets each), so it is exact at document
  granularity and needs constant memory however many documents the source has;
- the split is train / valid / test by the high 32 bits against the configured fractions; every copy
  of a document lands in the same split, so upsampling never leaks a document into evaluation.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SPLITS = ("train", "valid", "test")
FULL = 1 << 32


def doc_hash(seed: int, source: str, doc_id: str) -> int:
    """The document's 64-bit key (blake2b: stable across Python versions and machines)."""
    data = f"{seed}\x00{source}\x00{doc_id}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def doc_hashes(seed: int, source: str, doc_ids: Iterable[str]) -> np.ndarray:
    return np.fromiter((doc_hash(seed, source, i) for i in doc_ids), dtype=np.uint64)


def selection_values(hashes: np.ndarray) -> np.ndarray:
    return (hashes & np.uint64(0xFFFFFFFF)).astype(np.int64)


def split_values(hashes: np.ndarray) -> np.ndarray:
    return (hashes >> np.uint64(32)).astype(np.int64)


@dataclass(frozen=True)
class Plan:
    """How one source is sampled: `whole` copies of everything, one more for selection value < threshold."""

    whole: int = 1
    threshold: int = 0  # in [0, 2**32]

    @classmethod
    def from_epochs(cls, epochs: float) -> Plan:
        whole = math.floor(epochs)
        return cls(whole, round((epochs - whole) * FULL))

    def copies(self, hashes: np.ndarray) -> np.ndarray:
        return self.whole + (selection_values(hashes) < self.threshold).astype(np.int64)

    @property
    def max_copies(self) -> int:
        return self.whole + (1 if self.threshold > 0 else 0)


def split_bounds(fractions: dict[str, float]) -> tuple[int, int]:
    """Upper bounds (exclusive, in 2**32 units) of train and valid; the rest is test."""
    total = sum(fractions.get(s, 0.0) for s in SPLITS)
    if total <= 0:
        raise ValueError("split fractions must sum to more than 0")
    train = round(fractions.get("train", 0.0) / total * FULL)
    valid = train + round(fractions.get("valid", 0.0) / total * FULL)
    return train, min(valid, FULL)


def splits_of(hashes: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    """0 = train, 1 = valid, 2 = test, per document."""
    v = split_values(hashes)
    return (v >= bounds[0]).astype(np.int8) + (v >= bounds[1]).astype(np.int8)


def fate(seed: int, source: str, doc_id: str, plan: Plan, bounds: tuple[int, int]) -> tuple[int, str]:
    """(copies, split) of one document: the scalar form of what the tokenize stage does in bulk."""
    h = np.array([doc_hash(seed, source, doc_id)], dtype=np.uint64)
    return int(plan.copies(h)[0]), SPLITS[int(splits_of(h, bounds)[0])]


class TokenHistogram:
    """Tokens per bucket of the selection value; level 0 buckets by the top 16 bits, level 1 refines one."""

    BUCKETS = 1 << 16

    def __init__(self, level: int = 0, bucket: int = 0) -> None:
        self.level, self.bucket = level, bucket
        self.tokens = np.zeros(self.BUCKETS, dtype=np.int64)

    def add(self, hashes: np.ndarray, lengths: np.ndarray) -> None:
        u = selection_values(hashes)
        w = np.asarray(lengths, dtype=np.int64)
        if self.level == 0:
            self.tokens += np.bincount(u >> 16, weights=w, minlength=self.BUCKETS).astype(np.int64)
        else:
            m = (u >> 16) == self.bucket
            self.tokens += np.bincount(u[m] & 0xFFFF, weights=w[m], minlength=self.BUCKETS).astype(np.int64)


def locate(hist: TokenHistogram, need: int) -> tuple[int, int]:
    """(bucket, tokens before it) for the bucket where the running total first reaches `need` (> 0)."""
    cum = np.cumsum(hist.tokens)
    b = int(np.searchsorted(cum, need, side="left"))
    if b >= hist.BUCKETS:
        return hist.BUCKETS, int(cum[-1])
    return b, int(cum[b] - hist.tokens[b])


def budget_plan(
    total_tokens: int, budget: int, histograms: Iterable[tuple[np.ndarray, np.ndarray]], refine: Iterable
) -> tuple[Plan, int]:
    """Plan meeting a token budget. `histograms` and `refine` stream (hashes, lengths) over the source twice.

    Returns the plan and the tokens it selects (>= budget, exceeding it by less than one document, or
    everything the source has when the budget is larger than whole copies can reach).
    """
    if total_tokens <= 0:
        return Plan(0, 0), 0
    whole = budget // total_tokens
    rem = budget - whole * total_tokens
    if rem == 0:
        return Plan(whole, 0), budget
    coarse = TokenHistogram()
    for h, ln in histograms:
        coarse.add(h, ln)
    b, before = locate(coarse, rem)
    fine = TokenHistogram(level=1, bucket=b)
    for h, ln in refine:
        fine.add(h, ln)
    s, before_fine = locate(fine, rem - before)
    threshold = (b << 16) + s + 1
    selected = before + before_fine + int(fine.tokens[s])
    return Plan(whole, threshold), whole * total_tokens + selected
