"""Precision/recall of the `pii` stage, per type, on labelled and on injected real text.

1. presidio-research synth_dataset_v2 (credit card, phone, e-mail, IBAN, US SSN, IP spans): strict
   numbers against its gold, plus how many gold phones are dialable numbers at all.
2. Real web text (English articles + Dolma CC docs, Chinese Skywork news/tech) with PII of every type
   injected at known offsets (Chinese: glued to the characters, no spaces). Detections the original
   text already had are not scored; they are counted and shown for eyeballing.
3. isemail test addresses: share of each category matched as one whole address.
4. False positives on PII-free text: lingua sentences in 30 languages, and sentence templates holding
   dates, prices, versions, ISBNs, order numbers and phone-like digit runs, and (for person/address)
   capitalised words, place names in prose, organisations, titles and product names.
5. Every detection in the unmodified web corpus.
6. Names and addresses in en/de/fr/es/zh sentences generated here with Faker (bench-only templates,
   fixed seed), a third of the surnames made up so they are in no name list; plus PII-free sentences.

Matching is span overlap with the right type: a gold span is found when a detection of its type
overlaps it; a detection is a false positive when it overlaps no gold span of its type.

Usage: python bench/pii_quality.py [--docs 300] [--seed 0] [--show 5] [--sections 1,2,3,4,5,6]
       [--person-model]
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import phonenumbers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from filters.pii import PiiDetector, all_types  # noqa: E402
from filters.pii.iban import iban_checksum_ok  # noqa: E402

DATA = REPO.parent / "shared" / "data"
PRESIDIO_TYPES = {
    "CREDIT_CARD": "credit_card",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "IBAN_CODE": "iban",
    "US_SSN": "us_ssn",
    "IP_ADDRESS": "ip_address",
    "PERSON": "person",
    "STREET_ADDRESS": "address",
}


def load_web_texts(lang: str, limit: int | None = None) -> list[str]:
    """Real web documents: English article bodies + Dolma CC docs, or Chinese Skywork texts."""
    texts: list[str] = []
    if lang == "en":
        gt = json.loads((DATA / "web_text_en/article_extraction_benchmark/ground-truth.json").read_text())
        texts += [v["articleBody"] for _, v in sorted(gt.items()) if v.get("articleBody")]
        dolma = DATA / "web_text_en/dolma_tests"
        for f in sorted(dolma.glob("*.jsonl")):
            texts += [json.loads(line)["text"] for line in f.open(encoding="utf-8") if line.strip()]
        with gzip.open(dolma / "000.json.gz", "rt", encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    else:
        for name in ("zh_general", "zh_news", "zh_tech"):
            f = DATA / f"web_text_zh/skywork_eval_loss/{name}.jsonl"
            texts += [json.loads(line)["text"] for line in f.open(encoding="utf-8") if line.strip()]
    texts = [t for t in texts if t.strip()]
    return texts[:limit] if limit else texts


# ---------------------------------------------------------------- scoring


class Score:
    def __init__(self) -> None:
        self.tp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.exact: Counter[str] = Counter()
        self.fp_examples: dict[str, list[str]] = defaultdict(list)
        self.fn_examples: dict[str, list[str]] = defaultdict(list)

    def add(self, text: str, gold: list[tuple[int, int, str]], pred, ignore=()) -> None:
        """Overlap match between gold and predicted spans of the same type; `ignore` spans are unscored."""
        used = set()
        for gs, ge, gk in gold:
            hit = next(
                (
                    i
                    for i, p in enumerate(pred)
                    if i not in used and p.kind == gk and p.start < ge and gs < p.end
                ),
                None,
            )
            if hit is None:  # a detection may cover several gold pieces (street line + postcode)
                hit = next(
                    (i for i, p in enumerate(pred) if p.kind == gk and p.start < ge and gs < p.end), None
                )
            if hit is None:
                self.fn[gk] += 1
                self.fn_examples[gk].append(text[max(0, gs - 30) : ge + 30].replace("\n", " | "))
            else:
                used.add(hit)
                self.tp[gk] += 1
                self.exact[gk] += pred[hit].start == gs and pred[hit].end == ge
        for i, p in enumerate(pred):
            if i in used or any(p.start < e and s < p.end for s, e in ignore):
                continue
            if any(p.start < ge and gs < p.end and p.kind == gk for gs, ge, gk in gold):
                continue
            self.fp[p.kind] += 1
            self.fp_examples[p.kind].append(
                f"{text[p.start : p.end]!r} in ...{text[max(0, p.start - 30) : p.end + 30]!r}..."
            )

    def table(self, title: str, kinds) -> str:
        rows = [
            f"\n{title}",
            f"{'type':<12} {'gold':>5} {'TP':>5} {'FP':>4} {'FN':>4} {'prec':>6} {'recall':>6} exact",
        ]
        for k in kinds:
            tp, fp, fn = self.tp[k], self.fp[k], self.fn[k]
            if tp + fp + fn == 0:
                continue
            p = tp / (tp + fp) if tp + fp else float("nan")
            r = tp / (tp + fn) if tp + fn else float("nan")
            ex = self.exact[k] / tp if tp else float("nan")
            rows.append(f"{k:<12} {tp + fn:>5} {tp:>5} {fp:>4} {fn:>4} {p:>6.3f} {r:>6.3f} {ex:.2f}")
        return "\n".join(rows)

    def examples(self, n: int) -> str:
        out = []
        for k, ex in sorted(self.fp_examples.items()):
            out += [f"  FP {k}: {e}" for e in ex[:n]]
        for k, ex in sorted(self.fn_examples.items()):
            out += [f"  FN {k}: {e!r}" for e in ex[:n]]
        return "\n".join(out)


# ---------------------------------------------------------------- 1. presidio


def _dialable_anywhere(value: str) -> bool:
    """Valid as written, in any region (national format with its trunk prefix) or internationally."""
    from filters.pii.phones import is_phone

    return is_phone(value, tuple(sorted(phonenumbers.SUPPORTED_REGIONS)))


def bench_presidio(detector: PiiDetector, show: int) -> None:
    from filters.pii.phones import is_phone

    data = json.loads((DATA / "pii/presidio_research/synth_dataset_v2.json").read_text())
    score, dialable_score = Score(), Score()
    regions = detector.phone_regions
    n_phones = n_dialable = n_anywhere = 0
    for ex in data:
        text = ex["full_text"]
        gold, not_dialable = [], []
        for s in ex["spans"]:
            if s["entity_type"] not in PRESIDIO_TYPES:
                continue
            span = (s["start_position"], s["end_position"], PRESIDIO_TYPES[s["entity_type"]])
            gold.append(span)
            if span[2] == "phone":
                n_phones += 1
                n_anywhere += _dialable_anywhere(s["entity_value"])
                if is_phone(s["entity_value"], regions):
                    n_dialable += 1
                else:
                    not_dialable.append(span)
        pred = detector.find(text)
        score.add(text, gold, pred)
        dialable_score.add(
            text,
            [g for g in gold if g not in not_dialable],
            pred,
            ignore=[(s, e) for s, e, _ in not_dialable],
        )
    print(
        score.table(f"[1] presidio synth_dataset_v2 ({len(data)} samples), strict overlap match", all_types())
    )
    print(
        f"  gold phones: {n_phones}; dialable as written in the configured regions {list(regions)}: "
        f"{n_dialable}; in any of {len(phonenumbers.SUPPORTED_REGIONS)} regions: {n_anywhere}.\n"
        "  Faker writes local numbers without area code ('467 3395'), unallocated ranges and other\n"
        "  countries' formats; those are not phone numbers anyone could dial from the configured regions."
    )
    print(
        dialable_score.table(
            "  phone, scored only against the gold numbers dialable in those regions:", ["phone"]
        )
    )
    if show:
        print(score.examples(show))


# ---------------------------------------------------------------- 2. injected PII


def _luhn_complete(prefix: str, length: int, rnd: random.Random) -> str:
    body = prefix + "".join(rnd.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for c in "0123456789":
        digits = body + c
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d for i, d in enumerate(map(int, digits[::-1]))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError


def gen_card(rnd: random.Random) -> str:
    prefix, length = rnd.choice(
        [
            ("4", 16),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("34", 15),
            ("37", 15),
            ("6011", 16),
            ("3528", 16),
            ("62", 16),
            ("36", 14),
            ("4", 13),
        ]
    )
    n = _luhn_complete(prefix, length, rnd)
    style = rnd.choice(["bare", "space", "dash"])
    if style == "bare":
        return n
    sep = " " if style == "space" else "-"
    groups = [n[:4], n[4:10], n[10:]] if length == 15 else [n[i : i + 4] for i in range(0, length, 4)]
    return sep.join(groups)


_IBAN_SPECS = {
    "DE": "18n",
    "GB": "4a14n",
    "FR": "23n",
    "NL": "4a10n",
    "ES": "20n",
    "IT": "1a22n",
    "CH": "17n",
    "PL": "24n",
}


def gen_iban(rnd: random.Random) -> str:
    cc = rnd.choice(sorted(_IBAN_SPECS))
    spec = _IBAN_SPECS[cc]
    bban = ""
    for count, cls in (
        (int(part[:-1]), part[-1]) for part in spec.replace("a", "a ").replace("n", "n ").split()
    ):
        bban += "".join(
            rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ" if cls == "a" else "0123456789") for _ in range(count)
        )
    for check in range(2, 99):
        iban = f"{cc}{check:02d}{bban}"
        if iban_checksum_ok(iban):
            break
    if rnd.random() < 0.5:
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def gen_ssn(rnd: random.Random) -> str:
    area = rnd.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rnd.randint(1, 99):02d}-{rnd.randint(1, 9999):04d}"


def gen_cn_id(rnd: random.Random) -> str:
    region = rnd.choice(["110101", "310104", "440305", "510107", "610113", "650102", "330106", "420102"])
    birth = f"{rnd.randint(1950, 2005)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
    body = f"{region}{birth}{rnd.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def gen_email(rnd: random.Random) -> str:
    local = rnd.choice(
        [
            "john.doe",
            "o'brien",
            "alex+news",
            "first_last",
            "x",
            "mary-ann.smith",
            "J.R.R.Tolkien",
            "user%relay",
            "a!b#c",
            "test.email+alex.leetcode",
            "wang.wei88",
            "li_na2020",
            "{ops}",
        ]
    )
    domain = rnd.choice(
        [
            "example.com",
            "mail.example.co.uk",
            "uni-heidelberg.de",
            "163.com",
            "qq.com",
            "company.io",
            "sub.domain.example.org",
            "xn--fiqs8s.cn",
            "gmail.com",
        ]
    )
    return f"{local}@{domain}"


_PHONE_FORMATS = [
    "+1 ({a}) {e}-{l}",
    "({a}) {e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "+1-{a}-{e}-{l}",
    "1-{a}-{e}-{l}",
    "+44 20 {d4} {d4}",
    "020 {d4} {d4}",
    "07{d3} {d6}",
    "+44 7{d3} {d6}",
    "+86 13{d1} {d4} {d4}",
    "13{d1}{d4}{d4}",
    "13{d1} {d4} {d4}",
    "010-{d8x}",
    "+86 10 {d4} {d4}",
    "+49 30 {d8x}",
    "030 {d8x}",
    "0151 {d8x}",
    "+49 (0)30 {d7}",
    "+33 1 {d2} {d2} {d2} {d2}",
    "01 {d2} {d2} {d2} {d2}",
    "06 {d2} {d2} {d2} {d2}",
    "+33 6 {d2} {d2} {d2} {d2}",
    "+81 3-{d4}-{d4}",
    "+91 98{d3} {d5}",
    "+61 2 {d4} {d4}",
    "+55 11 9{d4}-{d4}",
]


def gen_phone(rnd: random.Random) -> str:
    """Numbers in common written formats; only ones libphonenumber calls valid are injected."""

    def digits(n: int, first: str = "0123456789") -> str:
        return rnd.choice(first) + "".join(rnd.choice("0123456789") for _ in range(n - 1))

    for _ in range(1000):
        fmt = rnd.choice(_PHONE_FORMATS)
        value = fmt.format(
            a=rnd.choice(["212", "415", "617", "312", "206", "303", "512", "646"]),
            e=digits(3, "23456789"),
            l=digits(4),
            d1=digits(1),
            d2=digits(2),
            d3=digits(3),
            d4=digits(4, "23456789"),
            d5=digits(5),
            d6=digits(6),
            d7=digits(7, "2345"),
            d8x=digits(8, "2345"),
        )
        region = "US" if not value.startswith(("+", "0", "13")) else ("CN" if value.startswith("1") else "DE")
        region = {"02": "GB", "07": "GB", "01": "FR", "06": "FR"}.get(value[:2], region)
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return value
        except phonenumbers.NumberParseException:
            continue
    raise AssertionError("no valid phone generated")


def gen_ip(rnd: random.Random) -> str:
    kind = rnd.random()
    if kind < 0.6:
        while True:
            v = ".".join(str(rnd.randint(0, 255)) for _ in range(4))
            if rnd.randint(1, 223) and not v.startswith(("0.", "127.")):
                return v
    if kind < 0.8:
        return ":".join(f"{rnd.randint(0, 0xFFFF):x}" for _ in range(8))
    return f"2001:db8:{rnd.randint(1, 0xFFFF):x}::{rnd.randint(1, 0xFFFF):x}"


def gen_secret(rnd: random.Random) -> str:
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    pick = rnd.randrange(6)
    if pick == 0:
        return "AKIA" + "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    if pick == 1:
        return "ghp_" + "".join(rnd.choice(alnum) for _ in range(36))
    if pick == 2:
        return "glpat-" + "".join(rnd.choice(alnum + "_-") for _ in range(20))
    if pick == 3:
        return f"xoxb-{rnd.randint(10**11, 10**12)}-{rnd.randint(10**11, 10**12)}-" + "".join(
            rnd.choice(alnum) for _ in range(24)
        )
    if pick == 4:

        def seg(obj):
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        sig = "".join(rnd.choice(alnum + "_-") for _ in range(43))
        return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg({'sub': str(rnd.randint(1, 10**9))})}.{sig}"
    return "PASSWORD"  # marker: injected as a URL with a password, only the password is gold


GENERATORS = {
    "email": gen_email,
    "phone": gen_phone,
    "ip_address": gen_ip,
    "credit_card": gen_card,
    "iban": gen_iban,
    "us_ssn": gen_ssn,
    "cn_id": gen_cn_id,
    "secret": gen_secret,
}


def inject(text: str, rnd: random.Random, lang: str, k: int):
    """Insert k PII values at random positions; returns (text, gold spans, original-offset map)."""
    if lang == "en":
        slots = [i for i, c in enumerate(text) if c == " "]
    else:
        slots = [i for i in range(1, len(text)) if not (text[i - 1].isascii() or text[i].isascii())]
    if not slots:
        return None
    picks = sorted(rnd.sample(slots, min(k, len(slots))))
    parts, gold, pos, shift = [], [], 0, []
    out_len = 0
    for p in picks:
        parts.append(text[pos:p])
        out_len += p - pos
        kind = rnd.choice(sorted(GENERATORS))
        value = GENERATORS[kind](rnd)
        # English: inside prose punctuation ("(...)", "...,", "<...>"); Chinese: glued to the characters.
        if lang == "en":
            pre = rnd.choice([" ", " (", ' "', " <", " :"])
            post = rnd.choice([" ", ") ", ". ", ", ", "; ", "> ", '" '])
        else:
            pre, post = "", ""
        if value == "PASSWORD":
            pw = "".join(rnd.choice("abcdefghijkmnpqrstuvwxyz23456789!$%") for _ in range(12))
            url = f"https://deploy:{pw}@git.example.com/repo.git"
            gs = out_len + len(pre) + url.index(":", 6) + 1
            gold.append((gs, gs + len(pw), kind))
            value = url
        else:
            gold.append((out_len + len(pre), out_len + len(pre) + len(value), kind))
        ins = pre + value + post
        parts.append(ins)
        shift.append((p, len(ins)))
        out_len += len(ins)
        pos = p
    parts.append(text[pos:])
    return "".join(parts), gold, shift


def bench_injected(detector: PiiDetector, docs: int, seed: int, show: int) -> None:
    rnd = random.Random(seed)
    for lang in ("en", "zh"):
        texts = load_web_texts(lang, docs)
        score = Score()
        pre_existing: list[str] = []
        for text in texts:
            original = detector.find(text)
            injected = inject(text, rnd, lang, 4)
            if injected is None:
                continue
            new_text, gold, shift = injected

            def moved(i: int, shift=shift) -> int:
                return i + sum(n for p, n in shift if p <= i)

            ignore = [(moved(s.start), moved(s.end - 1) + 1) for s in original]
            pre_existing += [f"{s.kind}: {text[s.start : s.end]!r}" for s in original]
            score.add(new_text, gold, detector.find(new_text), ignore=ignore)
        print(
            score.table(
                f"[2] real web text ({lang}, {len(texts)} docs) with PII injected at known offsets",
                all_types(),
            )
        )
        print(f"  detections already in the original {lang} text (not scored): {len(pre_existing)}")
        for line in pre_existing[: max(show, 0) * 3]:
            print(f"    {line}")
        if show:
            print(score.examples(show))


# ---------------------------------------------------------------- 3. isemail


def bench_isemail(detector: PiiDetector) -> None:
    rows = list(
        csv.DictReader((DATA / "pii/isemail/isemail_tests.tsv").open(encoding="utf-8"), delimiter="\t")
    )
    matched: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row in rows:
        addr = row["address"]
        spans = detector.find(f"mail: {addr} .")
        whole = any(s.kind == "email" and s.start == 6 and s.end == 6 + len(addr) for s in spans)
        total[row["category"]] += 1
        matched[row["category"]] += whole
    print("\n[3] isemail tests: share of addresses matched whole, per category")
    notes = {
        "ISEMAIL_VALID_CATEGORY": "valid",
        "ISEMAIL_DNSWARN": "valid (DNS warnings)",
        "ISEMAIL_RFC5321": "valid per RFC 5321 (quoted, literals)",
        "ISEMAIL_CFWS": "valid only with comments/FWS",
        "ISEMAIL_DEPREC": "deprecated syntax",
        "ISEMAIL_ERR": "invalid: should NOT match",
    }
    for cat in (
        "ISEMAIL_VALID_CATEGORY",
        "ISEMAIL_DNSWARN",
        "ISEMAIL_RFC5321",
        "ISEMAIL_CFWS",
        "ISEMAIL_DEPREC",
        "ISEMAIL_ERR",
    ):
        print(f"  {cat:<24} {matched[cat]:>3}/{total[cat]:<3} {notes[cat]}")


# ---------------------------------------------------------------- 4. false positives


LOOKALIKES = {
    "date": [
        "Published 2023-04-07 by the editor.",
        "On 07/04/2023 the shop closed.",
        "Due 12.05.2019, paid 13.05.2019.",
        "Seasons 1998-2004 were the best.",
        "Log 2021/11/30 12:20:39 started",
        "发布于2023年4月7日",
        "Build 20230407 released",
        "from 1990 - 2000 and 2001–2005",
    ],
    "price": [
        "It costs $1,299.00 today.",
        "Preis: 1.299,00 € inkl. MwSt.",
        "Only 1 299 000 € for the villa.",
        "售价¥12999元",
        "Total: USD 2,450,000.50",
        "£ 1 250 000 asking price",
    ],
    "version": [
        "Upgrade to version 1.2.3.4 in prose.",
        "See section 1.1.2.1 for details.",
        "Chrome 118.0.5993.117 is out",
        "Python 3.11.7 and numpy 2.4.1",
        "firmware v2.10.3.15 fixes it",
        "§ 4.3.2.1 applies",
        "build 10.0.19045.3570",
    ],
    "isbn": [
        "ISBN 978-3-16-148410-0 (hardcover)",
        "ISBN-13: 9783161484100",
        "ISBN 0-306-40615-2",
        "ISSN 0317-8471",
    ],
    "order": [
        "Order #2125550123 shipped.",
        "Invoice No. 4155552671 attached.",
        "Tracking: 9400111899223344556677",
        "订单号：202304071234567",
        "Ticket ID 61234567890",
        "Your order 1Z999AA10123456784 shipped",
        "Ref: 123-456-7890-12",
    ],
    "digits": [
        "Population 1 234 567 in 2020.",
        "Counts: 12 34 56 78 90 11",
        "Serial 4111111111111112 (not Luhn)",
        "Coordinates 40.7128, -74.0060",
        "Timestamp 1590348492 and 1590348492427",
        "pi = 3.14159265358979",
        "VAT DE123456789 and FR 12 345678901",
        "IBAN-like GB82 WEST 1234 5698 7654 33 (bad check)",
        "SSN-like 000-12-3456 and 666-12-3456",
        "Phone-like 123-456-7890",
        "ID 110101199003071234 (bad check)",
        "Call 555-0100",
        "Scores 98 87 76 65 54",
        "Zip 94103-1234",
    ],
}


def bench_false_positives(detector: PiiDetector, show: int) -> None:
    lingua = sorted((DATA / "langid/lingua_sentences").glob("*.txt"))
    fps: Counter[str] = Counter()
    examples = []
    n = 0
    for f in lingua:
        for line in f.read_text(encoding="utf-8").split("\n"):
            if not line:
                continue
            n += 1
            for s in detector.find(line):
                fps[s.kind] += 1
                examples.append(f"{f.stem} {s.kind}: {line[s.start : s.end]!r} in {line[:120]!r}")
    print(
        f"\n[4a] lingua sentences ({n} in {len(lingua)} languages): "
        f"{sum(fps.values())} detections {dict(fps)}.\n"
        "  These web sentences are not PII-free (real contact lines); every non-e-mail detection is listed\n"
        "  for review (e-mails: first few only)."
    )
    shown_emails = 0
    for e in examples:
        is_email = " email: " in e
        if not is_email or shown_emails < show:
            print(f"  {e}")
        shown_emails += is_email
    print("\n[4b] look-alike templates (all PII-free): detections per category")
    for cat, lines in LOOKALIKES.items():
        hits = [(line, line[s.start : s.end], s.kind) for line in lines for s in detector.find(line)]
        print(f"  {cat:<8} {len(lines):>3} sentences -> {len(hits)} false positives")
        for line, value, kind in hits:
            print(f"      {kind}: {value!r} in {line!r}")


# ---------------------------------------------------------------- 4c/6. names and addresses

# PII-free sentences full of capitalised words: organisations, places in prose, titles, products.
NAME_LOOKALIKES = [
    "The New York Times reported that Apple Inc. will open a store on Main Street.",
    "We read The Great Gatsby and Pride and Prejudice in school.",
    "Microsoft Teams, Google Docs and Adobe Photoshop are installed.",
    "The flight from San Francisco to Los Angeles was delayed.",
    "Der Bundestag in Berlin hat das Gesetz am Montag beschlossen.",
    "Die Deutsche Bahn fährt von München nach Hamburg.",
    "La Tour Eiffel et le Louvre sont à Paris.",
    "Le Monde et Le Figaro ont publié un article sur la Banque de France.",
    "El Real Madrid ganó la Liga en el estadio Santiago Bernabéu.",
    "La Casa Blanca y el Museo del Prado reciben muchos visitantes.",
    "The Rolling Stones played at Madison Square Garden in 1994.",
    "Samsung Galaxy S24 and iPhone 15 Pro Max compared.",
    "Visit Central Park, Times Square and the Empire State Building.",
    "Harry Potter and the Philosopher's Stone sold millions.",
    "North Carolina and South Dakota voted on Tuesday.",
    "He studied at Stanford University and worked at Goldman Sachs.",
    "Mercedes-Benz and Volkswagen reported higher sales in China.",
    "Chapter 7 of the Highway Code covers Route 66 and Interstate 95.",
    "Main Street and Elm Street cross near the old church.",
    "The 2024 Summer Olympics were held in Paris.",
    "北京大学和清华大学都在海淀区。",
    "中国银行和工商银行发布了年报。",
    "张家界和黄山是著名的旅游景点。",
    "王府井大街是北京有名的商业街。",
    "李宁和华为都是中国品牌。",
]

_NAME_TEMPLATES = {
    "en": [
        "Yesterday {name} signed the lease for {addr}.",
        "Please forward all mail for {name} to {addr}, thanks.",
        "Our new tenant, {name}, moved into {addr} last spring.",
        "Minutes taken by {name}; next meeting at {addr}.",
        "Shipping label: {name}, {addr}",
    ],
    "de": [
        "Gestern hat {name} den Mietvertrag für {addr} unterschrieben.",
        "Bitte schicken Sie die Unterlagen an {name}, {addr}.",
        "Die Praxis von {name} befindet sich in der {addr}.",
        "Protokoll: {name}. Nächstes Treffen: {addr}.",
    ],
    "fr": [
        "Hier, {name} a signé le bail pour le {addr}.",
        "Merci d'envoyer le colis à {name}, {addr}.",
        "Le cabinet de {name} se trouve au {addr}.",
        "Compte rendu rédigé par {name} ; prochaine réunion au {addr}.",
    ],
    "es": [
        "Ayer {name} firmó el contrato de alquiler de {addr}.",
        "Por favor, envíe el paquete a {name}, {addr}.",
        "La consulta de {name} está en {addr}.",
        "Acta redactada por {name}; próxima reunión en {addr}.",
    ],
    "zh": [
        "昨天{name}签了{addr}的租房合同。",
        "请把文件寄给{name}，地址是{addr}。",
        "{name}的诊所位于{addr}，欢迎预约。",
        "会议记录人{name}，下次会议在{addr}召开。",
    ],
}
_LOCALES = {"en": "en_US", "de": "de_DE", "fr": "fr_FR", "es": "es_ES", "zh": "zh_CN"}


def _made_up_surname(rnd: random.Random) -> str:
    """A pronounceable surname in no name list: tests the context rules, not the gazetteer."""
    syll = ["ka", "lo", "vi", "dre", "mun", "sel", "tor", "bax", "qui", "ren", "zo", "fal", "gri", "hup"]
    return "".join(rnd.choice(syll) for _ in range(rnd.randint(2, 3))).capitalize()


def generated_set(seed: int, per_lang: int = 200) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
    """(lang, text, gold) sentences built from Faker's per-locale names and addresses."""
    from faker import Faker

    rnd = random.Random(seed)
    out = []
    for lang, locale in _LOCALES.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        for i in range(per_lang):
            if lang == "zh":
                name = fake.name()
                street = fake.street_name()
                addr = (
                    f"{fake.province()}{fake.city_name()}市{fake.district()}区{street}"
                    f"{rnd.randint(1, 999)}号"
                    + rnd.choice(["", f"{rnd.randint(1, 30)}栋{rnd.randint(101, 2808)}室"])
                )
            else:
                first, last = fake.first_name(), fake.last_name()
                if rnd.random() < 1 / 3:
                    last = _made_up_surname(rnd)
                name = f"{first} {last}" if rnd.random() < 0.8 else f"{rnd.choice(_TITLE[lang])} {last}"
                street = fake.street_address()
                addr = street if rnd.random() < 0.4 else f"{street}, {fake.postcode()} {fake.city()}"
                if lang == "en" and addr != street:
                    addr = f"{street}, {fake.city()}, {fake.state_abbr()} {fake.postcode()}"
            template = _NAME_TEMPLATES[lang][i % len(_NAME_TEMPLATES[lang])]
            gold = []
            text = ""
            for part in re.split(r"(\{name\}|\{addr\})", template):
                if part in ("{name}", "{addr}"):
                    value = name if part == "{name}" else addr
                    if (
                        part == "{name}"
                        and lang != "zh"
                        and " " in value
                        and value.split()[0] in _TITLE[lang]
                    ):
                        title = value.split()[0] + " "
                        text += title
                        value = value[len(title) :]
                    gold.append(
                        (len(text), len(text) + len(value), "person" if part == "{name}" else "address")
                    )
                    text += value
                else:
                    text += part
            out.append((lang, text, gold))
    return out


