"""E-mail addresses: RFC 5322 addr-spec (dot-atom or quoted local part; domain name or literal).

The domain must contain a dot and end in an alphabetic (or punycode) TLD unless dotless domains are
allowed, so `user@localhost`, `pkg@1.2.3` and `logo@2x.png` (retina image names) are not matched.
"""

from __future__ import annotations

import ipaddress
import re

from filters.pii.spans import Span

_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_LOCAL = (
    rf"(?:[{_ATEXT}]{{1,64}}(?:\.[{_ATEXT}]{{1,64}}){{0,16}}"  # dot-atom
    r'|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e]){0,64}")'  # quoted string, printable ASCII
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"(?:{_OCTET}\.){{3}}{_OCTET}"
_LITERAL = rf"\[(?:{_IPV4}|IPv6:[0-9A-Fa-f:.]{{2,45}})\]"

_LEFT = rf"(?<![{_ATEXT}.\\])"
_RIGHT = r"(?![A-Za-z0-9-]|\.[A-Za-z0-9])"

EMAIL_RE = re.compile(rf"{_LEFT}{_LOCAL}@(?:(?:{_LABEL}\.)+{_TLD}|{_LITERAL}){_RIGHT}")
EMAIL_DOTLESS_RE = re.compile(rf"{_LEFT}{_LOCAL}@(?:(?:{_LABEL}\.)*{_LABEL}|{_LITERAL}){_RIGHT}")

# `icon@2x.png`, `bg@3x.jpg`: asset names, not addresses.
_ASSET_DOMAIN = re.compile(r"[0-9.]+x\.[A-Za-z]+$")
_LEADING_QUOTES = "'`"


def _lengths_ok(local: int, domain: int) -> bool:
    """RFC 5321 limits: local part 64 octets, domain 255, whole path 254 (ASCII here)."""
    return local <= 64 and domain <= 253 and local + domain + 1 <= 254


def _literal_ok(literal: str) -> bool:
    try:
        if literal.startswith("IPv6:"):
            ipaddress.IPv6Address(literal[5:])
        return True
    except ValueError:
        return False


def find_emails(text: str, allow_dotless_domain: bool = False) -> list[Span]:
    """All e-mail addresses in `text`."""
    if "@" not in text:
        return []
    pattern = EMAIL_DOTLESS_RE if allow_dotless_domain else EMAIL_RE
    spans = []
    for m in pattern.finditer(text):
        start, end = m.span()
        at = text.rindex("@", start, end)
        if _ASSET_DOMAIN.match(text, at + 1, end) or not _lengths_ok(at - start, end - at - 1):
            continue
        if text[at + 1] == "[" and not _literal_ok(text[at + 2 : end - 1]):
            continue
        # Prose like 'write to 'bob@example.com'': an apostrophe is valid atext but is a quote here.
        while text[start] in _LEADING_QUOTES and start + 1 < at:
            start += 1
        spans.append(Span(start, end, "email"))
    return spans
