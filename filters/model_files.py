"""Header checks of the model files a config names, so `winnow validate` (and `winnow run`, before Ray
starts) refuses a missing, truncated or wrong file instead of failing hours later inside a worker."""

from __future__ import annotations

import struct

FASTTEXT_MAGIC = 793712314  # fastText's FASTTEXT_FILEFORMAT_MAGIC_INT32, the first 4 bytes of .bin/.ftz
KENLM_BINARY = b"mmap lm http://kheafield.com/code"


def _head(path: str, n: int) -> bytes:
    from pipeline import storage

    with storage.open_input(path) as f:
        return f.read(n)


def fasttext_problem(path: str) -> str | None:
    """None when `path` starts like a fastText model, else what is wrong."""
    head = _head(path, 4)
    if len(head) < 4 or struct.unpack("<i", head)[0] != FASTTEXT_MAGIC:
        return f"{path} is not a fastText model (.bin/.ftz): its header is {head!r}"
    return None


def kenlm_problem(path: str) -> str | None:
    """None when `path` is a KenLM binary or an ARPA file, else what is wrong."""
    head = _head(path, 4096)
    if head.startswith(KENLM_BINARY) or head.lstrip().startswith(b"\\data\\"):
        return None
    return f"{path} is neither a KenLM binary nor an ARPA model: it starts with {head[:40]!r}"
