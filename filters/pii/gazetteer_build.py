"""Build the name gazetteer the `person` detector ships: ``winnow build-pii-gazetteer [--output FILE]``.

The lists come from Faker's per-locale person and address providers (MIT licence, see
`filters/pii/LICENSE.faker.txt`), extracted once here so the runtime detector does not need Faker:

- ``F``/``L``: first and last names of every Latin-script locale;
- ``ZS``/``ZG``: Chinese surnames and given names (zh_CN, zh_TW);
- ``A``: ambiguous words: a name that is also a common word in Faker's lorem word lists (``Will``,
  ``Rose``, ``Koch``), a country or state name (``Jordan``), a city name that is not also a first
  name, or one of the hand list below (``Florence``). An ambiguous name counts only next to
  another name or after a title/cue word.

Output is sorted lines ``KIND<TAB>word`` in a gzip file with mtime 0: the same Faker version gives the
same bytes. Faker is a ``[train]`` extra, needed only to run this command.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import io
import pkgutil
import re
from pathlib import Path
from typing import Any

GAZETTEER_PATH = Path(__file__).with_name("person_names.txt.gz")

# Latin letters (with diacritics) in a name word; other scripts are out of scope of the Latin rules.
_LATIN_NAME = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-Ž][A-Za-zÀ-ÖØ-öø-ÿĀ-ž'’\-]+")
_CJK = re.compile(r"[\u4e00-\u9fff]{1,2}")


def _words(block: str) -> list[str]:
    """Whitespace-separated words of a text block (keeps long word lists readable)."""
    return block.split()


# Names that are everyday words, month/day names or abbreviations in the five target languages; lorem
# lists are short, so the most frequent look-alikes are spelled out.
HAND_AMBIGUOUS = _words(
    """
    will may june july august april march mark bill grant rose lily iris ivy hope faith joy grace
    summer autumn winter dawn eve guy art ray pat sue don dean earl king queen prince duke baron
    page hunter chase cash gay frank sterling penny ruby amber crystal jade pearl gene lee long
    young brown black white green gray grey rich bell hall hill wood stone moon star sun rain river
    lake north south east west new old little great big best christian angel eden paris london
    berlin lincoln washington jackson victoria florence jordan georgia virginia carolina austin
    dallas houston phoenix sydney chelsea israel china india tesla mercedes porsche ford apple
    amazon monday tuesday wednesday thursday friday saturday sunday german french english spanish
    american british italian chinese russian polish dutch swedish danish african european asian
    latin roman greek irish scottish welsh jewish muslim catholic royal princess jan feb mar apr jun
    january february september october november december angeles council
    jul aug sep sept oct nov dec mon tue wed thu fri sat montag dienstag mittwoch donnerstag freitag
    samstag sonntag januar februar juni juli oktober lundi mardi mercredi jeudi vendredi samedi
    dimanche janvier juin juillet août lunes martes miércoles jueves viernes sábado domingo enero
    febrero marzo abril mayo junio julio agosto octubre noviembre diciembre son sons man men boy
    girl baby love happy lucky sunny honey sugar candy cherry will dick pierre rene rené noel noël
    pascal blanche constance claire prudence santa san saint sainte don doña dom ben bin van von de
    del della la le du das der die des den ali al el mac mc bank park street road city country house
    home office school church college university hospital hotel center centre market station airport
    club group team company media news times post press
    """
)


def _names(provider: Any, attrs: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for attr in attrs:
        value = getattr(provider, attr, None)
        if value is None or isinstance(value, property | str):
            continue
        try:
            items = list(value)
        except TypeError:
            continue
        out.update(x for x in items if isinstance(x, str))
    return out


def collect() -> dict[str, set[str]]:
    """Every list, by kind, from the installed Faker."""
    from faker.providers import address, lorem, person

    kinds: dict[str, set[str]] = {"F": set(), "L": set(), "ZS": set(), "ZG": set(), "A": set()}
    first_attrs = ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary")
    for m in pkgutil.iter_modules(person.__path__):
        p = importlib.import_module(f"faker.providers.person.{m.name}").Provider
        first, last = _names(p, first_attrs), _names(p, ("last_names",))
        if m.name.startswith("zh_"):
            kinds["ZS"].update(x for x in last if _CJK.fullmatch(x))
            kinds["ZG"].update(x for x in first if _CJK.fullmatch(x))
            continue
        for src, kind in ((first, "F"), (last, "L")):
            for name in src:
                for part in name.split():  # "De la Cruz" -> parts; particles are handled by the detector
                    if len(part) > 1 and _LATIN_NAME.fullmatch(part) and part[0].isupper():
                        kinds[kind].add(part)
    for m in pkgutil.iter_modules(lorem.__path__):
        p = importlib.import_module(f"faker.providers.lorem.{m.name}").Provider
        kinds["A"].update(w for w in _names(p, ("word_list",)) if w.islower())  # not "Afrika"
    for m in pkgutil.iter_modules(address.__path__):
        p = importlib.import_module(f"faker.providers.address.{m.name}").Provider
        regions = _names(p, ("countries", "states", "provinces", "regions"))
        kinds["A"].update(r.lower() for r in regions if " " not in r)  # "San Antonio" leaves Antonio
        cities = _names(p, ("cities", "city_names"))  # some locales build city names out of first names
        first_lower = {f.lower() for f in kinds["F"]}
        kinds["A"].update(c.lower() for c in cities if " " not in c and c.lower() not in first_lower)
    kinds["A"].update(HAND_AMBIGUOUS)
    names = {n.lower() for n in kinds["F"] | kinds["L"]}
    kinds["A"] = {a for a in kinds["A"] if a in names}  # only ambiguous words that are names matter
    return kinds


def build(output: Path) -> dict[str, int]:
    """Write the gazetteer; returns the number of entries per kind."""
    kinds = collect()
    lines = [f"{kind}\t{word}" for kind in sorted(kinds) for word in sorted(kinds[kind])]
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh:
        fh.write(("\n".join(lines) + "\n").encode("utf-8"))
    output.write_bytes(raw.getvalue())
    return {k: len(v) for k, v in sorted(kinds.items())}


def run(args: argparse.Namespace) -> int:
    import faker

    counts = build(Path(args.output))
    print(f"{args.output}: {counts} (Faker {faker.VERSION})")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "build-pii-gazetteer",
        help="extract the first/last-name gazetteer of the `person` PII type from Faker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--output", default=str(GAZETTEER_PATH), help="gazetteer file (.txt.gz)")
    p.set_defaults(func=run)
