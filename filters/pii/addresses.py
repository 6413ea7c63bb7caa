"""Street addresses: a house number next to a street-type word, in the ways each language writes it.

A street name alone (`Main Street`, `rue de Rivoli`) is a place, not personal data; it becomes an
address with a house number: `221B Baker Street`, `Hauptstraße 5`, `12, rue de la Paix`,
`Calle Mayor 5`, `建国路88号`. A following unit (`Apt. 4`, `Suite 300`, `3º B`) and postal line
(`, 10115 Berlin`, `\\nSpringfield, IL 62704`, `75001 Paris`) are taken into the span, so the redacted
text does not keep the pieces that still locate the person.

Street-type words: the USPS Publication 28 suffixes (en), and the common ones of de, fr, es, it, pt,
nl and the Nordic languages, which cover Faker's generated addresses too.
"""

from __future__ import annotations

import re

from filters.pii.spans import Span

_UP = "A-ZÀ-ÖØ-ÞĀ-Ž"
_LO = "a-zß-öø-ÿā-ž"
_CAP = rf"[{_UP}][{_LO}{_UP}'’.\-]*"  # "O'Connell", "St.", "MLK"
_NUM = r"\d{1,6}(?:[ ]?[-/][ ]?\d{1,5})?(?:[ ]?[A-Za-z](?![\w]))?"

# English (USPS Pub. 28 primary names and common abbreviations).
_EN_TYPES = (
    "Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Ter|"
    "Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Cres|Close|Row|Alley|Aly|Path|"
    "Pike|Plaza|Plz|Loop|Run|Walk|Grove|Gardens|Gdns|Hill|Hills|Heights|Hts|Park|Point|Pt|Ridge|Rdg|"
    "View|Vw|Vista|Crossing|Xing|Creek|Cove|Cv|Bend|Brook|Burg|Bypass|Byp|Camp|Canyon|Cape|Causeway|"
    "Centre|Center|Ctr|Common|Commons|Corner|Corners|Course|Courts|Crest|Dale|Dam|Divide|Estate|Estates|"
    "Expressway|Expy|Extension|Ext|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Forest|Forge|Fork|Fort|"
    "Freeway|Fwy|Garden|Gateway|Glen|Green|Harbor|Harbour|Haven|Hollow|Inlet|Island|Isle|Junction|Key|"
    "Knoll|Knolls|Lake|Lakes|Landing|Light|Lights|Lock|Locks|Lodge|Manor|Meadow|Meadows|Mews|Mill|Mills|"
    "Mission|Motorway|Mount|Mountain|Neck|Orchard|Oval|Overpass|Pass|Passage|Pine|Pines|Plain|Plains|"
    "Port|Prairie|Radial|Ramp|Ranch|Rapids|Rest|River|Route|Rte|Shoal|Shore|Shores|Skyway|Spring|"
    "Springs|Spur|Squares|Station|Stravenue|Stream|Streets|Summit|Throughway|Trace|Track|Trafficway|"
    "Tunnel|Turnpike|Underpass|Union|Unions|Valley|Viaduct|Village|Ville|Villages|Well|Wells"
)
_DIR = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?"
_UNIT = (
    r"(?:,?[ ]?\n?[ ]*(?:Apt|Apartment|Suite|Ste|Unit|Flat|Room|Rm|Floor|Fl|Bldg|Building|Studio|Wohnung|"
    r"Whg|Etage|Stock|OG|EG|Piso|Puerta|Pta|Bajo|Escalera|Esc|Planta|Appartement|Appt|Bât|Bâtiment|"
    r"Étage|Bureau|Interno|Int|Scala|#)\.?[ ]?(?:No\.?[ ]?)?[\dA-Za-z]{1,5}º?(?:[ ]?[A-Z](?![\w]))?)"
)
# US/CA "Springfield, IL 62704", UK "London SW1A 1AA", DE/FR/ES "10115 Berlin", ES "Madrid, 28013".
_UK_PC = r"[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2}"
_CITY = rf"{_CAP}(?:[ -](?:{_CAP}|de|del|la|le|sur|am|an|der|im|bei))*?"
_POSTAL = (
    rf"(?:,?[ ]?\n?[ ]*(?:"
    rf"{_CITY},?[ ]+[A-Z]{{2}}[ ]+\d{{5}}(?:-\d{{4}})?"  # Springfield, IL 62704
    rf"|{_CITY},?[ ]+[A-Z]{{2}}[ ]+[A-Z]\d[A-Z][ ]?\d[A-Z]\d"  # Toronto, ON M5V 2T6
    rf"|(?:{_CITY},?[ ]+)?{_UK_PC}(?![\w])"  # London SW1A 1AA
    rf"|(?:[A-Z]{{1,2}}-)?\d{{4,5}}[ ]+{_CITY}"  # 10115 Berlin, D-10115 Berlin
    rf"|{_CITY},[ ]?\d{{5}}(?!\d)"  # Madrid, 28013
    rf"))"
)

