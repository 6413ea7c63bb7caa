"""Normalisation, shingling and signatures: pure functions, no Ray."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.keeper import id_of, sort_key
from dedup.lsh import MinHasher, band_hashes, estimated_jaccard, optimal_bands
from dedup.normalize import jaccard, normalize, shingle_set, tokens


def test_normalize_ignores_case_punctuation_and_width() -> None:
    assert normalize("Hello,   WORLD!!  ２０２４") == "hello world 2024"
    assert normalize("Page 3 of 12", digits=True) == "page 0 of 00"


def test_cjk_characters_are_tokens(sentences: dict[str, list[str]]) -> None:
    zh = sentences["zh"][0]
    toks = tokens(normalize(zh + " Hello world"))
    assert toks[-2:] == ["hello", "world"]
    assert all(len(t) == 1 for t in toks[:10] if not t.isascii())
    # Character 5-grams: a Chinese sentence gives about one shingle per character.
    assert len(shingle_set(zh)) > len(zh) // 2


def test_signature_equals_datasketch(sentences: dict[str, list[str]]) -> None:
    hasher = MinHasher(num_perm=112, seed=7)
    for text in (" ".join(sentences["en"][:30]), " ".join(sentences["zh"][:5]), "one"):
        hashes = hasher.shingles(text)
        assert np.array_equal(
            hasher.signature_of_hashes(hashes), hasher.datasketch_minhash(hashes).hashvalues
        )


def test_estimated_jaccard_tracks_exact(sentences: dict[str, list[str]]) -> None:
    hasher = MinHasher(num_perm=256)
    words = " ".join(sentences["en"][:60]).split()[:400]
    edited = list(words)
    for i in range(0, 400, 40):
        edited[i] = f"edit{i}"
    a, b = " ".join(words), " ".join(edited)
    exact = jaccard(shingle_set(a), shingle_set(b))
    est = estimated_jaccard(hasher.signature(a)[None], hasher.signature(b)[None])[0]
    assert 0.7 < exact < 0.85
    assert abs(est - exact) < 0.08


def test_bands_and_keeper_keys() -> None:
    assert optimal_bands(0.8, 112, 0.05, 0.95) == (14, 8)
    sigs = np.arange(2 * 16, dtype=np.uint32).reshape(2, 16)
    sigs[1, :4] = sigs[0, :4]
    bh = band_hashes(sigs, 4, 4)
    assert bh[0, 0] == bh[1, 0] and (bh[0, 1:] != bh[1, 1:]).all()
    assert sort_key("longest_text", "b", 10, {}, "date") < sort_key("longest_text", "a", 9, {}, "date")
    early = sort_key("earliest_date", "z", 1, {"date": "2020-01-01"}, "date")
    assert early < sort_key("earliest_date", "a", 1, {}, "date")
    assert id_of("earliest_date", early) == "z"


def test_config_rejects_half_banding() -> None:
    from pipeline.config import ConfigError, parse_config

    head = "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\nstages:\n"
    cfg = parse_config(head + "  - {type: minhash_dedup}\n", "t.yaml", "/tmp")
    assert cfg.stage_configs()[0].band_rows() == (14, 8)
    with pytest.raises(ConfigError, match="bands"):
        parse_config(head + "  - {type: minhash_dedup, bands: 4}\n", "t.yaml", "/tmp")
