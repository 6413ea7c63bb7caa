"""Exact dedup and line dedup end to end on Ray (one run each)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.schema import Document
from pipeline.shards import load_stats, merge_tallies

from .conftest import run_stage


def _rows(directory: Path) -> list[dict]:
    return [r for f in sorted(directory.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def _balanced(tmp: Path, stage_dir: str, stage: str) -> dict:
    totals = merge_tallies(list(load_stats(str(tmp / stage_dir)).values()))[stage]
    for src in totals["sources"].values():
        assert src["in"] == src["out"] + sum(src["rejected"].values())
    return totals


def test_exact_dedup_across_shards(tmp_path: Path, sentences, ray_session) -> None:
    text = " ".join(sentences["en"][:6])
    near = " ".join(sentences["en"][:5])  # not equal: must stay
    shards = {
        "s1": [Document("k3", text, "web"), Document("k9", near, "web"), Document("e1", "", "web")],
        "s2": [Document("k1", text.upper().replace(".", " . "), "news"), Document("e2", "  ", "web")],
        "s3": [Document("k2", "  " + text + "!", "web")],
    }
    run_stage(tmp_path, "{type: exact_dedup, name: exact, partitions: 2}", shards)
    rej = {r["id"]: r for r in _rows(tmp_path / "rejected" / "02_exact")}
    assert set(rej) == {"k2", "k3", "e2"}
    assert {r["reason"] for r in rej.values()} == {"exact_duplicate"}
    assert json.loads(rej["k3"]["attributes"])["exact"] == {"kept_id": "k1", "cluster_size": 3}
    assert json.loads(rej["e2"]["attributes"])["exact"]["kept_id"] == "e1"
    assert sorted(r["id"] for r in _rows(tmp_path / "02_exact")) == ["e1", "k1", "k9"]
    totals = _balanced(tmp_path, "02_exact", "exact")
    assert totals["sources"]["news"] == {"in": 1, "out": 1, "rejected": {}}
    extra = json.loads((tmp_path / "_extra" / "exact.json").read_text())
    assert extra["cluster_size_histogram"] == {"2": 1, "3": 1}


def test_line_dedup_removes_boilerplate(tmp_path: Path, sentences, ray_session) -> None:
    banner = "We use cookies to improve your experience. Accept all cookies?"
    nav = "Home | News | Contact"
    en = sentences["en"]

    def doc(i: str, body: list[str], extra: list[str]) -> Document:
        return Document(i, "\n".join([*extra, *body]), "web")

    shards = {
        "s1": [doc("a", en[0:4], [banner, nav]), doc("b", en[4:8], [nav, banner.upper().replace("?", "!!")])],
        "s2": [doc("c", en[8:12], [banner]), doc("d", ["Short."], [banner, nav]), doc("e", en[12:14], [])],
    }
    run_stage(
        tmp_path, "{type: line_dedup, name: lines, min_count: 3, min_chars_after: 20, partitions: 2}", shards
    )
    kept = {r["id"]: r for r in _rows(tmp_path / "02_lines")}
    rej = {r["id"]: r for r in _rows(tmp_path / "rejected" / "02_lines")}
    assert set(rej) == {"d"} and rej["d"]["reason"] == "too_short_after_line_dedup"
    assert rej["d"]["text"].startswith(banner)  # the rejected set keeps the original text
    assert set(kept) == {"a", "b", "c", "e"}
    for i in ("a", "b", "c"):
        assert banner not in kept[i]["text"] and nav not in kept[i]["text"]
        assert "cookies" not in kept[i]["text"].lower()
    assert kept["a"]["text"] == "\n".join(en[0:4])
    assert kept["e"]["text"] == "\n".join(en[12:14]) and json.loads(kept["e"]["attributes"]) == {}
    assert json.loads(kept["a"]["attributes"])["lines"]["units_removed"] == 2
    totals = _balanced(tmp_path, "02_lines", "lines")
    assert totals["counters"]["units_removed"] == 5  # kept documents only: a 2, b 2, c 1
    assert totals["counters"]["docs_rejected"] == 1
