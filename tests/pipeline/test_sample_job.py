"""The main job (configs/sample.yaml) end to end on the bundled data: every stage does its work and
every document is accounted for. Needs nothing outside the repo."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]


def _rejected(run_dir: Path, stage_dir: str) -> list[dict]:
    return [
        r
        for p in sorted((run_dir / "rejected" / stage_dir).glob("*.parquet"))
        for r in pq.read_table(p).to_pylist()
    ]


def test_every_document_is_accounted_for(sample_run) -> None:
    _, manifest = sample_run
    assert manifest["balanced"] and not manifest["errors"]
    names = [s["name"] for s in manifest["stages"]]
    assert names[0] == "read" and names[-1] == "tokenize"
    for prev, cur in zip(manifest["stages"], manifest["stages"][1:], strict=False):
        assert cur["totals"]["in"] == prev["totals"]["out"], cur["name"]


def test_bad_input_is_quarantined_with_reason(sample_run) -> None:
    run_dir, _ = sample_run
    rows = _rejected(run_dir, "00_read")
    truncated = [r for r in rows if r["reason"] == "truncated_record"]
    assert len(truncated) == 1 and "resiliparse__clipped" in json.loads(truncated[0]["metadata"])["file"]


def test_planted_duplicates_and_contamination_are_removed(sample_run) -> None:
    run_dir, manifest = sample_run
    by_name = {s["name"]: s for s in manifest["stages"]}
    dup_ids = {r["id"] for s in ("12_exact_dedup", "13_minhash_dedup") for r in _rejected(run_dir, s)}
    assert {"lingua-zh-dup-exact", "lingua-zh-dup-near", "lingua-en-dup-near"} <= dup_ids
    near = _rejected(run_dir, "13_minhash_dedup")
    assert all(json.loads(r["attributes"])["minhash_dedup"]["kept_id"] for r in near)
    assert by_name["decontaminate"]["totals"]["rejected"] == 1
    assert [r["id"] for r in _rejected(run_dir, "11_decontaminate")] == ["lingua-en-003"]


def test_pii_is_replaced_in_the_output(sample_run) -> None:
    run_dir, manifest = sample_run
    final = run_dir / manifest["final_dir"]
    texts = {r["id"]: r["text"] for p in final.glob("*.parquet") for r in pq.read_table(p).to_pylist()}
    assert "jane.doe@example.com" not in texts["lingua-en-001"] and "<EMAIL>" in texts["lingua-en-001"]
    assert "13800138000" not in texts["lingua-zh-002"] and "<PHONE>" in texts["lingua-zh-002"]


def test_megatron_datasets_and_blend_are_written(sample_run) -> None:
    from tokenization.megatron import check

    run_dir, manifest = sample_run
    tokens = run_dir / "tokens"
    prefixes = sorted(p.with_suffix("") for p in tokens.glob("*_text_document.idx"))
    assert prefixes
    for prefix in prefixes:
        check(str(prefix))
    blend = (tokens / "data_args.txt").read_text().split()
    assert len(blend) == 2 * len(prefixes)
    assert manifest["extra"]["tokenize"]
