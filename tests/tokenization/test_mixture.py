"""Mixture sampling: pure, order-independent, and budgets met exactly at document granularity."""

from __future__ import annotations

import numpy as np

from tokenization import mixture


def _corpus(n: int = 5000, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = [f"doc-{i:06d}" for i in range(n)]
    return ids, rng.integers(20, 2000, size=n).astype(np.int64)


def test_fate_is_a_pure_function_of_seed_source_and_id():
    plan, bounds = mixture.Plan.from_epochs(0.5), mixture.split_bounds({"train": 0.9, "valid": 0.1})
    a = [mixture.fate(7, "web", f"d{i}", plan, bounds) for i in range(200)]
    b = [mixture.fate(7, "web", f"d{i}", plan, bounds) for i in reversed(range(200))][::-1]
    assert a == b
    assert a != [mixture.fate(8, "web", f"d{i}", plan, bounds) for i in range(200)]
    assert a != [mixture.fate(7, "code", f"d{i}", plan, bounds) for i in range(200)]


def test_hash_is_stable_across_releases():
    # blake2b-64 of "0\x00web\x00d1": a frozen value, so a year-old config selects the same documents.
    assert mixture.doc_hash(0, "web", "d1") == 8835151254011254547


def test_epochs_down_and_up_sampling():
    ids, _ = _corpus()
    h = mixture.doc_hashes(1, "web", ids)
    half = mixture.Plan.from_epochs(0.5).copies(h)
    assert set(half.tolist()) == {0, 1}
    assert abs(half.mean() - 0.5) < 0.03
    up = mixture.Plan.from_epochs(2.25).copies(h)
    assert set(up.tolist()) == {2, 3}
    assert abs(up.mean() - 2.25) < 0.03
    assert mixture.Plan.from_epochs(1.0).copies(h).tolist() == [1] * len(ids)
    # the documents kept at 0.25 are a subset of those kept at 0.5: growing a budget only adds
    quarter = mixture.Plan.from_epochs(0.25).copies(h)
    assert np.all(half[quarter > 0] == 1)


def test_splits_follow_the_fractions_and_copies_share_a_split():
    ids, _ = _corpus()
    h = mixture.doc_hashes(3, "web", ids)
    s = mixture.splits_of(h, mixture.split_bounds({"train": 0.8, "valid": 0.15, "test": 0.05}))
    frac = np.bincount(s, minlength=3) / len(ids)
    assert np.allclose(frac, [0.8, 0.15, 0.05], atol=0.02)
    assert mixture.splits_of(h, mixture.split_bounds({"train": 1.0})).tolist() == [0] * len(ids)


def _budget(total: int, budget: int, h: np.ndarray, lengths: np.ndarray, pieces: int):
    def stream():
        yield from zip(np.array_split(h, pieces), np.array_split(lengths, pieces), strict=True)

    return mixture.budget_plan(total, budget, stream(), stream())


def test_token_budget_is_met_within_one_document():
    ids, lengths = _corpus()
    h = mixture.doc_hashes(5, "web", ids)
    total = int(lengths.sum())
    for budget in (1000, total // 3, total - 5, total, 2 * total + 12345):
        plan, selected = _budget(total, budget, h, lengths, 4)
        copies = plan.copies(h)
        written = int((copies * lengths).sum())
        assert written == selected
        assert written >= budget
        if plan.threshold:
            # dropping the last document admitted (largest selection value below the threshold) misses
            frac = (copies > plan.whole)
            u = mixture.selection_values(h)
            last = np.argmax(np.where(frac, u, -1))
            assert written - lengths[last] < budget


def test_token_budget_does_not_depend_on_how_the_source_is_split_into_shards():
    ids, lengths = _corpus()
    h = mixture.doc_hashes(5, "web", ids)
    total = int(lengths.sum())
    results = {_budget(total, total // 2, h, lengths, pieces) for pieces in (1, 3, 17)}
    assert len(results) == 1
    perm = np.random.default_rng(0).permutation(len(ids))
    assert _budget(total, total // 2, h[perm], lengths[perm], 5) in results
