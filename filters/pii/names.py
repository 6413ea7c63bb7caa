"""Person names: gazetteer + context rules, for Latin-script text (en, de, fr, es, ...) and Chinese.

The rules find names where a name list *and* the shape of the text agree. On request
(`person_model: true`), `find_persons` adds the spans of a small CRF that winnow trains itself
(`person_crf.py`) for names without a cue.

Latin script. A run of capitalised words (with initials and particles such as `van`, `de la`) is a
person when
- a title or cue comes right before it (`Mr.`, `Frau`, `Mme`, `Sra.`, `Dear`, `my name is`,
  `je m'appelle`, `me llamo`, `Name:`), whatever the words are; or
- it holds a known first name followed by more name-like words (`Julian Azevedo`), or an unknown or
  ambiguous capitalised word followed by a known last name (`Will Smith`); or
- it is a single known first name that is not also an everyday word, a country or a city
  (`Jose`, not `Will`, `Florence` or `Jordan`).
Runs holding an organisation or place word (`Inc.`, `Street`, `University`, `Times`) are not people.

Chinese. A surname from the list plus one or two characters, when a title follows (`王小明先生`,
`王先生` alone is left), a cue precedes (`联系人：张伟`, `记者王芳`) or a speech verb follows
(`张伟表示`).

The lists are Faker's (MIT), extracted by ``winnow build-pii-gazetteer`` into
`person_names.txt.gz`; see `filters/pii/gazetteer_build.py`.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from typing import NamedTuple

from filters.pii.addresses import _EN_TYPES, _ROMANCE_TYPES
from filters.pii.gazetteer_build import GAZETTEER_PATH
from filters.pii.spans import Span


def _words(block: str) -> list[str]:
    """Whitespace-separated words of a text block (keeps long word lists readable)."""
    return block.split()


class Gazetteer(NamedTuple):
    first: frozenset[str]
    last: frozenset[str]
    ambiguous: frozenset[str]  # lower case
    zh_surnames: frozenset[str]
    zh_given: frozenset[str]


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The shipped lists, loaded once per process (about 40k names, 0.1 s)."""
    kinds: dict[str, set[str]] = {"F": set(), "L": set(), "A": set(), "ZS": set(), "ZG": set()}
    with gzip.open(GAZETTEER_PATH, "rt", encoding="utf-8") as fh:
        for line in fh:
            kind, _, word = line.rstrip("\n").partition("\t")
            kinds[kind].add(word)
    return Gazetteer(*(frozenset(kinds[k]) for k in ("F", "L", "A", "ZS", "ZG")))


_UP = "A-ZÀ-ÖØ-ÞĀĂĄĆĈĊČĎĐĒĖĘĚĜĞĠĢĤĦĨĪĮİĴĶĹĻĽŁŃŅŇŌŐŒŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ"
_LO = "a-zß-öø-ÿāăąćĉċčďđēėęěĝğġģĥħĩīįıĵķĺļľłńņňōőœŕŗřśŝşšţťŧũūŭůűųŵŷźżž"
_WORD = rf"[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?(?:[-'’][{_UP}][{_LO}]+)*"
_PARTICLE = r"(?:van|von|de|der|den|du|da|di|del|della|des|la|le|ten|ter|y|bin|ibn|al|el|dos|das|zu|af)"
# A run: capitalised words joined by one space, with initials ("J." "J") and particles in between.
_RUN_RE = re.compile(
    rf"(?<![\w{_UP}{_LO}]){_WORD}(?:[ \u00a0](?:[{_UP}]\.?[ \u00a0])*(?:{_PARTICLE}[ \u00a0])*{_WORD}){{0,4}}"
    rf"(?![\w{_LO}])"
)
_TOKEN_RE = re.compile(rf"{_WORD}|[{_UP}]\.?|{_PARTICLE}")

