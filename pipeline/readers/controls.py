"""C0 control characters out of the text at read (NUL and the like, never tab, newline or CR).

Crawled pages carry them (NUL padding, terminal escapes, form feeds from PDFs turned to HTML). They
mean nothing to a language model, they become tokens of their own, and an escape sequence in a text
or URL can drive the terminal of whoever inspects the run. Removed once, here, and counted.
"""

from __future__ import annotations

import re

CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def strip_controls(text: str) -> tuple[str, int]:
    """The text without C0 control characters (tab, newline, CR stay), and how many were removed."""
    clean, removed = CONTROLS.subn("", text)
    return clean, removed
