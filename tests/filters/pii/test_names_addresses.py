"""The `person` and `address` types: names and addresses in en/de/fr/es/zh, look-alikes left alone."""

from __future__ import annotations

import gzip

import pytest

from filters.pii import PiiConfig, PiiDetector
from filters.pii.gazetteer_build import GAZETTEER_PATH
from pipeline.schema import Document

DETECTOR = PiiDetector(["person", "address", "email", "phone"])


def found(text: str) -> set[tuple[str, str]]:
    return {(s.kind, text[s.start : s.end]) for s in DETECTOR.find(text)}


@pytest.mark.parametrize(
    "text, person, address",
    [
        (
            "Mr. John Smith lives at 221B Baker Street, London NW1 6XE.",
            "John Smith",
            "221B Baker Street, London NW1 6XE",
        ),
        (
            "Please mail the form to Linda Garcia, 742 Evergreen Terrace, Springfield, IL 62704.",
            "Linda Garcia",
            "742 Evergreen Terrace, Springfield, IL 62704",
        ),
        (
            "Frau Anna Müller wohnt in der Hauptstraße 5, 10115 Berlin.",
            "Anna Müller",
            "Hauptstraße 5, 10115 Berlin",
        ),
        (
            "Die Rechnung geht an Jürgen Schmidt, Karl-Marx-Allee 34, 10178 Berlin.",
            "Jürgen Schmidt",
            "Karl-Marx-Allee 34, 10178 Berlin",
        ),
        (
            "Je m'appelle Marie Dubois et j'habite 12, rue de la Paix, 75002 Paris.",
            "Marie Dubois",
            "12, rue de la Paix, 75002 Paris",
        ),
        (
            "Me llamo Carlos García y vivo en Calle Mayor 5, 28013 Madrid.",
            "Carlos García",
            "Calle Mayor 5, 28013 Madrid",
        ),
        ("王小明先生住在北京市朝阳区建国路88号。", "王小明", "北京市朝阳区建国路88号"),
        ("联系人：张伟，地址：上海市浦东新区世纪大道100号", "张伟", "上海市浦东新区世纪大道100号"),
    ],
)
def test_names_and_addresses_in_five_languages(text: str, person: str, address: str) -> None:
    got = found(text)
    assert ("person", person) in got
    assert ("address", address) in got


@pytest.mark.parametrize(
    "text",
    [
        "The New York Times reported on Apple Inc. today.",
        "Main Street was closed for the parade.",
        "We read The Great Gatsby in school.",
        "Der Bundestag in Berlin tagte am Montag.",
        "La Tour Eiffel est à Paris.",
        "El Real Madrid ganó la Liga.",
        "北京大学和清华大学都在海淀区。",
        "During 1980 the Committee 3 met on Spring 2 street plans.",
        "Version 1.2.3 and ISBN 978-3-16-148410-0 in 2024.",
    ],
)
def test_look_alikes_are_not_flagged(text: str) -> None:
    assert not {k for k, _ in found(text)} & {"person", "address"}, found(text)


def test_redaction_with_tags_and_opt_in_types() -> None:
    step = PiiConfig(types=["person", "address", "email"]).build()
    d = Document(
        id="d", text="Dear Ms. Jane Roe, your parcel to 10 Downing Street, London SW1A 2AA left.", source="t"
    )
    step.process(d)
    assert d.text == "Dear Ms. <PERSON>, your parcel to <ADDRESS> left."
    assert d.attributes["pii"] == {"person": 1, "address": 1}
    fake = PiiConfig(types=["person"], mode="fake").build()
    a, _ = fake.redact("Anna Müller called.")
    b, _ = fake.redact("Anna Müller called.")
    assert a == b and "Anna Müller" not in a
    assert "person" not in PiiConfig().types  # opt-in: see docs/pii.md


def test_gazetteer_ships_with_its_licence_note() -> None:
    with gzip.open(GAZETTEER_PATH, "rt", encoding="utf-8") as fh:
        kinds = {line.split("\t", 1)[0] for line in fh}
    assert kinds == {"A", "F", "L", "ZG", "ZS"}
    assert (
        "MIT" in (GAZETTEER_PATH.parent / "LICENSE.faker.txt").read_text()
        or "Permission is hereby granted" in (GAZETTEER_PATH.parent / "LICENSE.faker.txt").read_text()
    )