# Right before a run: titles and address forms (the title itself is not part of the name).
_CUE_RE = re.compile(
    r"(?:\b(?:mr|mrs|ms|mx|miss|dr|prof|sir|herr|frau|hr|fr|m|mme|mlle|me|sr|sra|srta|don|doña|dña|"
    r"señor|señora|señorita|madame|monsieur|mademoiselle|dear|hi|hello|hey|liebe|lieber|hallo|"
    r"sehr geehrte|sehr geehrter|cher|chère|bonjour|salut|estimado|estimada|querido|querida|hola|"
    r"my name is|name is|i am|i'm|i’m|named|called|signed|regards|ich heiße|ich bin|mein name ist|"
    r"je m'appelle|je m’appelle|je suis|mon nom est|me llamo|mi nombre es|soy|"
    r"name|nom|nombre|contact|contacto|kontakt|author|autor|auteur|by|von|par|por|with|mit|avec|con|"
    r"attn|patient|client|cliente|kunde|employee)"
    r"\.?[:,]?[ \u00a0]{1,2})$",
    re.IGNORECASE,
)
# Cues that are strong enough alone (any capitalised word after them is a name).
_STRONG_CUES = frozenset(
    [
        *_words("mr mrs ms mx miss dr prof sir herr frau hr fr mme mlle sr sra srta doña dña señor señora"),
        *_words("señorita madame monsieur mademoiselle dear liebe lieber cher chère estimado estimada"),
        *_words("querido querida named called name nom nombre attn"),
        "my name is", "name is", "i am", "i'm", "i’m", "ich heiße", "mein name ist", "je m'appelle",
        "je m’appelle", "mon nom est", "me llamo", "mi nombre es",
    ]
)  # fmt: skip
_STRONG_CUE_WORDS = frozenset(
    _words(
        """
        mr mrs ms mx miss dr prof sir herr frau hr fr mme mlle sr sra srta doña dña señor señora
        señorita madame monsieur mademoiselle dear liebe lieber cher chère estimado estimada querido
        querida named called heiße appelle llamo name nom nombre attn
        """
    )
)
# Titles inside a capitalised run ("Frau Anna Müller"): not part of the name, and a strong cue.
_TITLES = frozenset(
    _words(
        """
        mr mrs ms mx miss dr prof herr frau hr fr mme mlle sr sra srta señor señora señorita monsieur
        madame mademoiselle don doña sir dame lord lady professor professorin doctor doktor docteur
        doctora president präsident präsidentin président presidente senator sénateur senador judge
        richter juge juez
        """
    )
)
# Last word of every strong cue: only then is an unlisted word looked at.
_CUE_LAST = frozenset(w.split()[-1].strip(".") for w in _STRONG_CUES if w.strip()) | _STRONG_CUE_WORDS
# Words that make a run an organisation, place or work title, not a person.
_NOT_PERSON = (
    frozenset(
        _words(
            """
            inc ltd llc plc gmbh ag kg sa sas sarl sl srl bv nv co corp corporation company companies
            group holding holdings bank university universität université universidad college school
            institute institut instituto hospital clinic hotel restaurant cafe café bar club center
            centre museum foundation stiftung fundación fondation association verein society church
            cathedral kirche street st avenue ave road rd boulevard blvd lane drive way place square
            park bridge station airport port river lake mountain mount valley island islands beach
            county city town village state states republic kingdom province district region times post
            journal news herald tribune magazine press media records studios pictures films music
            radio tv channel network award awards prize cup league championship series festival day
            week act law bill war battle treaty straße strasse platz weg gasse allee rue calle plaza
            avenida via rua apt suite unit
            """
        )
    )
    | frozenset(t.lower() for t in _EN_TYPES.split("|"))
    | frozenset(t.lower().rstrip("\\.?") for t in _ROMANCE_TYPES.split("|"))
)
# Capitalised words that open sentences or are never names on their own.
_NEVER_NAME = frozenset(
    _words(
        """
        the a an this that these those there here in on at for with and but or if when while after
        before since as of to by from not no yes all any each every some my your his her our their its
        who what which where why how we you he she it they i le la les un une des du ce cette il elle
        ils elles nous vous je der die das ein eine einer dem den des und oder aber wenn ich du er sie
        es wir ihr el los las una unos unas del al y o pero si yo tu él ella nosotros ellos dear sir
        madam customer customers friends team colleagues sirs kunde kunden damen herren client clients
        cliente clientes señores mesdames messieurs monsieur madame mr mrs ms dr prof god lord jesus
        christ mom dad mum mama papa
        """
    )
)

