"""MinHash signatures and LSH banding, vectorised with numpy behind datasketch's own permutations.

`MinHasher.signature` gives exactly the values of `datasketch.MinHash(num_perm, seed)` (its default
"affine32" scheme) after `update_batch` with the same 32-bit shingle hashes and an identity
`hashfunc`; the permutation parameters are taken from datasketch itself. The difference is speed:
one (shingles x permutations) numpy product per document instead of Python work per shingle.
"""

from __future__ import annotations

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from dedup.normalize import shingle_hashes

_U32_MAX = np.uint32(0xFFFFFFFF)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def optimal_bands(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple[int, int]:
    """(bands, rows) from datasketch's optimiser of the weighted false-positive/negative areas."""
    return _optimal_param(threshold, num_perm, fp_weight, fn_weight)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it before its affine permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class MinHasher:
    """Signatures of texts: normalise, shingle (word or CJK-character n-grams), min over permutations."""

    def __init__(
        self,
        num_perm: int = 112,
        seed: int = 1,
        ngram: int = 5,
        *,
        lowercase: bool = True,
        punctuation: bool = True,
    ) -> None:
        self.num_perm, self.seed, self.ngram = num_perm, seed, ngram
        self.lowercase, self.punctuation = lowercase, punctuation
        a, b = MinHash(num_perm=num_perm, seed=seed).permutations
        self.a = np.asarray(a, dtype=np.uint32)[None, :]
        self.b = np.asarray(b, dtype=np.uint32)[None, :]

    def shingles(self, text: str) -> np.ndarray:
        """uint32 shingle hashes of a text (with repeats); empty when the text has no tokens."""
        return shingle_hashes(
            text, self.ngram, self.seed, lowercase=self.lowercase, punctuation=self.punctuation
        )

    def signature_of_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """The MinHash signature (uint32[num_perm]) of a set of 32-bit shingle hashes."""
        if len(hashes) == 0:
            return np.full(self.num_perm, _U32_MAX, dtype=np.uint32)
        hv = _fmix32(np.asarray(hashes, dtype=np.uint32))[:, None]
        x = hv * self.a
        x += self.b
        return x.min(axis=0)

    def signature(self, text: str) -> np.ndarray:
        return self.signature_of_hashes(self.shingles(text))

    def datasketch_minhash(self, hashes: np.ndarray) -> MinHash:
        """The same signature computed by datasketch itself (slow; for tests and the benchmark)."""
        m = MinHash(num_perm=self.num_perm, seed=self.seed, hashfunc=int)
        m.update_batch([int(h) for h in hashes])
        return m


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64 bucket hash of each (document, band): equal iff the band's rows agree (up to 2^-64)."""
    n = sigs.shape[0]
    x = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.zeros((n, bands), dtype=np.uint64)
        for j in range(rows):
            acc = acc * _M1 + x[:, :, j]
        acc += np.arange(1, bands + 1, dtype=np.uint64)[None, :] * _M3
        acc ^= acc >> np.uint64(30)
        acc *= _M2
        acc ^= acc >> np.uint64(27)
        acc *= _M3
        acc ^= acc >> np.uint64(31)
    return acc


def estimated_jaccard(sig_u: np.ndarray, sig_v: np.ndarray) -> np.ndarray:
    """Fraction of equal signature positions, row by row (an unbiased Jaccard estimate)."""
    return (sig_u == sig_v).mean(axis=1)
