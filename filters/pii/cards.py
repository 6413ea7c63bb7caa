"""Payment card numbers: 12-19 digits (spaces/dashes allowed) with a known issuer prefix and Luhn check.

The issuer table (Visa, Mastercard, Amex, Discover, JCB, Diners, Maestro, UnionPay) matters as much as
Luhn: one random digit run in ten passes Luhn, but few of them also start like a card of that length.
"""

from __future__ import annotations

import re

from filters.pii.spans import Span

CARD_CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9_+.,/\-])[0-6]\d{3}+(?:[ \-]?\d{1,7}+){1,5}+(?![A-Za-z0-9_]|[.,/\-][0-9])"
)

# (prefix ranges as (low, high) over the first N digits, allowed lengths)
_ISSUERS: list[tuple[int, int, int, frozenset[int]]] = [
    (4, 4, 1, frozenset({13, 16, 19})),  # Visa
    (51, 55, 2, frozenset({16})),  # Mastercard
    (2221, 2720, 4, frozenset({16})),  # Mastercard 2-series
    (34, 34, 2, frozenset({15})),  # Amex
    (37, 37, 2, frozenset({15})),
    (6011, 6011, 4, frozenset({16, 17, 18, 19})),  # Discover
    (644, 649, 3, frozenset({16, 17, 18, 19})),
    (65, 65, 2, frozenset({16, 17, 18, 19})),
    (35, 35, 2, frozenset({16, 17, 18, 19})),  # JCB (3528-3589 assigned; generators use all of 35xx)
    (1800, 1800, 4, frozenset({15})),
    (2131, 2131, 4, frozenset({15})),
    (300, 305, 3, frozenset({14, 15, 16, 17, 18, 19})),  # Diners
    (36, 36, 2, frozenset({14, 15, 16, 17, 18, 19})),
    (38, 39, 2, frozenset({14, 15, 16, 17, 18, 19})),
    (50, 50, 2, frozenset(range(12, 20))),  # Maestro
    (56, 69, 2, frozenset(range(12, 20))),  # Maestro, UnionPay (62)
    (604, 604, 4, frozenset(range(12, 20))),  # legacy Maestro "0604"
]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def issuer_ok(digits: str) -> bool:
    n = len(digits)
    return any(n in lens and low <= int(digits[:width]) <= high for low, high, width, lens in _ISSUERS)


def _grouping_ok(cand: str) -> bool:
    """One kind of separator, and groups of at least 3 digits except a short last group (4-4-4-4-3)."""
    if " " in cand and "-" in cand:
        return False
    groups = re.split(r"[ \-]", cand)
    if len(groups) == 1:
        return True
    return all(len(g) >= 3 for g in groups[:-1]) and len(groups[-1]) >= 1


def is_card(cand: str) -> bool:
    digits = cand.replace(" ", "").replace("-", "")
    return 12 <= len(digits) <= 19 and _grouping_ok(cand) and issuer_ok(digits) and luhn_ok(digits)


# One digit run in ten passes Luhn, so a labelled order/ticket/tracking number ("Ticket #627769574740")
# is sometimes a "card"; nobody labels their card number so. A bare "#" stays allowed ("card #4111...").
_ORDER_LABEL_BEFORE_RE = re.compile(
    r"(?<![A-Za-z])(?:order|invoice|ticket|tracking|sku|serial|ref|reference)\.?"
    r"(?:[ \u00a0]?(?:no\.?|nr\.?|number|id))?[ \u00a0]?[:：#]?[ \u00a0]?$",
    re.IGNORECASE,
)


def find_cards(text: str) -> list[Span]:
    """Luhn-valid card numbers with a known issuer prefix, not labelled as an order or ticket number."""
    spans = []
    for m in CARD_CANDIDATE_RE.finditer(text):
        found = _best_card(m.group())
        if found:
            start = m.start() + found[0]
            if _ORDER_LABEL_BEFORE_RE.search(text, max(0, start - 24), start):
                continue
            spans.append(Span(start, m.start() + found[1], "credit_card"))
    return spans


def _best_card(cand: str) -> tuple[int, int] | None:
    """The whole candidate if it is a card, else the longest run of its groups that is one.

    The candidate pattern is greedy, so "4111 1111 1111 1111 2019" must still yield the card.
    """
    if is_card(cand):
        return 0, len(cand)
    bounds = [(m.start(), m.end()) for m in re.finditer(r"\d+", cand)]
    if len(bounds) < 2:
        return None
    for size in range(len(bounds) - 1, 0, -1):
        for i in range(len(bounds) - size + 1):
            start, end = bounds[i][0], bounds[i + size - 1][1]
            if is_card(cand[start:end]):
                return start, end
    return None
