"""IPv4 and IPv6 addresses, optionally only globally routable ones (private ranges identify no one).

Unlike a bare dotted-quad pattern, a match must not be part of a longer dotted number (`1.1.2.1.5`),
and four one-digit parts after "version", "section", "§" etc. are read as a version/section number.
"""

from __future__ import annotations

import ipaddress
import re

from filters.pii.spans import Span

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = re.compile(
    rf"(?<![A-Za-z0-9_.\-])(?<![0-9][.,])(?:{_OCTET}\.){{3}}{_OCTET}"
    r"(?![0-9A-Za-z_\-]|\.[0-9A-Za-z])"
)
# Hex groups with colons; validated by `ipaddress`. At least two colons; embedded IPv4 allowed.
IPV6_RE = re.compile(
    r"(?<![0-9A-Za-z_.])(?<![0-9A-Fa-f]:)"
    r"(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?:%[0-9A-Za-z]{1,16})?"
    r"(?![0-9A-Za-z_:]|\.[0-9A-Za-z])"
)
_VERSION_CONTEXT = re.compile(
    r"(?<![A-Za-z])(?:version|ver\.?|release|build|firmware|update|section|sec\.|§|chapter|article|clause|rule|step|"
    r"item|part|table|figure|fig\.|kb|版本)\s*$",
    re.IGNORECASE,
)
_IP_CONTEXT = re.compile(
    r"(?:(?<![A-Za-z])ip(?![A-Za-z])|address|server|host|dns|gateway|ping|subnet|route|地址)", re.IGNORECASE
)


def _ipv4_is_versionish(text: str, start: int, value: str) -> bool:
    before = text[max(0, start - 20) : start]
    if _VERSION_CONTEXT.search(before):
        return True
    if all(len(part) == 1 for part in value.split(".")):
        return not _IP_CONTEXT.search(text[max(0, start - 40) : start])
    return False


def find_ips(text: str, public_only: bool = False) -> list[Span]:
    """IPv4 and IPv6 addresses in `text`."""
    spans: list[Span] = []
    if "." in text:
        for m in IPV4_RE.finditer(text):
            value = m.group()
            if _ipv4_is_versionish(text, m.start(), value):
                continue
            if public_only and not ipaddress.IPv4Address(value).is_global:
                continue
            spans.append(Span(m.start(), m.end(), "ip_address"))
    if "::" in text or text.count(":") >= 7:
        for m in IPV6_RE.finditer(text):
            value, start, end = m.group(), m.start(), m.end()
            # "IP:2001:db8::1" and "fe80::1: up": one stray colon is punctuation, not part of the address
            if value.startswith(":") and not value.startswith("::"):
                value, start = value[1:], start + 1
            if value.endswith(":") and not value.endswith("::"):
                value, end = value[:-1], end - 1
            if not any(c.isdigit() for c in value) or value.count(":") < 2:
                continue
            try:
                addr = ipaddress.IPv6Address(value)
            except ValueError:
                continue
            if value.count(":") < 7 and sum(1 for g in value.split(":") if g) < 2:
                continue  # "::1", "1::": loopback/trivial forms too close to code like "a::b"
            if public_only and not addr.is_global:
                continue
            spans.append(Span(start, end, "ip_address"))
    return spans
