"""`output.keep_intermediate: false` (issue 11 item 6): a run keeps only what resume and the output need.

Each stage's document files are deleted once the next stage has them; the last documents (before
tokenize), rejected sets, stats and the manifest stay, the output bytes are those of a run that keeps
everything, a rerun resumes, and a stage whose input is gone is refused with a clear error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import ConfigError, parse_config
from pipeline.runner import OUTPUTS_DELETED, run

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
TOKENIZER = REPO / "data" / "tokenizers" / "sample-bpe-8k" / "tokenizer.json"

STAGES = [
    "  - type: gopher_quality",
    "  - type: exact_dedup",
    "  - type: pii",
    "  - {type: minhash_dedup, threshold: 0.8}",
    f"  - {{type: tokenize, tokenizer: {TOKENIZER}}}",
]


def _config(keep: bool, stages: int = len(STAGES)) -> str:
    return f"""
name: intermediate
sources:
  - {{name: web_en, format: jsonl, paths: ["{SAMPLE}/en/*.jsonl", "{SAMPLE}/en/*.json.gz"]}}
  - {{name: multilingual, format: jsonl, paths: ["{SAMPLE}/multilingual/*.jsonl"]}}
output: {{batch_rows: 50, keep_intermediate: {str(keep).lower()}, report: false}}
ray: {{num_workers: 2}}
stages:
""" + "\n".join(STAGES[:stages]) + "\n"


def _outputs(manifest: dict) -> list[dict]:
    """The manifest's data outputs (the blend files and tokens.json name the run directory)."""
    return [o for o in manifest["outputs"] if o["path"].endswith((".parquet", ".bin", ".idx"))]


def _kept_files(run_dir: Path) -> dict[str, bytes]:
    """What a user keeps: the final documents, rejected sets, tokens (the blend names the run dir)."""
    out = {}
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir)
        kept = rel.parts[0] in ("04_minhash_dedup", "rejected", "tokens") and "_stats" not in rel.parts
        if p.is_file() and kept:
            data = p.read_bytes()
            out[str(rel)] = data.replace(str(run_dir).encode(), b"RUN")
    return out


@pytest.fixture(scope="module")
def runs(ray_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("intermediate")
    keep, drop = tmp / "keep", tmp / "drop"
    m_keep = run(parse_config(_config(True), "c.yaml"), str(keep))
    m_drop = run(parse_config(_config(False), "c.yaml"), str(drop))
    return keep, drop, m_keep, m_drop


pytestmark = pytest.mark.ray


def test_intermediate_documents_are_deleted_and_the_output_is_the_same(runs):
    keep, drop, m_keep, m_drop = runs
    for stage in ("00_read", "01_gopher_quality", "02_exact_dedup", "03_pii"):
        assert list((keep / stage).glob("part-*.parquet")), stage
        assert not list((drop / stage).glob("part-*.parquet")), stage
        assert (drop / stage / OUTPUTS_DELETED).is_file()
        assert sorted(p.name for p in (drop / stage / "_stats").iterdir()) == sorted(
            p.name for p in (keep / stage / "_stats").iterdir()
        )
    assert list((drop / "04_minhash_dedup").glob("part-*.parquet"))  # the last documents stay
    assert _kept_files(drop) == _kept_files(keep)
    assert m_drop["balanced"] and m_keep["balanced"]
    assert _outputs(m_drop) == _outputs(m_keep) and len(_outputs(m_keep)) > 4
    assert [s["totals"] for s in m_drop["stages"]] == [s["totals"] for s in m_keep["stages"]]


def test_a_rerun_resumes_and_a_partial_run_finishes_with_the_same_bytes(runs, tmp_path):
    keep, drop, _, m_drop = runs
    assert run(parse_config(_config(False), "c.yaml"), str(drop))["outputs"] == m_drop["outputs"]
    # A run that stopped after stage 3 (its documents, then the last, are kept), then the whole config:
    part = tmp_path / "part"
    run(parse_config(_config(False, stages=3), "c.yaml"), str(part))
    assert list((part / "03_pii").glob("part-*.parquet"))
    assert not list((part / "01_gopher_quality").glob("part-*.parquet"))
    m = run(parse_config(_config(False), "c.yaml"), str(part))
    assert not list((part / "03_pii").glob("part-*.parquet"))
    assert _kept_files(part) == _kept_files(keep)
    assert _outputs(m) == _outputs(m_drop)


def test_a_stage_whose_input_was_deleted_is_refused_clearly(runs, tmp_path):
    _, drop, _, _ = runs
    copy = tmp_path / "copy"
    shutil.copytree(drop, copy)
    shutil.rmtree(copy / "04_minhash_dedup")  # "delete that stage directory to recompute it"
    with pytest.raises(ConfigError, match="deleted as intermediate"):
        run(parse_config(_config(False), "c.yaml"), str(copy))
