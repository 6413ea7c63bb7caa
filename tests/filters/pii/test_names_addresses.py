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


# ---------------------------------------------------------------- the CRF (person_crf.py)


@pytest.mark.parametrize(
    "text, names",
    [
        ("What's your last name? Magnusson", {"Magnusson"}),
        ("The brainchild of our 3 founders: Vizirov, Barrett and Jones.", {"Vizirov, Barrett"}),
        ("昨天李秀兰和陈建国去了公园。", {"李秀兰", "陈建国"}),  # no cue, given names in no list
    ],
)
def test_crf_finds_names_without_a_cue(text: str, names: set[str]) -> None:
    from filters.pii.person_crf import find_persons_crf

    got = {text[s.start : s.end] for s in find_persons_crf(text)}
    assert names <= got, got


def test_crf_runs_only_on_candidate_windows_and_needs_a_listed_name() -> None:
    from filters.pii.names import gazetteer
    from filters.pii.person_crf import find_persons_crf, tokenize, windows

    tokens = tokenize("the cat sat on the mat with a Hat and a Bat in the rain today")
    assert [(a, b) for a, b in windows(tokens, gazetteer())] == [(6, 14)]  # "Hat and a Bat" + 2 each side
    assert find_persons_crf("no capital letters at all here") == []
    assert find_persons_crf("Cool, what's the address? Unfortunately Comedy sold out.") == []
    assert find_persons_crf("北京大学和清华大学都在海淀区。") == []  # 清华 starts a university
    # Two-character "names" are mostly words on real text; Japanese is not scanned for Chinese names.
    assert find_persons_crf("我们认定：和谐、稳定的基础是人的尊严、公平、正义。人生在世，不得大安心。") == []
    assert find_persons_crf("ステロイドが使用されていないので安心です。王小明さん") == []


def test_train_pii_model_is_deterministic(tmp_path) -> None:
    pytest.importorskip("faker")
    from filters.pii.person_crf_train import train

    a, b = tmp_path / "a.model", tmp_path / "b.model"
    train(a, sentences=200, seed=3, iterations=5)
    train(b, sentences=200, seed=3, iterations=5)
    assert a.read_bytes() == b.read_bytes()
    from filters.pii.person_crf import MODEL_PATH

    assert MODEL_PATH.stat().st_size < 2_000_000


def test_person_model_is_opt_in_in_the_stage() -> None:
    text = "The brainchild of our 3 founders: Vizirov, Barrett and Jones."
    off = PiiConfig(types=["person"]).build()
    on = PiiConfig(types=["person"], person_model=True).build()
    assert "Vizirov" in off.redact(text)[0]  # in no list, no cue: the rules leave it
    assert "Vizirov" not in on.redact(text)[0]
