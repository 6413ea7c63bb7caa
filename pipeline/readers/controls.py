"""C0 control characters out of the text at read (NUL and the like, never tab, newline or CR).

Crawled pages carry them (NUL padding, terminal escapes, form feeds from PDFs turned to HTML). They
mean nothing to a language model, they become tokens of their own, and an escape sequence in a text
or URL can drive the terminal of whoever inspects the run. Removed once, here, and counted.
"""

from __future__ import annotations

CONTROLS = {c: None for c in range(0x20) if chr(c) not in "\t\n\r"}


def strip_controls(text: str) -> tuple[str, int]:
    """The text without C0 control characters (tab, newline, CR stay), and how many were removed."""
    if text.isprintable() or not any(ord(ch) < 0x20 and ch not in "\t\n\r" for ch in text):
        return text, 0
    clean = text.translate(CONTROLS)
    return clean, len(text) - len(clean)
