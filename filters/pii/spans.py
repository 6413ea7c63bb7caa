"""The unit every detector returns, and shared character-class boundaries.

Boundaries are explicit lookarounds on ASCII letters/digits, never `\\b`: Python's `\\b` treats CJK
characters as word characters, so `电话13800138000` has no `\\b` before the `1` and a `\\b`-based pattern
misses PII written straight after Chinese text.
"""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A detected piece of PII: text[start:end] is of `kind` (e.g. "email")."""

    start: int
    end: int
    kind: str