# ---------------------------------------------------------------- Chinese

_ZH_TITLES = (
    "先生|女士|小姐|太太|夫人|老师|教授|医生|大夫|经理|总经理|主任|同学|博士|律师|董事长|院士|书记|"
    "市长|省长|县长|主席|部长|局长|处长|科长|校长|院长|所长|总裁|总监|师傅|阿姨|警官|护士|工程师|会计"
)
_ZH_CUES = (
    "我叫|名叫|叫做|姓名|联系人|收件人|收货人|寄件人|作者|记者|通讯员|主持人|患者|嫌疑人|负责人|经办人|"
    "申请人|法定代表人|代理人|签名|署名|客户|学生|员工|用户名|昵称|致|感谢|寄给|交给|转交|发给|记录人|登记人"
)
_ZH_VERBS = "说|表示|指出|称|认为|告诉|介绍|回忆|透露|强调|笑着说|坦言|解释"
# Characters that cannot be inside a given name: function words and punctuation-like characters.
_ZH_STOP = set("的了是在和与及对向给被把让由从为这那位名个说叫请找跟同也都就还又而且但或等中上下里年月日号")
_CJK = "\u4e00-\u9fff"
_ZH_TITLE_RE = re.compile(rf"(?<=[{_CJK}])(?:{_ZH_TITLES})")
_ZH_CUE_RE = re.compile(rf"(?:{_ZH_CUES})[:：]?\s?(?=[{_CJK}])")
_ZH_RUN_RE = re.compile(rf"[{_CJK}]{{3,}}")
_ZH_VERB_RE = re.compile(rf"(?<=[{_CJK}])(?:{_ZH_VERBS})")


def _zh_surname_at(text: str, i: int, g: Gazetteer) -> int:
    """Length of the surname starting at i (2 for compound surnames like 欧阳), or 0."""
    if text[i : i + 2] in g.zh_surnames:
        return 2
    return 1 if text[i] in g.zh_surnames else 0


def _zh_given_ok(chars: str) -> bool:
    return all("\u4e00" <= c <= "\u9fff" and c not in _ZH_STOP for c in chars)


def _find_zh(text: str, g: Gazetteer) -> list[Span]:
    spans: list[Span] = []
    # Name right before a title or speech verb: the longest surname + 0-2 (title) / 1-2 (verb) chars.
    for pattern, min_given in ((_ZH_TITLE_RE, 1), (_ZH_VERB_RE, 1)):  # "王先生" alone identifies no one
        for m in pattern.finditer(text):
            end = m.start()
            for n in (3, 2, 1, 4):
                start = end - n
                if start < 0:
                    continue
                s = _zh_surname_at(text, start, g)
                given = text[start + s : end]
                if s and len(given) >= min_given and len(given) <= 2 and _zh_given_ok(given):
                    if start > 0 and text[start - 1] in g.zh_surnames and n < 3:
                        continue  # "王李明": prefer the longer reading
                    spans.append(Span(start, end, "person"))
                    break
    # A surname + a two-character given name from the list ("张秀英", "欧阳建华"): no cue needed.
    for m in _ZH_RUN_RE.finditer(text):
        run, base = m.group(), m.start()
        for k in range(len(run) - 2):
            s = _zh_surname_at(run, k, g)
            if s and run[k + s : k + s + 2] in g.zh_given and len(run[k + s : k + s + 2]) == 2:
                spans.append(Span(base + k, base + k + s + 2, "person"))
    # Name right after a cue: surname + 2 chars, or + 1 when the third is not name-like.
    for m in _ZH_CUE_RE.finditer(text):
        start = m.end()
        s = _zh_surname_at(text, start, g)
        if not s:
            continue
        given = text[start + s : start + s + 2]
        while given and not _zh_given_ok(given):
            given = given[:-1]
        if given:
            spans.append(Span(start, start + s + len(given), "person"))
    return spans


