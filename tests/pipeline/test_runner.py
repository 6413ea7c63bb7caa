"""The runner on the bundled real sample: counts add up, output bytes do not depend on the worker
count, reruns resume, and a changed config never mixes with old shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.config import ConfigError, parse_config
from pipeline.runner import _guarded, run
from pipeline.schema import Document
from pipeline.step import DocumentStep

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

CONFIG = f"""
name: read-only
sources:
  - name: commoncrawl
    format: warc
    paths: ["{SAMPLE}/commoncrawl/*.warc.gz", "{SAMPLE}/web/*.warc.gz"]
  - name: web_en
    format: jsonl
    paths: ["{SAMPLE}/en/*.jsonl"]
output:
  batch_rows: 7
"""


def _files(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def two_runs(ray_session, tmp_path_factory) -> tuple[Path, Path, dict]:
    a = tmp_path_factory.mktemp("one") / "run"
    b = tmp_path_factory.mktemp("two") / "run"
    m1 = run(parse_config(CONFIG + "ray: {num_workers: 1}\n", "c.yaml"), str(a))
    run(parse_config(CONFIG + "ray: {num_workers: 2}\n", "c.yaml"), str(b))
    return a, b, m1


def test_counts_add_up_and_quarantine_is_recorded(two_runs) -> None:
    _, _, manifest = two_runs
    read = manifest["stages"][0]
    assert manifest["balanced"] and read["balanced"]
    assert read["sources"]["commoncrawl"]["rejected"]["truncated_record"] == 1
    assert read["sources"]["web_en"]["in"] == 20
    assert len(manifest["inputs"]) == 7 and all(len(i["sha256"]) == 64 for i in manifest["inputs"])


def test_output_bytes_are_identical_with_1_and_2_workers(two_runs) -> None:
    a, b, _ = two_runs
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys() and len(fa) > 5
    assert fa == fb


def test_rerun_skips_done_shards(two_runs, ray_session) -> None:
    a, _, _ = two_runs
    stats = sorted((a / "00_read" / "_stats").glob("*.json"))
    before = {p: p.stat().st_mtime_ns for p in stats}
    run(parse_config(CONFIG + "ray: {num_workers: 1}\n", "c.yaml"), str(a))
    assert {p: p.stat().st_mtime_ns for p in stats} == before


def test_changed_config_refuses_to_mix_with_old_shards(two_runs) -> None:
    a, _, _ = two_runs
    with pytest.raises(ConfigError, match="different config"):
        run(parse_config(CONFIG.replace("batch_rows: 7", "batch_rows: 8"), "c.yaml"), str(a))


def test_manifest_lists_outputs_with_hashes(two_runs) -> None:
    a, _, manifest = two_runs
    on_disk = json.loads((a / "manifest.json").read_text())
    assert on_disk["outputs"] == manifest["outputs"]
    assert all((a / o["path"]).is_file() for o in manifest["outputs"])


class _Boom(DocumentStep):
    name = "boom"

    def process(self, doc: Document) -> str | None:
        if "bad" in doc.text:
            raise RuntimeError("cannot handle this one")
        return None


def test_a_step_that_raises_rejects_only_that_document() -> None:
    docs = [Document(id=str(i), text=t, source="s") for i, t in enumerate(["ok", "bad", "fine"])]
    assert _guarded(_Boom(), docs) == [None, "error", None]
    assert "cannot handle" in docs[1].attributes["boom"]["error"]
