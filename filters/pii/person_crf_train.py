"""Train the `person` CRF: ``winnow train-pii-model [--sentences N] [--seed S] [--output FILE]``.

Training text is generated here, never taken from an evaluation set: Faker's per-locale names
(en_US, en_GB, de_DE, fr_FR, es_ES, zh_CN; MIT, see `LICENSE.faker.txt`) inserted in the training
templates below, which are different from the bench's templates. A quarter of the surnames are made
up (syllables unlike the bench's), so the model learns context and not only the name lists. About
half of the sentences hold no person at all: companies (`Jones, Bell and Burke`), cities, streets,
countries, jobs and title-cased lorem phrases, the capitalised words a name detector must leave.

The model (python-crfsuite, L-BFGS with L1+L2) is trained on the same candidate windows the detector
tags at run time. With a fixed seed and the same Faker and CRFsuite versions the output bytes are the
same on every run. Faker and python-crfsuite are ``[train]`` extras.
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path
from typing import Any

from filters.pii.names import gazetteer
from filters.pii.person_crf import MODEL_PATH, features, tokenize, windows

LOCALES = {"en": ("en_US", "en_GB"), "de": ("de_DE",), "fr": ("fr_FR",), "es": ("es_ES",), "zh": ("zh_CN",)}
TITLES = {
    "en": ["Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Mrs"],
    "de": ["Herr", "Frau", "Dr.", "Prof."],
    "fr": ["M.", "Mme", "Mlle", "Dr"],
    "es": ["Sr.", "Sra.", "Don", "Doña", "Dr."],
}
# {P} a person (several written forms), {L} a surname, {F} a first name; the rest are not people:
# {C} company, {Y} city, {K} country, {S} street name, {J} job, {T} title-cased phrase, {M} month.
POSITIVE = {
    "en": [
        "{P} joined the board of {C} in {N}.",
        '"We were not ready," {L} admitted.',
        "The three founders, {L}, {L} and {L}, met in {Y}.",
        "Thanks to {F}, {F} and {F} for reviewing the draft.",
        "Photo by {P} for {C}.",
        "{L} scored twice before half-time.",
        "I spoke to {P} yesterday about the invoice.",
        "Interview: {P}, {J} at {C}",
        "{P} ({N}) was elected mayor of {Y}.",
        "Starring {P} and {P}, directed by {L}.",
        "Ask {F} whether the {Y} office is open.",
        "{L}'s latest novel is set in {K}.",
        "Reviewed by {L}, {F}.",
        "{P}, {J}, {Y}",
        "Attendees: {P}; {P}; {P}.",
        "Happy birthday {F}!",
        "Hi {F}, can you send me the file?",
        "{T} with {P}",
        "Last name: {L}",
        "According to {P}, sales fell in {M}.",
        "My sister {F} moved to {Y} last year.",
        "The court heard that {P} had left {K} in {N}.",
    ],
    "de": [
        "{P} ist seit {N} Geschäftsführerin der {C}.",
        '"Das war knapp", sagte {L} nach dem Spiel.',
        "Die Gründer {L}, {L} und {L} kennen sich aus {Y}.",
        "Vielen Dank an {F} und {F} für die Hilfe.",
        "Foto: {P}",
        "Laut {P} steigen die Preise im {M}.",
        "{L} wechselt im Sommer nach {Y}.",
        "Ansprechpartner ist {P}, {J}.",
        "Gestern habe ich {F} in {Y} getroffen.",
        "Ein Kommentar von {P}",
        "{P} ({N}) wurde zur Bürgermeisterin von {Y} gewählt.",
        "Teilnehmer: {P}, {P} und {P}.",
    ],
    "fr": [
        "{P} a rejoint {C} en {N}.",
        "« Nous n'étions pas prêts », a reconnu {L}.",
        "Les fondateurs, {L}, {L} et {L}, se sont rencontrés à {Y}.",
        "Merci à {F} et {F} pour leur relecture.",
        "Photo : {P}",
        "Selon {P}, les ventes ont baissé en {M}.",
        "{L} rejoindra {Y} cet été.",
        "Le contact est {P}, {J}.",
        "Hier, j'ai croisé {F} à {Y}.",
        "Une tribune de {P}",
        "{P} ({N} ans) a été élue maire de {Y}.",
        "Participants : {P}, {P} et {P}.",
    ],
    "es": [
        "{P} se incorporó a {C} en {N}.",
        "«No estábamos preparados», admitió {L}.",
        "Los fundadores, {L}, {L} y {L}, se conocieron en {Y}.",
        "Gracias a {F} y {F} por la revisión.",
        "Foto: {P}",
        "Según {P}, las ventas cayeron en {M}.",
        "{L} fichará por el {Y} este verano.",
        "La persona de contacto es {P}, {J}.",
        "Ayer vi a {F} en {Y}.",
        "Una columna de {P}",
        "{P} ({N} años) fue elegida alcaldesa de {Y}.",
        "Asistentes: {P}, {P} y {P}.",
    ],
    "zh": [
        "{P}和{P}是大学同学。",
        "{P}昨天去了{Y}。",
        "据{P}介绍，该项目明年完工。",
        "本报讯（{P}）{Y}今天举行了活动。",
        "{P}在{C}工作了{N}年。",
        "我和{P}一起参加了比赛。",
        "{P}、{P}、{P}获得一等奖。",
        "{P}担任{C}董事长。",
        "图为{P}在现场指导工作。",
        "{P}毕业于{Y}大学。",
    ],
}
NEGATIVE = {
    "en": [
        "{C} opened a new office in {Y}.",
        "{C} and {C} agreed to merge.",
        "Flights from {Y} to {Y} were cancelled.",
        "{K} and {K} signed the agreement in {M}.",
        "The road to {Y} follows {S} past the old mill.",
        "{T}",
        "{T}: {W}",
        "{W}",
        "Our {J} will call you on {D}.",
        "The {Y} Symphony Orchestra plays on {D}.",
        "Shares of {C} rose {N} percent on {D}.",
        "New in {M}: {T}",
        "Read more about {T} on our blog.",
    ],
    "de": [
        "{C} eröffnet eine Filiale in {Y}.",
        "Die Bahn fährt von {Y} nach {Y}.",
        "{K} und {K} unterzeichnen das Abkommen.",
        "Die {S} in {Y} ist ab {D} gesperrt.",
        "{W}",
        "{T}",
        "Unser {J} ruft Sie am {D} an.",
        "Die Aktie der {C} stieg im {M} deutlich.",
    ],
    "fr": [
        "{C} ouvre une agence à {Y}.",
        "Le train relie {Y} à {Y}.",
        "{K} et {K} ont signé l'accord.",
        "La {S} à {Y} sera fermée {D}.",
        "{W}",
        "{T}",
        "Notre {J} vous rappellera {D}.",
        "L'action {C} a progressé en {M}.",
    ],
    "es": [
        "{C} abre una oficina en {Y}.",
        "El tren une {Y} y {Y}.",
        "{K} y {K} firmaron el acuerdo.",
        "La {S} de {Y} estará cerrada el {D}.",
        "{W}",
        "{T}",
        "Nuestro {J} le llamará el {D}.",
        "Las acciones de {C} subieron en {M}.",
    ],
    "zh": [
        "{C}在{Y}开设了新门店。",
        "{Y}到{Y}的高铁今天开通。",
        "{W}",
        "{C}与{C}签署了合作协议。",
        "{Y}市民可以免费参观博物馆。",
        "今年{M}{Y}的气温偏高。",
        "{J}的工作时间比较长。",
    ],
}
MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "zh": "一月 二月 三月 四月 五月 六月 七月 八月 九月 十月 十一月 十二月",
}
DAYS = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "de": "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "es": "lunes martes miércoles jueves viernes sábado domingo",
    "zh": "周一 周二 周三 周四 周五 周六 周日",
}
_SYLLABLES = ["bre", "dun", "ost", "mak", "ri", "sav", "lem", "ju", "kor", "tan", "vel", "ny", "pa", "ce"]


def _made_up(rnd: random.Random) -> str:
    return "".join(rnd.choice(_SYLLABLES) for _ in range(rnd.randint(2, 3))).capitalize()


def _person(fake: Any, lang: str, rnd: random.Random) -> tuple[str, str]:
    """(text before the name that is not part of it, the name) in one of several written forms."""
    if lang == "zh":
        return "", fake.name() if rnd.random() < 0.9 else fake.last_name() + fake.first_name()[:1]
    first, last = fake.first_name(), fake.last_name()
    if rnd.random() < 0.25:
        last = _made_up(rnd)
    r = rnd.random()
    if r < 0.45:
        return "", f"{first} {last}"
    if r < 0.55:
        return "", f"{first} {rnd.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    if r < 0.65:
        return "", f"{first[0]}. {last}"
    if r < 0.75:
        return "", f"{last}, {first}"
    if r < 0.85:
        return rnd.choice(TITLES[lang]) + " ", last
    if r < 0.92:
        return rnd.choice(TITLES[lang]) + " ", f"{first} {last}"
    return "", f"{first} {fake.last_name()}-{last}" if lang in ("de", "fr") else f"{first} {last}"


def _surname(fake: Any, rnd: random.Random) -> str:
    return _made_up(rnd) if rnd.random() < 0.25 else fake.last_name()


def _title_case(fake: Any, rnd: random.Random) -> str:
    return " ".join(w.capitalize() for w in fake.words(rnd.randint(2, 5)))


def _fill(template: str, fake: Any, lang: str, rnd: random.Random) -> tuple[str, list[tuple[int, int]]]:
    text, gold = "", []
    for part in re.split(r"(\{[A-Z]\})", template):
        if len(part) != 3 or part[0] != "{":
            text += part
            continue
        key = part[1]
        if key in "PLF":
            if key == "P":
                prefix, value = _person(fake, lang, rnd)
            elif key == "L":
                prefix, value = "", _surname(fake, rnd) if lang != "zh" else fake.name()
            else:
                prefix, value = "", fake.first_name() if lang != "zh" else fake.name()
            text += prefix
            gold.append((len(text), len(text) + len(value)))
            text += value
            continue
        value = {
            "C": fake.company,
            "Y": fake.city,
            "K": fake.country,
            "S": fake.street_name,
            "J": fake.job,
            "W": fake.sentence,
            "T": lambda: _title_case(fake, rnd),
            "M": lambda: rnd.choice(MONTHS[lang].split()),
            "D": lambda: rnd.choice(DAYS[lang].split()),
            "N": lambda: str(rnd.randint(2, 2024)),
        }[key]()
        text += value
    return text, gold


_AND = {"en": " and ", "de": " und ", "fr": " et ", "es": " y ", "zh": "和"}


def _inserted(fake: Any, lang: str, rnd: random.Random) -> str:
    """A lorem sentence with a name, or a list of names, put at a random word: names with no cue."""
    words = fake.sentence(nb_words=rnd.randint(4, 10)).rstrip(".").split()
    sep = "" if lang == "zh" else " "
    k = rnd.randint(1, 3)
    names = ", ".join(["{P}"] * (k - 1)) + (_AND[lang] if k > 1 else "") + "{P}"
    if lang == "zh":
        names = names.replace(", ", "、")
    if len(words) == 1 and lang == "zh":
        words = list(words[0])
    at = 0 if rnd.random() < 0.3 else rnd.randint(0, len(words))  # sentence-initial names are common
    if at == 0 and lang != "zh":
        words[0] = words[0].lower()
    return sep.join([*words[:at], names, *words[at:]]) + ("。" if lang == "zh" else ".")


def generate(n: int, seed: int) -> list[tuple[str, list[tuple[int, int]]]]:
    """`n` (text, person character spans) training sentences, the same for the same seed."""
    from faker import Faker

    rnd = random.Random(seed)
    fakers = {}
    for i, loc in enumerate(loc for locs in LOCALES.values() for loc in locs):
        fakers[loc] = Faker(loc)
        fakers[loc].seed_instance(seed * 100 + i)
    out = []
    langs = list(LOCALES)
    for i in range(n):
        lang = langs[i % len(langs)]
        fake = fakers[rnd.choice(LOCALES[lang])]
        r = rnd.random()
        if r < 0.2:
            template = _inserted(fake, lang, rnd)
        else:
            template = rnd.choice(POSITIVE[lang] if r < 0.55 else NEGATIVE[lang])
        out.append(_fill(template, fake, lang, rnd))
    return out


def examples(
    sentences: list[tuple[str, list[tuple[int, int]]]],
) -> list[tuple[list[list[str]], list[str]]]:
    """(features, BIO labels) for every candidate window of the sentences, as the detector sees them."""
    g = gazetteer()
    out = []
    for text, gold in sentences:
        tokens = tokenize(text)
        labels = []
        for s, e, _ in tokens:
            inside = [gs for gs, ge in gold if gs <= s and e <= ge]
            labels.append("O" if not inside else "B-PER" if inside[0] == s else "I-PER")
        for a, b in windows(tokens, g):
            out.append((features([t for _, _, t in tokens[a:b]], g), labels[a:b]))
    return out


def train(output: Path, sentences: int, seed: int, iterations: int = 150) -> dict[str, int]:
    """Generate, featurise and train; writes the model file and returns a few counts."""
    import pycrfsuite

    data = examples(generate(sentences, seed))
    trainer = pycrfsuite.Trainer(verbose=False)
    for xseq, yseq in data:
        trainer.append(xseq, yseq)
    trainer.set_params(
        {"c1": 0.05, "c2": 0.01, "max_iterations": iterations, "feature.possible_transitions": True}
    )
    trainer.train(str(output))
    return {"sentences": sentences, "windows": len(data), "bytes": output.stat().st_size}


def run(args: argparse.Namespace) -> int:
    counts = train(Path(args.output), args.sentences, args.seed, args.iterations)
    print(f"{args.output}: {counts}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train-pii-model",
        help="train the CRF of the `person` PII type on generated sentences (needs the [train] extra)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", default=str(MODEL_PATH), help="model file")
    p.add_argument("--sentences", type=int, default=30000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=150)
    p.set_defaults(func=run)