# ---------------------------------------------------------------- Latin script


def _kind(tok: str, g: Gazetteer) -> str:
    """'F' first name, 'L' last name, 'a' ambiguous name, 'n' never a name, 'k' org/place word, '?'."""
    low = tok.lower()
    if low in _NOT_PERSON:
        return "k"
    if low in _NEVER_NAME:
        return "n"
    parts = tok.replace("’", "'").split("-") if "-" in tok else [tok]
    in_first = tok in g.first or all(p in g.first for p in parts)
    in_last = tok in g.last or all(p in g.last or p in g.first for p in parts)
    if not (in_first or in_last):
        return "?"
    if low in g.ambiguous:
        return "a"
    return "F" if in_first else "L"


def _is_word(tok: str) -> bool:
    return len(tok) > 2 or (len(tok) == 2 and tok[1].islower())


def _find_latin(text: str, g: Gazetteer) -> list[Span]:
    spans: list[Span] = []
    first, last = g.first, g.last
    for m in _RUN_RE.finditer(text):
        # Fast path: most runs are one capitalised word that is in no list and has no cue before it.
        raw = m.group().split()
        if not any(w in first or w in last or w.lower() in _TITLES for w in raw):
            prev = text[max(0, m.start() - 16) : m.start()].split()
            if not prev or prev[-1].lower().strip(".:,") not in _CUE_LAST:
                continue
        toks = [
            (t.start() + m.start(), t.end() + m.start(), t.group()) for t in _TOKEN_RE.finditer(m.group())
        ]
        words = [(s, e, t) for s, e, t in toks if _is_word(t) and t[0].isupper()]
        if not words:
            continue
        kinds = [_kind(t, g) for _, _, t in words]
        if "k" in kinds:
            continue
        before = text[max(0, m.start() - 24) : m.start()]
        cue = _CUE_RE.search(before) if before else None
        strong = False
        if cue:
            cue_text = cue.group().strip(" \u00a0.,:").lower()
            strong = cue_text in _STRONG_CUES or cue_text.split()[-1] in _STRONG_CUE_WORDS
        i = 0
        while i < len(words) and words[i][2].lower() in _TITLES:
            i, strong = i + 1, True  # "Frau Anna Müller", "President Lincoln"
        if strong:
            while i < len(words) and kinds[i] == "n":
                i += 1
        else:  # skip words that only open the run: "Contact Jane", "The"
            while i < len(words) and (kinds[i] in "n" or (kinds[i] == "?" and kinds[i + 1 : i + 2] != ["L"])):
                i += 1
        if i == len(words):
            continue
        j = i
        while j < len(words) and kinds[j] != "n" and j - i < 4:
            j += 1
        span_kinds = kinds[i:j]
        if strong:
            ok = True
        elif len(span_kinds) == 1:
            # One word: a clear first name, or any known name right after a weaker cue ("by", "with").
            ok = span_kinds[0] == "F" or (cue is not None and span_kinds[0] in "FL")
        else:
            known = [k for k in span_kinds if k in "FL"]
            ok = bool(known) and (span_kinds[0] in "FL" or span_kinds[-1] in "FL")
        if not ok:
            continue
        spans.append(Span(words[i][0], words[j - 1][1], "person"))
    return spans


_HAS_CJK = re.compile(rf"[{_CJK}]")


def find_persons(text: str, model: bool = False) -> list[Span]:
    """Person-name spans (kind "person"), possibly overlapping; the detector resolves overlaps.

    With `model`, the CRF's spans (`person_crf.py`) are added to the rules': names with no cue
    (`founders: Vizirov, Barrett and Jones`, Chinese names mid-sentence). Off by default because
    it halves the names stage's speed for a small gain; measured in docs/pii.md.
    """
    g = gazetteer()
    spans = _find_latin(text, g)
    if _HAS_CJK.search(text):
        spans += _find_zh(text, g)
    if model:
        from filters.pii.person_crf import find_persons_crf  # person_crf imports this module

        spans += find_persons_crf(text)
    return spans