_EN_RE = re.compile(
    rf"(?<![\w.,])\d{{1,6}}[A-Za-z]?(?:-\d{{1,5}})?[ ]+(?:{_DIR}[ ]+)?(?:{_CAP}[ ]+){{0,4}}?{_CAP}[ ]+"
    rf"(?:{_EN_TYPES})s?\.?(?![\w])(?:[ ]+{_DIR}(?![\w]))?{_UNIT}?{_POSTAL}?"
)

# German-style compounds and their Dutch/Nordic/Baltic relatives: "Hauptstraße 5", "Hersnapvej 75".
_COMPOUND = (
    "straße|strasse|str\\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt|graben|"
    "kamp|stieg|promenade|zeile|"
    "straat|laan|gracht|plein|kade|singel|dreef|"
    "vej|gade|stræde|vænget|allé|gata|gatan|vägen|väg|gränd|veien|vei|"
    "katu|tie|kuja|polku|tee|iela|gatvė"
)
_DE_RE = re.compile(
    rf"(?<![\w])(?:{_CAP}[ -]){{0,3}}(?P<word>[{_UP}{_LO}][{_LO}]{{2,}}(?:{_COMPOUND})"
    rf"|(?<=-)(?:Straße|Strasse|Str\.|Weg|Gasse|Platz|Allee|Ring|Damm|Ufer|Chaussee|Steig|Pfad|Markt))"
    rf"[ ]+{_NUM}(?![\d])"
    rf"{_UNIT}?{_POSTAL}?"
)
# Separate street-type word then name, number after: de "Am Markt 5" is left out (too close to prose);
# es/it/pt "Calle Mayor 5", "Via Roma 10", "Rua Augusta 274"; nl/de "Straße des 17. Juni" is rare.
_ROMANCE_TYPES = (
    "Calle|C/|C\\.|Avenida|Avda\\.?|Av\\.|Paseo|Pº|Plaza|Pza\\.?|Camino|Carretera|Ctra\\.?|Ronda|Travesía|"
    "Callejón|Glorieta|Rambla|Alameda|Cuesta|Pasaje|Urbanización|Bulevar|Carrera|Diagonal|Calzada|"
    "Cañada|Rúa|Rua|Via|Viale|Vicolo|Piazza|Piazzale|Corso|Largo|Contrada|Strada|Travessa|Praça|"
    "Estrada|Ladeira|Alameda"
)
_LINK = r"(?:de|del|de la|de las|de los|dos|das|do|da|dei|degli|delle|della|di|del|d'|l')"
_ROMANCE_RE = re.compile(
    rf"(?<![\w])(?:{_ROMANCE_TYPES})[ ]+(?:{_LINK}[ ]?)?(?:{_CAP}[ ]+(?:{_LINK}[ ]?)?){{0,4}}?{_CAP}"
    rf",?[ ]+(?:(?:nº|n\.º|n°|no\.?|núm\.?|num\.?|n\.|#)[ ]?)?\d{{1,5}}[A-Za-z]?(?![\w])"
    rf"(?:,?[ ]+\d{{1,2}}º(?:[ ]?[A-Z](?![\w]))?)?{_UNIT}?{_POSTAL}?"
)
# French: number first, lower-case street type: "12, rue de la Paix", "5 bis avenue Victor Hugo".
_FR_TYPES = (
    "rue|avenue|av\\.|boulevard|bd|place|pl\\.|chemin|impasse|allée|quai|route|cours|square|passage|"
    "voie|faubourg|sentier|cité|résidence|rond-point|esplanade|parvis|promenade|montée|ruelle|"
    "traverse|villa|hameau|lieu-dit"
)
_FR_RE = re.compile(
    rf"(?<![\w.,])\d{{1,4}}(?:[ ]?(?:bis|ter|quater|[A-D])(?![\w]))?,?[ ]+(?i:{_FR_TYPES})[ ]+"
    rf"(?:(?:de la|de l'|de l’|des|du|de|d'|d’|l'|l’|la|le|les)[ ]?)?(?:{_CAP}|[a-zà-ÿ]{{3,}})"
    rf"(?:[ -](?:(?:de la|de l'|des|du|de|d'|la|le|les|et|sur)[ -]?)?{_CAP}){{0,4}}"
    rf"{_UNIT}?(?:,?[ ]?\n?[ ]*(?:F-)?\d{{5}}[ ]+{_CITY}(?:[ ]+(?:Cedex|CEDEX)(?:[ ]\d{{1,2}})?)?)?"
)

