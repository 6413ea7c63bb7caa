"""Run the enabled detectors over a text and resolve overlaps into one sorted, non-overlapping list.

Overlaps are settled by type priority, then length: a password inside a URL wins over the e-mail-like
`pass@host` it contains, an IBAN over the card- or phone-like digits inside it, a validated national id
or card over a phone reading of the same digits. Digits inside URLs and inside IBAN-shaped strings whose
check digits fail are never cards or phones.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

from filters.pii.addresses import find_addresses
from filters.pii.cards import find_cards
from filters.pii.emails import find_emails
from filters.pii.iban import scan_ibans
from filters.pii.names import find_persons
from filters.pii.national_ids import NATIONAL_IDS, find_national_ids
from filters.pii.network import find_ips
from filters.pii.phones import find_phones
from filters.pii.secrets import find_secrets
from filters.pii.spans import Span

BASE_TYPES = ("secret", "email", "iban", "credit_card", "ip_address", "address", "phone", "person")
# National ids go between "iban" and "credit_card": an 18-digit Chinese id starting with 6 can pass Luhn.
# "address" goes before "phone" (a house number and postcode are not a phone) and "person" last: a
# street named after a person ("Rua Cyro Schmutzer Franco 1213") is an address.


def all_types() -> tuple[str, ...]:
    """Every type name a config may enable: the fixed ones plus every registered national id."""
    return (*BASE_TYPES[:3], *NATIONAL_IDS, *BASE_TYPES[3:])


# Digits inside URLs are article ids, timestamps and tracking numbers, not phones or cards. A URL is
# ASCII (RFC 3986 characters) so it ends where Chinese text glued to it starts.
_URL_RE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")


def _url_ranges(text: str) -> list[tuple[int, int]]:
    if "://" not in text and "www." not in text:
        return []
    return [m.span() for m in _URL_RE.finditer(text)]


def _inside(span: Span, ranges: list[tuple[int, int]]) -> bool:
    return any(s <= span.start and span.end <= e for s, e in ranges)


def _overlaps(span: Span, ranges: list[tuple[int, int]]) -> bool:
    return any(s < span.end and span.start < e for s, e in ranges)


class PiiDetector:
    """Finds PII spans of the enabled `types` (names from `all_types()`)."""

    def __init__(
        self,
        types: Iterable[str],
        phone_regions: Iterable[str] = ("US", "GB", "CN", "DE", "FR"),
        ip_public_only: bool = False,
        email_allow_dotless_domain: bool = False,
        person_model: bool = False,
    ) -> None:
        known = all_types()
        wanted = set(types)
        unknown = wanted - set(known)
        if unknown:
            raise ValueError(f"unknown PII types {sorted(unknown)}; known: {list(known)}")
        self.types = tuple(t for t in known if t in wanted)
        self.priority = {t: i for i, t in enumerate(known)}
        self.national = tuple(t for t in self.types if t in NATIONAL_IDS)
        self.phone_regions = tuple(r.upper() for r in phone_regions)
        self.ip_public_only = ip_public_only
        self.email_allow_dotless_domain = email_allow_dotless_domain
        self.person_model = person_model

    def candidates(self, text: str) -> list[Span]:
        """Every validated span of every enabled type, overlaps not yet resolved."""
        on = self.types
        spans: list[Span] = []
        if "secret" in on:
            spans += find_secrets(text)
        if "email" in on:
            spans += find_emails(text, self.email_allow_dotless_domain)
        mistyped_ibans: list[tuple[int, int]] = []
        if "iban" in on or "credit_card" in on or "phone" in on:
            ibans, mistyped_ibans = scan_ibans(text)
            if "iban" in on:
                spans += ibans
        if self.national:
            spans += find_national_ids(text, self.national)
        if "ip_address" in on:
            spans += find_ips(text, self.ip_public_only)
        numeric: list[Span] = []
        if "credit_card" in on:
            numeric += find_cards(text)
        if "phone" in on:
            numeric += find_phones(text, self.phone_regions)
        if "address" in on:
            spans += find_addresses(text)
        if "person" in on:
            spans += find_persons(text, self.person_model)
        if numeric:
            urls = _url_ranges(text)
            if urls:
                numeric = [s for s in numeric if not _inside(s, urls)]
            if mistyped_ibans:  # BBAN groups are not cards or phones, even when the check digits fail
                numeric = [s for s in numeric if not _overlaps(s, mistyped_ibans)]
            spans += numeric
        return spans

    def find(self, text: str) -> list[Span]:
        """Non-overlapping spans sorted by start."""
        spans = self.candidates(text)
        if len(spans) < 2:
            return spans
        spans.sort(key=lambda s: (self.priority[s.kind], s.start - s.end, s.start))
        chosen: list[Span] = []  # sorted by start, non-overlapping: only the neighbours can overlap
        for span in spans:
            i = bisect.bisect_right(chosen, (span.start, span.end))
            if i and chosen[i - 1].end > span.start:
                continue
            if i < len(chosen) and chosen[i].start < span.end:
                continue
            chosen.insert(i, span)
        return chosen
