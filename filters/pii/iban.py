"""IBANs: a registered country code, that country's exact length, and the ISO 13616 mod-97 check.

The candidate is read by hand after a cheap `CC99` anchor pattern: knowing the country's length tells
where the IBAN ends, so a grouped IBAN followed by words ("... 3000 is my account") is not overrun.
"""

from __future__ import annotations

import re

from filters.pii.spans import Span

# ISO 13616 registry (SWIFT IBAN registry), country -> total length.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

IBAN_ANCHOR_RE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})([0-9]{2})")


def iban_checksum_ok(compact: str) -> bool:
    """ISO 7064 mod 97-10 over the rearranged IBAN (country and check digits moved to the end)."""
    rearranged = compact[4:] + compact[:4]
    total = 0
    for ch in rearranged.upper():
        total = (total * (100 if ch.isalpha() else 10) + int(ch, 36)) % 97
    return total == 1


def _read_iban(text: str, start: int, length: int) -> int | None:
    """End offset of `length` alphanumerics from `start`, allowing single spaces between groups."""
    pos, count, n = start, 0, len(text)
    while count < length and pos < n:
        ch = text[pos]
        if ch.isascii() and ch.isalnum():
            count += 1
            pos += 1
        elif ch == " " and count >= 4 and pos + 1 < n and text[pos + 1].isascii() and text[pos + 1].isalnum():
            pos += 1
        else:
            return None
    if count < length or (pos < n and text[pos].isascii() and text[pos].isalnum()):
        return None
    return pos


def find_ibans(text: str) -> list[Span]:
    """Mod-97-valid IBANs of registered countries, compact or grouped by spaces, any letter case."""
    spans = []
    for m in IBAN_ANCHOR_RE.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        end = _read_iban(text, m.start(), length)
        if end is None:
            continue
        compact = text[m.start() : end].replace(" ", "")
        if compact[4:].isalpha() or not iban_checksum_ok(compact):
            continue
        spans.append(Span(m.start(), end, "iban"))
    return spans
