"""National identity numbers. Adding one is one small function registered with `@national_id(...)`.

A finder takes the text and returns the (start, end) offsets of valid numbers; it should cheaply find
candidates with a compiled pattern and then check what can be checked (checksums, reserved ranges).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from filters.pii.spans import Span

Finder = Callable[[str], Iterable[tuple[int, int]]]


@dataclass(frozen=True)
class NationalId:
    kind: str  # the type name used in configs, counters and attributes, e.g. "us_ssn"
    tag: str  # default replacement tag
    find: Finder


NATIONAL_IDS: dict[str, NationalId] = {}


def national_id(kind: str, tag: str) -> Callable[[Finder], Finder]:
    """Register a finder under `kind` (becomes a PII type that configs can switch on and off)."""

    def register(fn: Finder) -> Finder:
        NATIONAL_IDS[kind] = NationalId(kind, tag, fn)
        return fn

    return register


_SSN_RE = re.compile(r"(?<![A-Za-z0-9_\-.])(\d{3})([- ])(\d{2})\2(\d{4})(?![A-Za-z0-9_]|[-.][0-9])")
_SSN_LABELLED_RE = re.compile(
    r"(?:(?<![A-Za-z])SSN|social security(?: number| no\.?)?)[\s#:：]*(\d{9})(?![0-9])", re.IGNORECASE
)


def ssn_parts_ok(area: str, group: str, serial: str) -> bool:
    """SSA rules: area never 000, 666 or 9xx; group never 00; serial never 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_PHONE_RUN_CHARS = frozenset("0123456789 \u00a0-./()")
_INTL_START_RE = re.compile(r"\+[ \u00a0]?\(?[0-9]")


def in_international_phone(text: str, start: int) -> bool:
    """Whether text[start:] continues a `+CC ...` number: "+44 123-45-6789" is a phone, not an SSN.

    Walks back over digits and phone separators (at most 24 characters, the longest country code and
    area code with their separators) to a "+". Only "+": a "00" prefix is also how row numbers look
    ("001 123-45-6789" in a table of SSNs).
    """
    i, lo = start, max(0, start - 24)
    while i > lo and text[i - 1] in _PHONE_RUN_CHARS:
        i -= 1
    if i and text[i - 1] == "+":
        return _INTL_START_RE.match(text, i - 1) is not None
    return False


@national_id("us_ssn", "<US_SSN>")
def find_us_ssn(text: str) -> Iterable[tuple[int, int]]:
    """`123-45-6789` / `123 45 6789` anywhere but inside a `+CC` phone number; nine bare digits only
    right after an "SSN" label."""
    for m in _SSN_RE.finditer(text):
        if ssn_parts_ok(m.group(1), m.group(3), m.group(4)) and not in_international_phone(text, m.start()):
            yield m.span()
    if "ssn" in text.lower() or "ocial security" in text:
        for m in _SSN_LABELLED_RE.finditer(text):
            d = m.group(1)
            if ssn_parts_ok(d[:3], d[3:5], d[5:]):
                yield m.span(1)


_CN_ID_RE = re.compile(
    r"(?<![A-Za-z0-9])[1-8][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![A-Za-z0-9])"
)
_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_CHECK = "10X98765432"


def cn_id_checksum_ok(number: str) -> bool:
    """GB 11643-1999: ISO 7064 MOD 11-2 check character over the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(number[:17], _CN_WEIGHTS, strict=True))
    return _CN_CHECK[total % 11] == number[17].upper()


@national_id("cn_id", "<CN_ID>")
def find_cn_id(text: str) -> Iterable[tuple[int, int]]:
    """18-character resident identity numbers with a plausible birth date and a valid check character."""
    for m in _CN_ID_RE.finditer(text):
        if cn_id_checksum_ok(m.group()):
            yield m.span()


def find_national_ids(text: str, kinds: Iterable[str]) -> list[Span]:
    spans = []
    for kind in kinds:
        spans.extend(Span(s, e, kind) for s, e in NATIONAL_IDS[kind].find(text))
    return spans
