"""MinHash dedup end to end on Ray: clusters across shards/workers/partitions, determinism, edge cases."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dedup.normalize import jaccard, shingle_set
from pipeline.schema import Document
from pipeline.shards import load_stats, merge_tallies

from .conftest import make_context, run_stage

STAGE = "{type: minhash_dedup, name: fuzzy, partitions: 3, verify: exact}"


def _edit(words: list[str], positions: list[int], tag: str) -> list[str]:
    out = list(words)
    for i in positions:
        out[i] = f"{tag}{i}"
    return out


def corpus(sentences: dict[str, list[str]]) -> dict[str, list[Document]]:
    """A~B (3 edited words) in shard s1, B~C (3 more) with C in shard s2; A and C are not similar."""
    words = " ".join(sentences["en"][:40]).split()[:200]
    a = words
    b = _edit(a, [20, 90, 160], "bee")
    c = _edit(b, [50, 120, 185], "cee")
    docs = {
        "a": " ".join(a),
        "b": " ".join(b),
        "c": " ".join(c),
        "d1": " ".join(sentences["fr"][:30]),
        "d2": " ".join(sentences["fr"][:30]).upper() + " !!",  # same text, other case/punctuation
        "zh1": "".join(sentences["zh"][:12]),
        "zh2": "".join(sentences["zh"][:12]) + sentences["zh"][40],
    }
    for i in range(12):  # unrelated documents
        docs[f"u{i:02d}"] = " ".join(sentences["de"][i * 8 : i * 8 + 8])
    s1 = ["a", "b", "d1", "zh1", *[f"u{i:02d}" for i in range(6)]]
    s2 = ["c", "d2", "zh2", *[f"u{i:02d}" for i in range(6, 12)]]

    def mk(i: str) -> Document:
        return Document(id=i, text=docs[i], source="web" if i[0] != "z" else "zh", metadata={"n": i})

    return {"s1": [mk(i) for i in s1], "s2": [mk(i) for i in s2]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, sentences, ray_session) -> dict[int, Path]:
    shards = corpus(sentences)
    out = {}
    for workers in (2, 1):
        tmp = tmp_path_factory.mktemp(f"minhash{workers}")
        run_stage(tmp, STAGE, shards, workers=workers)
        out[workers] = tmp
    return out


def _rejected(tmp: Path) -> dict[str, dict]:
    rows = {}
    for f in sorted((tmp / "rejected" / "02_fuzzy").glob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            rows[r["id"]] = r
    return rows


def test_ground_truth_of_the_corpus(sentences) -> None:
    docs = {d.id: d.text for shard in corpus(sentences).values() for d in shard}
    sets = {k: shingle_set(v) for k, v in docs.items()}
    assert jaccard(sets["a"], sets["b"]) >= 0.85 and jaccard(sets["b"], sets["c"]) >= 0.85
    assert jaccard(sets["a"], sets["c"]) < 0.8


def test_cluster_spans_shards_and_workers(runs) -> None:
    tmp = runs[2]
    rej = _rejected(tmp)
    assert set(rej) == {"b", "c", "d2", "zh2"}
    for i in ("b", "c"):
        assert rej[i]["reason"] == "near_duplicate" and rej[i]["stage"] == "fuzzy"
        assert json.loads(rej[i]["attributes"])["fuzzy"] == {"kept_id": "a", "cluster_size": 3}
    assert json.loads(rej["d2"]["attributes"])["fuzzy"]["kept_id"] == "d1"
    assert json.loads(rej["zh2"]["attributes"])["fuzzy"]["kept_id"] == "zh1"
    kept = [
        r["id"] for f in sorted((tmp / "02_fuzzy").glob("*.parquet")) for r in pq.read_table(f).to_pylist()
    ]
    assert len(kept) == 19 - 4 and "a" in kept
    totals = merge_tallies(list(load_stats(str(tmp / "02_fuzzy")).values()))["fuzzy"]["sources"]
    for src in totals.values():
        assert src["in"] == src["out"] + sum(src["rejected"].values())
    assert totals["web"]["rejected"] == {"near_duplicate": 3}
    extra = json.loads((tmp / "_extra" / "fuzzy.json").read_text())
    assert extra["cluster_size_histogram"] == {"2": 2, "3": 1}
    assert extra["rounds"] >= 1 and extra["partitions"] == 3


def test_same_bytes_with_one_and_two_workers(runs) -> None:
    for sub in ("02_fuzzy", "rejected/02_fuzzy"):
        one = sorted((runs[1] / sub).glob("*.parquet"))
        two = sorted((runs[2] / sub).glob("*.parquet"))
        assert [p.name for p in one] == [p.name for p in two] and one
        for x, y in zip(one, two, strict=True):
            assert x.read_bytes() == y.read_bytes()


def test_empty_and_single_document_shards(tmp_path: Path, sentences, ray_session) -> None:
    doc = Document(id="only", text=" ".join(sentences["en"][:5]), source="web")
    run_stage(tmp_path, "{type: minhash_dedup, name: fuzzy}", {"empty": [], "one": [doc]})
    stats = load_stats(str(tmp_path / "02_fuzzy"))
    assert set(stats) == {"empty", "one"}
    assert stats["one"]["stages"]["fuzzy"]["sources"]["web"] == {"in": 1, "out": 1, "rejected": {}}
    assert stats["empty"]["stages"]["fuzzy"]["sources"] == {}
    assert json.loads((tmp_path / "_extra" / "fuzzy.json").read_text())["removed"] == 0


@pytest.mark.parametrize("stage", ["minhash_dedup", "exact_dedup", "line_dedup"])
def test_no_input_shards(tmp_path: Path, stage: str) -> None:
    ctx = make_context(tmp_path, f"{{type: {stage}, name: d}}", {})
    ctx.config.stage_configs()[0].build().run(ctx)
    assert json.loads((tmp_path / "_extra" / "d.json").read_text())["documents"] == 0


def _phase_dirs(tmp: Path) -> list[tuple[int, Path]]:
    root = tmp / "_work" / "02_fuzzy" / "_phases"
    found = [(json.loads((d / "_phase.json").read_text())["index"], d) for d in root.iterdir() if d.is_dir()]
    return sorted(found)


def test_rerun_after_a_crash_redoes_only_the_unfinished_tasks(
    tmp_path: Path, sentences, runs, caplog
) -> None:
    """A crash in the first label round's `propose` phase: the rerun keeps every earlier phase and the
    finished tasks of that phase, runs the rest, and writes the same bytes as an uninterrupted run."""
    run_stage(tmp_path, STAGE, corpus(sentences))
    phases = _phase_dirs(tmp_path)
    crash_index, crash_dir = next((i, d) for i, d in phases if d.name == "propose-r0001")
    for i, d in phases:
        if i > crash_index:
            shutil.rmtree(d)
    (crash_dir / "_phase.json").unlink()
    markers = sorted(crash_dir.glob("*.json"))
    assert len(markers) == 3
    markers[0].unlink()
    for sub in ("02_fuzzy", "rejected/02_fuzzy", "_extra"):
        shutil.rmtree(tmp_path / sub)

    with caplog.at_level(logging.INFO, logger="winnow"):
        run_stage(tmp_path, STAGE, corpus(sentences))
    log = caplog.text
    assert "phase 1/8 signatures: done in an earlier run (2 tasks)" in log
    assert f"phase {crash_index}/" in log and "propose (round 1): 2 of 3 tasks done in an earlier run" in log
    stats = json.loads((tmp_path / "_extra" / "fuzzy.json").read_text())["phases"]
    assert stats["signatures"]["tasks_from_earlier_run"] == 2
    assert stats["propose"]["tasks_from_earlier_run"] == 2
    assert "tasks_from_earlier_run" not in stats["remove"]
    for sub in ("02_fuzzy", "rejected/02_fuzzy"):
        want = sorted((runs[2] / sub).glob("*.parquet"))
        got = sorted((tmp_path / sub).glob("*.parquet"))
        assert [p.name for p in got] == [p.name for p in want]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(got, want, strict=True))


def test_work_dir_of_another_config_is_not_reused(tmp_path: Path, sentences, ray_session, caplog) -> None:
    run_stage(tmp_path, STAGE, corpus(sentences))
    for sub in ("02_fuzzy", "rejected/02_fuzzy", "_extra"):
        shutil.rmtree(tmp_path / sub)
    with caplog.at_level(logging.INFO, logger="winnow"):
        run_stage(tmp_path, STAGE.replace("partitions: 3", "partitions: 2"), corpus(sentences))
    assert "work dir of another config" in caplog.text
    assert "done in an earlier run" not in caplog.text
    assert json.loads((tmp_path / "_extra" / "fuzzy.json").read_text())["partitions"] == 2
