"""Replacing detected spans: a tag per type, or a consistent fake value.

A fake value is a pure function of (seed, type, original value): the same address becomes the same
fake address in every document, on every worker, in every run, so co-reference inside the corpus
survives while the real value does not. Fakes keep the shape of the original (separators, length,
checksums) and use reserved ranges where they exist (example.com, documentation IP blocks, SSN area
9xx, which the SSA never issues).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable

from filters.pii.cards import luhn_ok
from filters.pii.iban import iban_checksum_ok
from filters.pii.national_ids import _CN_CHECK, _CN_WEIGHTS
from filters.pii.spans import Span

DEFAULT_TAGS: dict[str, str] = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip_address": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
    "us_ssn": "<US_SSN>",
    "cn_id": "<CN_ID>",
    "secret": "<SECRET>",
    "person": "<PERSON>",
    "address": "<ADDRESS>",
}


class _Stream:
    """Deterministic digits/letters drawn from blake2b(seed, kind, value), extended by counter."""

    def __init__(self, seed: str, kind: str, value: str) -> None:
        self._key = f"{seed}\x00{kind}\x00{value}".encode()
        self._buf = b""
        self._block = 0
        self._pos = 0

    def byte(self) -> int:
        if self._pos >= len(self._buf):
            self._buf = hashlib.blake2b(self._key + self._block.to_bytes(4, "big"), digest_size=64).digest()
            self._block += 1
            self._pos = 0
        b = self._buf[self._pos]
        self._pos += 1
        return b

    def digit(self) -> str:
        return str(self.byte() % 10)

    def lower(self) -> str:
        return chr(97 + self.byte() % 26)

    def hex(self, n: int) -> str:
        return "".join(f"{self.byte():02x}" for _ in range((n + 1) // 2))[:n]


def _same_shape(value: str, rnd: _Stream) -> str:
    """Digits -> digits, letters -> letters of the same case; everything else kept."""
    out = []
    for ch in value:
        if ch.isascii() and ch.isdigit():
            out.append(rnd.digit())
        elif ch.isascii() and ch.isalpha():
            c = rnd.lower()
            out.append(c.upper() if ch.isupper() else c)
        else:
            out.append(ch)
    return "".join(out)


def _fake_email(value: str, rnd: _Stream) -> str:
    return f"user.{rnd.hex(10)}@example.com"


def _fake_phone(value: str, rnd: _Stream) -> str:
    # Keep "+CC" (and the first national digit) so the fake still looks like a number of the same place.
    keep = 0
    if value.startswith("+"):
        m = re.match(r"\+[ \u00a0]?\d{1,3}", value)
        keep = m.end() if m else 1
    elif value.startswith("("):
        keep = 2
    else:
        keep = 1
    return value[:keep] + _same_shape(value[keep:], rnd)


def _fake_ip(value: str, rnd: _Stream) -> str:
    if ":" in value:
        words = [rnd.hex(4).lstrip("0") or "0" for _ in range(6)]
        return str(ipaddress.IPv6Address("2001:db8:" + ":".join(words)))
    block = ("192.0.2", "198.51.100", "203.0.113")[rnd.byte() % 3]
    return f"{block}.{1 + rnd.byte() % 254}"


def _fake_card(value: str, rnd: _Stream) -> str:
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    chars = list(value)
    for i in positions[1:]:
        chars[i] = rnd.digit()
    for check in "0123456789":
        chars[positions[-1]] = check
        if luhn_ok("".join(chars[i] for i in positions)):
            break
    return "".join(chars)


def _fake_iban(value: str, rnd: _Stream) -> str:
    # Separators (space, no-break space, "-", ".") stay where they are; only the characters change.
    compact_positions = [i for i, ch in enumerate(value) if ch.isascii() and ch.isalnum()]
    chars = list(value)
    for i in compact_positions[4:]:
        chars[i] = _same_shape(chars[i], rnd)
    for check in range(100):
        digits = f"{check:02d}"
        chars[compact_positions[2]], chars[compact_positions[3]] = digits[0], digits[1]
        if iban_checksum_ok("".join(chars[i] for i in compact_positions)):
            break
    return "".join(chars)


def _fake_ssn(value: str, rnd: _Stream) -> str:
    fake = _same_shape(value, rnd)
    return "9" + fake[1:]


def _fake_cn_id(value: str, rnd: _Stream) -> str:
    year = 1950 + rnd.byte() % 50
    month, day = 1 + rnd.byte() % 12, 1 + rnd.byte() % 28
    body = f"110101{year}{month:02d}{day:02d}{rnd.digit()}{rnd.digit()}{rnd.digit()}"
    total = sum(int(d) * w for d, w in zip(body, _CN_WEIGHTS, strict=True))
    check = _CN_CHECK[total % 11]
    return body + (check.lower() if value[-1] == "x" else check)


_PREFIX_RE = re.compile(
    r"(?:AKIA|ASIA|[A-Z]{4}(?=[A-Z2-7]{16}$)|gh[pousr]_|github_pat_|gl[a-z]+-|xox[a-z]-|eyJ)"
)


def _fake_secret(value: str, rnd: _Stream) -> str:
    if "PRIVATE KEY" in value:
        return "<SECRET>"
    m = _PREFIX_RE.match(value)
    keep = m.end() if m else 0
    return value[:keep] + _same_shape(value[keep:], rnd)


def _pick(pool: list[str], rnd: _Stream) -> str:
    return pool[(rnd.byte() << 8 | rnd.byte()) % len(pool)]


def _fake_person(value: str, rnd: _Stream) -> str:
    """Names from the shipped gazetteer: first word a first name, the rest last names; CJK: 姓 + 名."""
    from filters.pii.names import gazetteer

    g = gazetteer()
    if any("\u4e00" <= c <= "\u9fff" for c in value):
        given = sorted(x for x in g.zh_given if len(x) == len(value) - 1) or sorted(g.zh_given)
        return _pick(sorted(s for s in g.zh_surnames if len(s) == 1), rnd) + _pick(given, rnd)
    first, last = sorted(g.first), sorted(g.last)
    words = value.split(" ")
    out = [
        _pick(first if i == 0 and len(words) > 1 else last, rnd) if w[:1].isalpha() and len(w) > 2 else w
        for i, w in enumerate(words)
    ]
    return " ".join(out)


# Address words that carry structure, not identity, and stay: street types, units, CJK admin suffixes.
_ADDRESS_KEEP = set("省市区县镇乡村路街道巷弄号栋幢座楼层室单元")
_CJK_POOL = "东南西北中华新民和平安康宁长青山水林光明朝阳文化建设幸福"


def _fake_address(value: str, rnd: _Stream) -> str:
    """Digits and letters of the same shape; CJK characters other than admin suffixes replaced too."""
    out = []
    for ch in value:
        if "\u4e00" <= ch <= "\u9fff" and ch not in _ADDRESS_KEEP:
            out.append(_CJK_POOL[rnd.byte() % len(_CJK_POOL)])
        else:
            out.append(ch)
    return _same_shape("".join(out), rnd)


FAKERS: dict[str, Callable[[str, _Stream], str]] = {
    "person": _fake_person,
    "address": _fake_address,
    "email": _fake_email,
    "phone": _fake_phone,
    "ip_address": _fake_ip,
    "credit_card": _fake_card,
    "iban": _fake_iban,
    "us_ssn": _fake_ssn,
    "cn_id": _fake_cn_id,
    "secret": _fake_secret,
}


def fake_value(kind: str, value: str, seed: str) -> str:
    """A deterministic stand-in for `value`; types without a faker fall back to same-shape noise."""
    return FAKERS.get(kind, lambda v, r: _same_shape(v, r))(value, _Stream(seed, kind, value))


def apply(text: str, spans: list[Span], replace: Callable[[Span, str], str]) -> str:
    """Replace sorted, non-overlapping spans; text between them is copied unchanged."""
    if not spans:
        return text
    parts = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(replace(span, text[span.start : span.end]))
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)