_TITLE = {
    "en": ["Mr.", "Mrs.", "Dr."],
    "de": ["Herr", "Frau", "Dr."],
    "fr": ["M.", "Mme"],
    "es": ["Sr.", "Sra."],
}


def bench_generated(detector: PiiDetector, seed: int, show: int) -> None:
    rows = generated_set(seed)
    by_lang: dict[str, Score] = defaultdict(Score)
    total = Score()
    for lang, text, gold in rows:
        pred = [p for p in detector.find(text) if p.kind in ("person", "address")]
        by_lang[lang].add(text, gold, pred)
        total.add(text, gold, pred)
    print(
        total.table(
            f"[6] generated names/addresses ({len(rows)} sentences, en/de/fr/es/zh, seed {seed})",
            ["person", "address"],
        )
    )
    for lang, score in by_lang.items():
        print(score.table(f"  {lang}:", ["person", "address"]).replace("\ntype", "\n  type"))
    if show:
        print(total.examples(show))


def bench_name_lookalikes(detector: PiiDetector) -> None:
    hits = [
        (line, line[s.start : s.end], s.kind)
        for line in NAME_LOOKALIKES
        for s in detector.find(line)
        if s.kind in ("person", "address")
    ]
    print(
        f"\n[4c] PII-free sentences of organisations, places, titles, products ({len(NAME_LOOKALIKES)}): "
        f"{len(hits)} person/address detections"
    )
    for line, value, kind in hits:
        print(f"      {kind}: {value!r} in {line!r}")


