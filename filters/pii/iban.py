"""IBANs: python-stdnum's copy of the SWIFT IBAN registry decides, a cheap anchor pattern finds candidates.

The registry (every country, its length and BBAN layout) and the validation (layout and the ISO 7064
mod 97-10 check) come from `stdnum.iban`, so a new registry release is a dependency bump, not a hand
edit of a table (the old hand-written table had missed Slovakia and Honduras).

The candidate is read by hand after a `CC99` or `CC 99` anchor: knowing the country's length tells where
the IBAN ends, so a grouped IBAN followed by words ("... 3000 is my account") is not overrun. People
write IBANs compact, in print groups of four, with a separator right after the country code
(`DE 89 3704 ...`) and with dashes or dots (`GB-29-NWBK-...`, `DE89.3704...`); one kind of separator
per IBAN, so a sentence boundary (`... 0130 00. 12`) is never read through.
"""

from __future__ import annotations

import re
import string

from stdnum import iban as std_iban
from stdnum import numdb
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

from filters.pii.spans import Span


def _registry_lengths() -> dict[str, int]:
    """Country -> total IBAN length, from the BBAN layouts ("8!n10!n") of stdnum's IBAN registry."""
    db = numdb.get("iban")
    lengths = {}
    for a in string.ascii_uppercase:
        for b in string.ascii_uppercase:
            props = db.info(a + b)[0][1]
            if "bban" in props:
                lengths[a + b] = 4 + sum(int(n) for n in re.findall(r"(\d+)!", props["bban"]))
    return lengths


IBAN_LENGTHS: dict[str, int] = _registry_lengths()

# `CC99` in any case, or an upper-case `CC` and a separator before the check digits (`DE 89`, `GB-29`).
# Upper case only there: prose is full of "is 12", "by 20", "it 10" and those are registry countries.
_SEPARATORS = " \u00a0-."
IBAN_ANCHOR_RE = re.compile(r"(?<![A-Za-z0-9])(?:[A-Za-z]{2}|[A-Z]{2}([ \u00a0.\-]))[0-9]{2}")


def iban_checksum_ok(compact: str) -> bool:
    """ISO 7064 mod 97-10 over the rearranged IBAN (country and check digits moved to the end)."""
    return mod_97_10.is_valid(compact[4:].upper() + compact[:4].upper())


def iban_valid(compact: str) -> bool:
    """Registered country, that country's length and BBAN layout, and the mod-97 check (stdnum).

    The per-country national checks stdnum has for four countries (BE, ES, ME, NO) are off: example and
    test IBANs in web text often fail them, and they look exactly like, and are redacted like, real ones.
    """
    try:
        std_iban.validate(compact, check_country=False)
    except ValidationError:
        return False
    return True


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _read_iban(text: str, start: int, length: int, sep: str | None) -> int | None:
    """End offset of `length` alphanumerics from `start`, with single separators of one kind between groups.

    `sep` is the separator already seen after the country code, if any: the rest must use the same one
    (space and no-break space count as one kind).
    """
    pos, count, n = start, 0, len(text)
    kind = None if sep is None else ("-" if sep == "-" else "." if sep == "." else " ")
    while count < length and pos < n:
        ch = text[pos]
        if _is_alnum(ch):
            count += 1
            pos += 1
            continue
        if ch not in _SEPARATORS or count < 2 or pos + 1 >= n or not _is_alnum(text[pos + 1]):
            return None
        this = "-" if ch == "-" else "." if ch == "." else " "
        if kind is None:
            kind = this
        elif this != kind:
            return None
        pos += 1
    if count < length or (pos < n and _is_alnum(text[pos])):
        return None
    # A trailing "-5" or ".5" continues the number (a longer code, a decimal); "DE89... 00 is" does not.
    if pos + 1 < n and text[pos] in "-." and text[pos + 1].isdigit():
        return None
    return pos


def _layout_ok(compact: str) -> bool:
    """Country, length and BBAN layout right, whatever the check digits (stdnum, with them recomputed)."""
    fixed = compact[:2] + std_iban.calc_check_digits(compact) + compact[4:]
    return iban_valid(fixed)


def scan_ibans(text: str) -> tuple[list[Span], list[tuple[int, int]]]:
    """Valid IBANs, and the ranges of IBAN-shaped strings whose check digits fail (a typo, a redaction).

    The second list lets the detector keep card and phone readings out of a mistyped IBAN: four-digit
    groups of a BBAN are often Luhn-valid or phone-shaped ("NL85 NWNB 0160 0762 54").
    """
    spans: list[Span] = []
    shaped: list[tuple[int, int]] = []
    last_end = 0
    for m in IBAN_ANCHOR_RE.finditer(text):
        start = m.start()
        if start < last_end:
            continue  # a group inside the IBAN just read ("... 0044 AB12 ...")
        length = IBAN_LENGTHS.get(text[start : start + 2].upper())
        if length is None:
            continue
        end = _read_iban(text, start, length, m.group(1))
        if end is None:
            continue
        value = text[start:end]
        if not (value.isupper() or value.islower()):
            continue  # one case throughout: "By 12 June 2024 we ..." is prose, not an IBAN
        compact = "".join(ch for ch in value if _is_alnum(ch)).upper()
        if compact[4:].isalpha():
            continue
        if iban_valid(compact):
            spans.append(Span(start, end, "iban"))
        elif _layout_ok(compact):
            shaped.append((start, end))
        else:
            continue
        last_end = end
    return spans, shaped


def find_ibans(text: str) -> list[Span]:
    """Valid IBANs of every registry country: compact or grouped by spaces, dashes or dots, any one case."""
    return scan_ibans(text)[0]
