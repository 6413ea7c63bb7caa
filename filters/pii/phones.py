"""Phone numbers: a cheap candidate pattern, then Google's libphonenumber data (`phonenumbers`) decides.

Why the extra rules around `phonenumbers`:
- International numbers (`+44 20 ...`, `0044 ...`) are parsed with no region and need only be valid.
- National numbers are tried in each configured region, and the digits written must be exactly the
  digits of that region's national format (its trunk prefix included). Without this, `905-674-3793`
  passes as a British number and a German VAT number as a German one, because `phonenumbers` happily
  reads national significant numbers with their trunk `0` missing.
- Dates, prices, versions (dot groups of one digit), ISBNs, numbers labelled as orders/IDs and VAT
  numbers written after their country prefix ("FI 013 848 27") are refused before `phonenumbers` is
  ever called.
- A one-digit group in the middle is a table cell unless it is exactly where libphonenumber prints one
  for that number (Côte d'Ivoire "21 23 4 56789", Kazakhstan "8 (71234) 5 67 89").
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from filters.pii.spans import Span

_SP = "[ \u00a0]"
# Starts with +, ( or a digit; digit groups joined by one separator, a parenthesised area code or "(0)";
# optional extension. Possessive quantifiers keep long digit runs linear. Digit count is checked after.
PHONE_CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9_+#=/@$€£¥%\-])(?<![0-9][.,:])"
    rf"(?:\+{_SP}?|\(\+?)?"
    r"\d{1,17}+"
    rf"(?:(?:\){_SP}?|{_SP}?\(0\){_SP}?|{_SP}?\(\d{{1,5}}\){_SP}?|{_SP}?[.\-/]{_SP}?|{_SP})\d{{1,17}}+){{0,8}}+"
    rf"(?:{_SP}?(?:x|ext\.?|#){_SP}?\d{{1,6}})?"
    r"(?![A-Za-z0-9_%@]|[.,:：/\-][0-9]|-[Xx](?![A-Za-z0-9]))"
)

_DATE_RE = re.compile(
    r"(?:(?:19|20)\d\d[-./ ](?:0?[1-9]|1[0-2])[-./ ](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-./ ](?:0?[1-9]|[12]\d|3[01])[-./ ](?:19|20)?\d\d"
    r"|(?:19|20)\d\d ?[-–/] ?(?:19|20)?\d\d"
    r"|(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))$"
)
_NON_DIGITS_RE = re.compile(r"[^0-9]+")
_DATE_PREFIX_RE = re.compile(r"(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])(?!\d)")
_CURRENCY_AFTER_RE = re.compile(r"[ \u00a0]?(?:[€$£¥%元]|EUR|USD|RMB)")
_EXT_RE = re.compile(r"[ \u00a0]?(?:x|ext\.?|#)[ \u00a0]?\d{1,6}$")
_LABEL_BEFORE_RE = re.compile(
    r"(?:#|(?<![A-Za-z])(?:no\.?|nr\.?|id|isbn(?:-1[03])?|issn|order|invoice|ref\.?|sku|tracking|serial|"
    r"patent|case|ticket|version)|订单号?|编号|单号|序列号)[:：#\s]*$",
    re.IGNORECASE,
)
# An EU VAT number (or Swiss UID) written with a space after its country prefix: "FI 013 848 27",
# "NL 058 241 152 B42". Glued ("DE123456789") the letters already stop the candidate.
_VAT_PREFIX_BEFORE_RE = re.compile(
    r"(?<![A-Za-z])(?:AT|BE|BG|CHE|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|NO|PL|PT|RO|SE|"
    r"SI|SK|XI)[ \u00a0]$"
)
_CURRENCY_BEFORE_RE = re.compile(r"(?:[$€£¥₹]|USD|EUR|GBP|CNY|RMB)\s?$")
_TEL_BEFORE_RE = re.compile(
    r"(?:t[eé]l|phone|fax|call|mobile|cell|desk|contact|whatsapp|sms|电话|手机|致电|热线|联系|☎|📞)",
    re.IGNORECASE,
)
# Strong context: a phone word right before ("Phone: ", "call me at ", "messages to ") or a phone label
# right after ("-Office", " fax"). With it, a phone-shaped number counts even when libphonenumber cannot
# validate it for the configured regions (local numbers without area code, foreign national formats).
_TEL_RIGHT_BEFORE_RE = re.compile(
    r"(?:t[eé]l(?:ephone)?|phone|fax|mobile|cell|desk|call(?: me)?(?: on| at)?|reach(?: me)? at|"
    r"answering at|messages? to|text(?: me)? at|whatsapp|电话|手机|致电|热线)\.?[:：]?\s{0,3}\(?$",
    re.IGNORECASE,
)
_TEL_AFTER_RE = re.compile(r"[ \u00a0]?[-–(]?[ \u00a0]?(?:office|fax|mobile|cell|home|work)\b", re.IGNORECASE)

# Regions whose national prefix is optional when writing a national number (NANPA's leading "1").
_OPTIONAL_PREFIX = {"US", "CA"}
_SAME_PLAN = {"US": ("US", "CA"), "CA": ("CA", "US")}


@lru_cache(maxsize=64)
def _national_prefix(region: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return (meta.national_prefix or "") if meta else ""


def _digits(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


def _lottery_like(cand: str, groups: list[str]) -> bool:
    """Space-separated two-digit groups: more than a phone has, or 4-5 increasing draw-sized numbers.

    Draws and Keno picks (快乐8: 4 or 5 of 1-80, sorted) look like French or Norwegian numbers in pairs.
    A pick never holds more than 80, so libphonenumber's own "01 23 45 67 89" is a phone; "06 12 34 56
    78" is one only next to a phone word (the caller skips this test then). Dashes or dots between
    the groups ("08-12 34 56") are how phones are written, not draws.
    """
    if len(groups) < 4 or any(len(g) != 2 for g in groups):
        return False
    if len(groups) > 5:
        return True
    spaced = cand.replace("\u00a0", " ") == " ".join(groups)
    return spaced and all(a < b for a, b in itertools.pairwise(groups)) and int(groups[-1]) <= 80


def _groups(cand: str) -> list[str]:
    return [g for g in _NON_DIGITS_RE.split(cand.replace("(0)", " ")) if g]


def _single_digit_inside(cand: str, groups: list[str]) -> bool:
    """A one-digit group past the first (or past the country code): a table cell unless printed so.

    "1-800-...", "0 5361 1281" and "+33 1 23 45 67 89" are the usual places; Côte d'Ivoire
    ("21 23 4 56789") and Kazakhstan ("8 (71234) 5 67 89") print one in the middle.
    """
    allowed = 2 if cand.lstrip("(").startswith("+") else 1
    return any(len(g) == 1 for g in groups[allowed:])


def _grouped_as_printed(cand: str, num: phonenumbers.PhoneNumber) -> bool:
    """Whether the groups after the first have the lengths libphonenumber prints for `num`.

    The first group is where writers differ ("+7", "007", "8" before the same area code); the rest
    of a number with a one-digit group inside must be exactly libphonenumber's INTERNATIONAL or
    NATIONAL grouping, which "5035 7 0 15 24" (table cells) never is.
    """
    written = [len(g) for g in _groups(cand)][1:]
    for fmt in (PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL):
        printed = [len(g) for g in _groups(phonenumbers.format_number(num, fmt))]
        if len(printed) > len(written) and printed[-len(written) :] == written:
            return True
    return False


def _plausible_shape(
    cand: str, digits: str, single_digit_inside_ok: bool = False, phone_word: bool = False
) -> bool:
    """Cheap refusals: wrong length, dates, versions and decimals written with dots, table cells.

    `single_digit_inside_ok`: the caller checks such groups against libphonenumber's printed grouping.
    `phone_word`: a phone word is near, so increasing pairs are a phone, not a draw.
    """
    if not 7 <= len(digits) <= 17:
        return False
    if _DATE_RE.match(cand) or _DATE_PREFIX_RE.match(cand):
        return False
    groups = _groups(cand)
    if "." in cand and "+" not in cand and any(len(g) < 2 for g in groups):
        return False  # versions, decimals: 1.2.3.4, 3.14
    if not single_digit_inside_ok and _single_digit_inside(cand, groups):
        return False
    if digits.startswith(("978", "979")) and len(digits) == 13:
        return False  # ISBN-13
    if "+" in cand or (phone_word and len(groups) <= 5):
        return True
    return not _lottery_like(cand, groups)


def _valid_international(cand: str, from_region: str | None, as_printed: bool) -> bool:
    """`from_region` supplies the exit code: "00" (most of the world, read as from DE) or "011" (NANPA).

    `as_printed`: the groups must also be libphonenumber's own (see `_grouped_as_printed`).
    """
    try:
        num = phonenumbers.parse(cand, from_region)
    except NumberParseException:
        return False
    return phonenumbers.is_valid_number(num) and (not as_printed or _grouped_as_printed(cand, num))


# Pager/voicemail/UAN ranges are where short digit strings without a trunk prefix become "valid"
# (German pagers: "16 40320" is a street number and a postcode).
_REFUSED_TYPES = {PhoneNumberType.PAGER, PhoneNumberType.VOICEMAIL, PhoneNumberType.UAN}


def _valid_national(
    cand: str, digits: str, regions: tuple[str, ...], bare_needs_mobile: bool, as_printed: bool
) -> bool:
    for region in regions:
        try:
            num = phonenumbers.parse(cand, region)
        except NumberParseException:
            continue
        # Valid for this very region: NANPA makes a Bermuda number "valid" when parsed as US. The US and
        # Canada write each other's numbers identically, so they count as one region here.
        plan = _SAME_PLAN.get(region, (region,))
        if not any(phonenumbers.is_valid_number_for_region(num, r) for r in plan):
            continue
        kind = phonenumbers.number_type(num)
        if kind in _REFUSED_TYPES or (bare_needs_mobile and kind != PhoneNumberType.MOBILE):
            continue
        if as_printed and not _grouped_as_printed(cand, num):
            continue
        national = _digits(phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL))
        if digits == national:
            return True
        prefix = _national_prefix(region)
        if region in _OPTIONAL_PREFIX and prefix and digits == prefix + national:
            # "1-800-...", "1 (415) ..." or "14155552671"; not "12 345678901" (a VAT number)
            first = re.match(r"\(?(\d+)", cand)
            if first and (first.group(1) == prefix or first.group(1) == digits):
                return True
    return False


def is_phone(cand: str, regions: tuple[str, ...], context: bool = True) -> bool:
    """Whether a candidate string is a dialable phone number.

    `context` says a phone word ("tel", "电话", ...) precedes it: without one, an unformatted national
    digit run must be a mobile number (document, account and shop numbers are often valid landlines,
    and NANPA numbers are "fixed line or mobile": a bare 10-digit US run needs a phone word).
    """
    core = _EXT_RE.sub("", cand)
    digits = _digits(core)
    if not _plausible_shape(core, digits, single_digit_inside_ok=True, phone_word=context):
        return False
    odd = _single_digit_inside(core, _groups(core))
    stripped = core.lstrip("(")
    if stripped.startswith("+"):
        return _valid_international(core, None, odd)
    if stripped.startswith("00") and not stripped.startswith("000"):
        return _valid_international(core, "DE", odd)
    if stripped.startswith("011") and _valid_international(core, "US", odd):
        return True
    bare = not context and digits == core
    return _valid_national(core, digits, regions, bare_needs_mobile=bare, as_printed=odd)


def _phone_shaped(cand: str) -> bool:
    """7-15 digits in phone-like groups (not a date, version, ISBN or lottery row)."""
    core = _EXT_RE.sub("", cand)
    digits = _digits(core)
    return len(digits) <= 15 and _plausible_shape(core, digits, phone_word=True)


def find_phones(text: str, regions: tuple[str, ...] = ("US", "GB", "CN", "DE", "FR")) -> list[Span]:
    """All phone numbers in `text` that are valid international numbers or national numbers of `regions`."""
    spans = []
    for m in PHONE_CANDIDATE_RE.finditer(text):
        cand = m.group()
        if len(cand) < 7:
            continue  # fewer than 7 digits: the most common candidate ("2023", "15")
        start, end = m.span()
        if cand.startswith("(") and ")" not in cand[1:]:
            cand, start = cand[1:], start + 1
        if cand.endswith(")") and "(" not in cand:
            cand, end = cand[:-1], end - 1
        before = text[max(0, start - 24) : start]
        tel = _TEL_BEFORE_RE.search(before) is not None
        if not cand.startswith("+") and not tel:
            if _CURRENCY_BEFORE_RE.search(before) or _CURRENCY_AFTER_RE.match(text, end):
                continue
            if _LABEL_BEFORE_RE.search(before) or _VAT_PREFIX_BEFORE_RE.search(before):
                continue
        strong = _TEL_RIGHT_BEFORE_RE.search(before) is not None or _TEL_AFTER_RE.match(text, end) is not None
        if is_phone(cand, regions, context=tel) or (strong and _phone_shaped(cand)):
            spans.append(Span(start, end, "phone"))
    return spans
