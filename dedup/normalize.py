"""Text normalisation and shingling shared by every dedup kind.

Duplicates on the web differ in case, punctuation, whitespace and Unicode forms (full-width digits,
ligatures); normalising first makes those count as equal. Shingles are word n-grams, except in
scripts written without spaces (Chinese, Japanese, Thai...), where every character is a token, so the
same n gives character n-grams there.

Tokenising is done on code-point arrays with one class table (separator / no-space-script character)
rather than with regexes: the same rule for every language, and ~5x faster on Chinese text. Hashes
are fixed functions of the code points and a seed (vectorised polynomial + splitmix64 for shingles,
xxhash for whole texts and lines), never Python's salted `hash()`, so every worker and run agree.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import numpy as np
import regex
import xxhash

# Scripts without spaces between words: one token per character.
_CHAR_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}"
_PUNCT_CLASS = r"\p{P}\p{S}\p{Cc}\p{Cf}"
_ASCII_NOT_WORD = bytes(c for c in range(128) if not chr(c).isalnum() and not chr(c).isspace())
_ASCII_PUNCT = bytes.maketrans(_ASCII_NOT_WORD, b" " * len(_ASCII_NOT_WORD))
_NON_ASCII_PUNCT = regex.compile(f"[[{_PUNCT_CLASS}]--[\\x00-\\x7f]]+", flags=regex.V1)
_DIGITS = str.maketrans({c: "0" for c in "123456789"})

# Code-point classes (bit flags).
_SPACE, _PUNCT, _CHAR = 1, 2, 4

_Q = 0x100000001B3  # odd, so it has an inverse modulo 2^64
_Q_INV = pow(_Q, -1, 1 << 64)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def normalize(
    text: str, *, lowercase: bool = True, punctuation: bool = True, digits: bool = False, nfkc: bool = True
) -> str:
    """Canonical form of a text: NFKC, lower case, punctuation/symbols to spaces, collapsed spaces.

    `digits=True` also maps ASCII digits 1-9 to 0 (as CCNet does for lines, so "page 3 of 12" repeats).
    """
    if nfkc and not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    if punctuation:
        # ASCII punctuation/controls by a byte table (C speed), the rest by a regex that rarely matches.
        text = text.encode("utf-8", "surrogatepass").translate(_ASCII_PUNCT).decode("utf-8", "surrogatepass")
        if not text.isascii():
            text = _NON_ASCII_PUNCT.sub(" ", text)
    if digits:
        text = text.translate(_DIGITS)
    return " ".join(text.split())


@cache
def _classes() -> np.ndarray:
    """Class flags of every code point, from the same Unicode properties `normalize` uses (~0.2 s once)."""
    cps = np.concatenate([np.arange(0xD800), np.arange(0xE000, 0x110000)])
    every = "".join(map(chr, cps.tolist()))
    table = np.zeros(0x110000, dtype=np.uint8)
    for flag, pattern in ((_SPACE, r"\s+"), (_PUNCT, f"[{_PUNCT_CLASS}]+"), (_CHAR, f"[{_CHAR_SCRIPTS}]+")):
        for m in regex.finditer(pattern, every):
            table[cps[m.start()] : cps[m.end() - 1] + 1] |= flag
    return table


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _token_starts(cp: np.ndarray, punctuation: bool) -> tuple[np.ndarray, np.ndarray]:
    """(separator mask, token start positions): a token starts at a non-separator after a separator,
    and at and after every character of a no-space script."""
    cls = _classes()[cp]
    sep = (cls & (_SPACE | (_PUNCT if punctuation else 0))) != 0
    char = (cls & _CHAR) != 0
    start = ~sep
    start[1:] &= sep[:-1] | char[1:] | char[:-1]
    return sep, np.flatnonzero(start)


def tokens(text: str, *, punctuation: bool = True) -> list[str]:
    """Tokens of a (normalised) text: words, and single characters of CJK/Thai-like scripts.

    The same rule as the shingle hashes use; this form is for ground truth and tests.
    """
    if not text:
        return []
    cp = _codepoints(text)
    sep, starts = _token_starts(cp, punctuation)
    out = []
    for s, e in zip(starts.tolist(), [*starts[1:].tolist(), len(cp)], strict=True):
        piece = text[s:e]
        out.append(piece[: len(piece) - int(np.argmax(~sep[s:e][::-1]))] if sep[e - 1] else piece)
    return out


@cache
def _powers(base: int, n: int) -> np.ndarray:
    a = np.full(n, base, dtype=np.uint64)
    a[0] = 1
    return np.cumprod(a, dtype=np.uint64)  # wraps modulo 2^64, as intended


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 1 << max(16, (n - 1).bit_length())
    return _powers(_Q, size), _powers(_Q_INV, size)


def _mix(x: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 finaliser (in place): spreads every input bit over the whole word."""
    x ^= np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    x ^= x >> np.uint64(30)
    x *= _M2
    x ^= x >> np.uint64(27)
    x *= _M3
    x ^= x >> np.uint64(31)
    return x