def bench_raw_corpus(detector: PiiDetector) -> None:
    """Everything found in the unmodified web corpus, listed in full for a human to judge."""
    docs = load_web_texts("en") + load_web_texts("zh")
    found: Counter[str] = Counter()
    lines = []
    for text in docs:
        for s in detector.find(text):
            found[s.kind] += 1
            context = text[max(0, s.start - 25) : s.end + 10].replace("\n", " | ")
            lines.append(f"  {s.kind}: {text[s.start : s.end]!r} in ...{context}...")
    print(f"\n[5] unmodified real web text ({len(docs)} en+zh docs): {dict(found)}; every detection:")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=300, help="documents per language for the injection test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=5, help="examples of errors to print per type")
    ap.add_argument("--sections", default="1,2,3,4,5,6", help="comma-separated sections to run")
    ap.add_argument("--person-model", action="store_true", help="add the person CRF to the rules")
    args = ap.parse_args()
    on = set(args.sections.split(","))
    t0 = time.time()
    detector = PiiDetector(all_types(), person_model=args.person_model)
    if "1" in on:
        bench_presidio(detector, args.show)
    if "2" in on:
        bench_injected(detector, args.docs, args.seed, args.show)
    if "3" in on:
        bench_isemail(detector)
    if "4" in on:
        bench_false_positives(detector, args.show)
        bench_name_lookalikes(detector)
    if "5" in on:
        bench_raw_corpus(detector)
    if "6" in on:
        bench_generated(detector, args.seed, args.show)
    print(f"\n({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