# Chinese: "(省)(市)(区/县)…路/街/道 + 数字 + 号 (+ 楼/室)": the 号 after a number is required.
_CJK = "\u4e00-\u9fff"
_ZH_ANCHOR = re.compile(
    r"(?:路|街|道|巷|弄|胡同|大街|大道|里|村|镇|广场|小区|花园|大厦|园区)[ ]?"
    r"(?:\d{1,5}|[一二三四五六七八九十百零〇]{1,5})(?:-\d{1,4})?[ ]?号"
    r"(?:[ ]?(?:[A-Z\d]{1,4}|[一二三四五六七八九十]{1,3})[ ]?(?:号楼|栋|幢|座|楼|单元|层|室|号|户))*"
)
_ZH_STOP = set("的了是在于到住位址请和与及或从向给把被对为这那个我你他她们您地：:，,。；;、！？（）() \n\t")


def _find_zh(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _ZH_ANCHOR.finditer(text):
        start = m.start()
        while start > 0 and m.start() - start < 24 and "\u4e00" <= text[start - 1] <= "\u9fff":
            if text[start - 1] in _ZH_STOP:
                break
            start -= 1
        if m.start() - start < 2:
            continue  # "路1号" with no street name
        end = m.end()
        pc = re.match(r"[,，]?[ ]?(?:邮编[:：]?)?\d{6}(?!\d)", text[end:])
        if pc:
            end += pc.end()
        spans.append(Span(start, end, "address"))
    return spans


# Post-office boxes and US military addresses: "P.O. Box 255", "Postfach 10 01 23", "PSC 4355, Box 4187".
_BOX_RE = re.compile(
    r"(?<![\w])(?:P\.?[ ]?O\.?[ ]?Box|PO Box|Post Office Box|Postbox|Postfach|Apartado(?: de [Cc]orreos)?|"
    r"Boîte [Pp]ostale|B\.?P\.|Casella [Pp]ostale|Caixa [Pp]ostal|"
    r"PSC[ ]\d{1,5},?[ ]Box|Unit[ ]\d{1,5},?[ ]Box)"
    r"[ ]?\d{1,6}(?:[ ]\d{2}){0,2}(?![\w])(?:,?[ ]?\n?[ ]*(?:APO|FPO|DPO)[ ]A[AEP][ ]\d{5})?" + _POSTAL + "?"
)
# Central/Eastern European and Nordic separate street words: "ul. Narewska 94", "Rákóczi út 66.",
# "Erzsébet tér 19.", "Trenerys gate 232", "Luite tee 87".
_OTHER_RE = re.compile(
    rf"(?<![\w])(?:(?:ul\.|al\.|pl\.|os\.|ulica|ulice|cesta|trg|náměstí)[ ](?:{_CAP}[ ]){{0,2}}{_CAP}"
    rf"|(?:{_CAP}[ ]){{0,2}}{_CAP}[ ]"
    rf"(?:u\.|utca|út|útja|tér|körút|krt\.|cesta|ulica|gate|tee|vej|gade|sokak|caddesi))"
    rf"[ ]\d{{1,5}}[A-Za-z]?\.?(?![\w]){_UNIT}?{_POSTAL}?"
)
# Postcode + street + house number with no street word, as Faker and forms write it ("83393 Pärna 33"),
# or a name + number followed by a unit ("Pagari 18 Suite 932").
_BARE_RE = re.compile(
    rf"(?<![\w.,])(?:\d{{4,5}}[ ]+(?:{_CAP}[ ]){{0,2}}{_CAP}[ ]\d{{1,4}}[A-Za-z]?"
    rf"(?=[ ]*(?:\n|$|,|\.|[ ](?:Apt|Suite|Unit)))"
    rf"|(?:{_CAP}[ ]){{0,2}}{_CAP}[ ]\d{{1,4}}[A-Za-z]?"
    rf"(?=,?[ ]*\n?[ ]*(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?[ ]\d))"
    rf"{_UNIT}?{_POSTAL}?"
)
# English words that end like a German/Nordic street word: "During 1980", "Committee 3".
_FALSE_COMPOUND = re.compile(r"(?:[aeiou]ring|[sp]tring|pring|bring|[tnso]tee)$", re.IGNORECASE)
# A following line that continues an address block: a unit, a city or country, a postal code.
_NEXT_LINE = re.compile(
    rf"[ \t]*\n[ \t>?]*((?:{_UNIT[3:-1]}|[{_UP}\d][\w'’.\- ]{{0,40}}?|\d{{4,6}}))[ \t]*(?=\n|$)"
)
_HAS_DIGIT = re.compile(r"\d")
_HAS_CJK = re.compile(rf"[{_CJK}]")
_LETTERS_LINE = re.compile(rf"[{_UP}{_LO}\d][\w'’.,\- ]*")


_COMPOUND_ENDS = tuple(c.replace("\\", "") for c in _COMPOUND.split("|"))
_WORD_NUM_RE = re.compile(r"([^\W\d]{3,}\.?)[ ]+\d")
# Cheap literal prefilters: a pattern runs only when its street word (or unit word) occurs at all.
_PATTERNS = (
    (_EN_RE, None),
    (_DE_RE, "compound"),
    (_ROMANCE_RE, re.compile(rf"(?<![\w])(?:{_ROMANCE_TYPES})[ ]")),
    (_FR_RE, re.compile(rf"\d,?[ ]+(?i:{_FR_TYPES})[ ]")),
    (_BOX_RE, re.compile(r"Box|Postfach|Apartado|Boîte|B\.?P\.|Casella|Caixa|PSC")),
    (
        _OTHER_RE,
        re.compile(
            r"(?:ul\.|al\.|pl\.|os\.|ulica|ulice|cesta|trg|náměstí)[ ]|"
            r"[ ](?:u\.|utca|út|útja|tér|körút|krt\.|gate|tee|vej|gade|sokak|caddesi)[ ]\d"
        ),
    ),
    (_BARE_RE, re.compile(r"\d{4,5}[ ]+[A-ZÀ-ÖØ-Þ]|(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?[ ]\d")),
)


_CONTACT_LINE = re.compile(r"[:@+()]|(?i:\b(?:office|fax|mobile|tel|phone|cell|e-?mail|www)\b)")


def _extend_block(text: str, end: int) -> int:
    """Take up to 4 following short lines (unit, city, country + postcode) when the address ends a line."""
    if not re.match(r"[ \t,.]*(?:\n|$)", text[end:]):
        return end
    for _ in range(4):
        m = _NEXT_LINE.match(text, end)
        if not m or not _LETTERS_LINE.fullmatch(m.group(1).strip()) or _CONTACT_LINE.search(m.group(1)):
            break  # "Phone: ...", "mail@...": a contact line, not the address
        end = m.end(1)
    return end


def find_addresses(text: str) -> list[Span]:
    """Street-address spans (kind "address"), possibly overlapping; the detector resolves overlaps."""
    if not _HAS_DIGIT.search(text):
        return []
    spans = []
    for pattern, pre in _PATTERNS:
        if pre == "compound":
            if not any(w.lower().endswith(_COMPOUND_ENDS) for w in _WORD_NUM_RE.findall(text)):
                continue
        elif pre is not None and not pre.search(text):
            continue
        for m in pattern.finditer(text):
            if pattern is _DE_RE and _FALSE_COMPOUND.search(m.group("word")):
                continue
            start, end = m.span()
            # A leading number on the same line belongs to the block ("76556 29 Rue de Tanger").
            lead = re.search(r"(?<![\w.,])\d{3,6}[ ]+$", text[max(0, start - 8) : start])
            if lead:
                start -= len(lead.group())
            end = start + len(text[start:end].rstrip(" ,.\n"))
            if text[end - 3 : end] in (" St", "Ave", " Rd", " Dr", " Ln") and text[end : end + 1] == ".":
                end += 1  # keep the abbreviation's dot
            spans.append(Span(start, _extend_block(text, end), "address"))
    if _HAS_CJK.search(text):
        spans += _find_zh(text)
    return spans