def token_hashes(text: str, seed: int = 0, *, punctuation: bool = True) -> np.ndarray:
    """64-bit hash of every token of `text` (see `tokens`), vectorised.

    Hash of a token = sum of (code point + 1) * Q^offset over its characters, modulo 2^64, then mixed
    with the seed: all tokens at once with one power table and `reduceat` (~15x faster than one
    xxhash call per token from Python). Equal tokens always get equal hashes.
    """
    if not text:
        return np.empty(0, dtype=np.uint64)
    cp = _codepoints(text)
    sep, starts = _token_starts(cp, punctuation)
    if len(starts) == 0:
        return np.empty(0, dtype=np.uint64)
    n = len(cp)
    pq, pinv = _power_tables(n)
    v = cp.astype(np.uint64) + np.uint64(1)
    v[sep] = 0
    with np.errstate(over="ignore"):
        sums = np.add.reduceat(v * pq[:n], starts)
        return _mix(sums * pinv[starts], seed)


def ngram_hashes(th: np.ndarray, n: int) -> np.ndarray:
    """64-bit hash of every n-gram of a token-hash array, vectorised (position-sensitive polynomial).

    A text shorter than n tokens gives one shingle of all its tokens; an empty text gives none.
    """
    if len(th) == 0:
        return th
    n = min(n, len(th))
    count = len(th) - n + 1
    with np.errstate(over="ignore"):
        acc = th[:count].copy()
        for j in range(1, n):
            acc *= _M1
            acc ^= th[j : j + count]
        return _mix(acc, 0)


def shingle_hashes(
    text: str, n: int = 5, seed: int = 0, *, lowercase: bool = True, punctuation: bool = True
) -> np.ndarray:
    """uint32 hashes of the word (or CJK character) n-grams of a text's normal form, with repeats.

    Same tokens as `tokens(normalize(text))`; punctuation is treated as a separator in the code-point
    table instead of being replaced in the string. The 32-bit values are what the MinHash permutations
    act on (datasketch's "affine32" scheme).
    """
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):  # the check is ~4x cheaper
        text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    h64 = ngram_hashes(token_hashes(text, seed, punctuation=punctuation), n)
    return (h64 >> np.uint64(32)).astype(np.uint32)


def shingle_set(text: str, n: int = 5, seed: int = 0) -> np.ndarray:
    """Sorted distinct shingle hashes: the set whose Jaccard similarity is the ground truth."""
    return np.unique(shingle_hashes(text, n, seed))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted distinct hash arrays (1.0 for two empty sets)."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


def text_hash(normalized: str) -> bytes:
    """128-bit digest of a normalised text: collisions stay negligible at billions of documents."""
    return xxhash.xxh3_128_digest(normalized.encode("utf-8", "surrogatepass"))
