"""`winnow inspect`: deterministic samples of a stage's rejected (or kept) documents, readable in a terminal.

The run directory is produced by the runner's own shard workers (ReadShard, DocumentShard) called in
process on the bundled sample, then the real manifest writer: the same files `winnow run` writes,
without starting Ray.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import parse_config
from pipeline.sampling import inspect_stage, parquet_files, sample_key, sample_rows
from pipeline.schema import documents_from_table

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
name: inspect-test
seed: 7
sources:
  - {name: web_en, format: jsonl, paths: ["../data/sample/en/*.jsonl", "../data/sample/en/*.json.gz"]}
  - {name: multilingual, format: jsonl, paths: ["../data/sample/multilingual/*.jsonl"]}
stages:
  - {type: c4_quality, min_sentences: 8}
  - {type: word_blocklist}
"""


def build_run(config_yaml: str, run_dir: Path) -> dict:
    """Write a run directory with the runner's shard workers, in process (no Ray), then its manifest."""
    from pipeline.manifest import write_manifest
    from pipeline.readers import expand_source
    from pipeline.runner import READ_STAGE, DocumentShard, ReadShard, plan
    from pipeline.shards import shard_files

    config = parse_config(config_yaml, str(REPO / "configs" / "test.yaml"), str(REPO / "configs"))
    reader = ReadShard(config, str(run_dir))
    for src in config.sources:
        for f in expand_source(src):
            reader(f.to_dict())
    prev = run_dir / f"00_{READ_STAGE}"
    for seg in plan(config):
        assert seg.kind == "document"
        worker = DocumentShard(config, str(run_dir), seg)
        for shard, files in shard_files(str(prev)).items():
            worker({"shard": shard, "files": files})
        prev = run_dir / seg.dir_name
    return write_manifest(config, str(run_dir), plan(config), {"total": 0.0})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("inspect") / "run"
    manifest = build_run(CONFIG, run)
    stage = {s["name"]: s for s in manifest["stages"]}
    assert stage["c4_quality"]["totals"]["rejected"] >= 5  # the sample has short and boilerplate pages
    return run


def _all_ids(files: list[str]) -> list[str]:
    import pyarrow.parquet as pq

    return [d.id for f in files for d in documents_from_table(pq.read_table(f))]


def test_sample_is_the_smallest_hashes_and_depends_on_the_seed(run_dir: Path) -> None:
    files = parquet_files(str(run_dir / "rejected" / "01_c4_quality"))
    ids = _all_ids(files)
    for seed in (0, 1):
        got = [r["id"] for r in sample_rows(files, 4, seed)]
        assert got == sorted(ids, key=lambda i: sample_key(seed, i))[:4]
        assert got == [r["id"] for r in sample_rows(files, 4, seed)]  # deterministic
    assert [r["id"] for r in sample_rows(files, 4, 0)] != [r["id"] for r in sample_rows(files, 4, 1)]
    assert len(sample_rows(files, 10_000, 0)) == len(ids)


def test_reason_filter_and_kept_documents(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    c4 = next(s for s in manifest["stages"] if s["name"] == "c4_quality")
    reasons = _reasons(c4)
    reason = max(reasons, key=lambda r: (reasons[r], r))
    out = inspect_stage(str(run_dir), "c4_quality", reason=reason, n=3, chars=120, width=100)
    assert out.count(f"rejected by c4_quality: {reason}") == 3
    assert "sentences" in out and "* c4_quality:" in out  # the deciding stats, first and marked
    kept = inspect_stage(str(run_dir), "word_blocklist", kept=True, n=2, chars=80, width=100)
    assert kept.count("kept by word_blocklist") == 2
    assert "word_blocklist:" in kept and "c4_quality:" in kept


def _reasons(stage: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in stage["sources"].values():
        for r, n in c["rejected"].items():
            out[r] = out.get(r, 0) + n
    return out


def test_terminal_output_is_readable(run_dir: Path) -> None:
    out = inspect_stage(str(run_dir), "c4_quality", n=2, chars=200, width=80, seed=3)
    lines = out.splitlines()
    assert lines[0].startswith("stage 01 c4_quality (c4_quality): in ")
    assert "showing 2 sampled with seed 3" in out
    assert sum(1 for line in lines if line.startswith("id:")) == 2
    assert sum(1 for line in lines if line.startswith("source:")) == 2
    assert any(line.startswith("  │ ") for line in lines)
    assert "showing the first 200" in out or "chars):" in out
    from pipeline.sampling import _cells

    for line in lines[3:]:  # every document line fits the width (CJK counts double)
        assert sum(_cells(ch) for ch in line) <= 80 + 4, line


def test_cli(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(run_dir), "--stage", "c4_quality", "-n", "2", "--seed", "5"]) == 0
    first = capsys.readouterr().out
    assert main(["inspect", str(run_dir), "--stage", "01", "-n", "2", "--seed", "5"]) == 0
    assert capsys.readouterr().out == first  # stage by index: same sample
    assert main(["inspect", str(run_dir), "--stage", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no stage 'nope'" in err and "c4_quality" in err
    assert main(["inspect", str(run_dir), "--stage", "c4_quality", "--reason", "nope"]) == 2
    assert "reasons:" in capsys.readouterr().err
