"""A document that kills its Ray worker is quarantined as `worker_crash`, never retried forever.

The crash is real: a test stage calls os._exit(1) in a Ray worker on a document holding a marker (in
this process it does nothing, so the in-process tests stay alive). The stage classes are pickled by
value into the shared Ray session's workers, like a user's own stage would be shipped; nothing of it
exists in winnow itself. The reference run has a stage that rejects the same document instead, and its
output must be the same bytes.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import ClassVar, Literal

import cloudpickle
import pyarrow.parquet as pq
import pytest

from pipeline.ceiling import WORKER_CRASH
from pipeline.config import Config, parse_config
from pipeline.ray_exec import TaskFailed
from pipeline.schema import Document
from pipeline.step import DocumentStep, StageConfig

MARKER = "POISON-7f3a"
DRIVER = os.getpid()


class _Marker(DocumentStep):
    """Kills its worker (`exit`) or rejects (`reject`) a document holding `marker`."""

    def __init__(self, marker: str, action: str, driver: int) -> None:
        super().__init__()
        self.marker, self.action, self.driver = marker, action, driver

    def setup(self) -> None:
        if self.action == "exit_in_setup" and os.getpid() != self.driver:
            os._exit(1)

    def process(self, doc: Document) -> str | None:
        if self.marker not in doc.text:
            return None
        if self.action == "exit" and os.getpid() != self.driver:
            os._exit(1)  # what a segfault in a native library looks like to Ray
        return WORKER_CRASH if self.action in ("reject", "exit") else "marked"


class MarkerConfig(StageConfig):
    type: Literal["marker"] = "marker"
    marker: str = MARKER
    action: Literal["exit", "reject", "drop", "exit_in_setup"] = "drop"
    driver: int = DRIVER
    kind: ClassVar[Literal["document", "global"]] = "document"

    def build(self) -> DocumentStep:
        return _Marker(self.marker, self.action, self.driver)


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this module


def _docs(n: int, poison: int | None, tag: str) -> str:
    lines = []
    for i in range(n):
        text = f"document {tag} {i} " + " ".join(f"w{(i * 7 + k) % 50}" for k in range(30))
        if i == poison:
            text += f" {MARKER}"
        if i % 9 == 4:
            text += " SKIPME"  # rejected by the first stage: a crash-free reject in the same batch
        lines.append(json.dumps({"id": f"{tag}-{i}", "text": text}))
    return "\n".join(lines) + "\n"


def _config(tmp: Path, action: str, *, workers: int, retries: int = 1) -> Config:
    src = tmp / "in"
    if not src.exists():
        src.mkdir()
        (src / "a.jsonl").write_text(_docs(30, 17, "a"), encoding="utf-8")
        (src / "b.jsonl").write_text(_docs(12, None, "b"), encoding="utf-8")
    base = parse_config(
        f"name: poison\nsources: [{{name: web, format: jsonl, paths: ['{src}/*.jsonl']}}]\n"
        f"output: {{batch_rows: 8}}\nray: {{num_workers: {workers}, task_retries: {retries}}}\n",
        str(tmp / "c.yaml"),
        str(tmp),
    )
    stages = [
        MarkerConfig(name="skip", marker="SKIPME"),
        MarkerConfig(name="crashy", action=action),
        MarkerConfig(name="after", marker="w49 w6"),
    ]
    return base.model_copy(update={"stages": stages})


def _rows(run: Path, sub: str) -> list[dict]:
    rows = []
    for f in sorted((run / sub).glob("*.parquet")):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


@pytest.mark.ray
@pytest.mark.slow
def test_a_document_that_kills_its_worker_is_quarantined_and_the_rest_goes_on(
    ray_session, tmp_path: Path
) -> None:
    from pipeline.runner import run

    ref = run(_config(tmp_path, "reject", workers=2), str(tmp_path / "ref"))
    got = run(_config(tmp_path, "exit", workers=1), str(tmp_path / "crash"))

    stages = {s["name"]: s for s in got["stages"]}
    crashy = stages["crashy"]
    assert crashy["sources"]["web"]["rejected"] == {WORKER_CRASH: 1}
    assert crashy["totals"]["in"] == stages["skip"]["totals"]["out"]
    assert crashy["totals"]["out"] == crashy["totals"]["in"] - 1
    assert got["balanced"] and stages["read"]["totals"]["in"] == 42
    assert [(s["name"], s["totals"]) for s in got["stages"]] == [
        (s["name"], s["totals"]) for s in ref["stages"]
    ]
    # the same bytes as the run whose stage rejected that document, and the row says what happened
    assert [(o["path"], o["sha256"]) for o in got["outputs"]] == [
        (o["path"], o["sha256"]) for o in ref["outputs"]
    ]
    rejected = _rows(tmp_path / "crash", "rejected/02_crashy")
    assert [(r["id"], r["reason"], r["stage"]) for r in rejected] == [("a-17", WORKER_CRASH, "crashy")]
    assert "killed its Ray worker" in json.loads(rejected[0]["attributes"])["crashy"]["error"]
    assert MARKER in rejected[0]["text"]
    ids = [r["id"] for r in _rows(tmp_path / "crash", got["final_dir"])]
    assert "a-17" not in ids and "a-18" in ids and "b-11" in ids


@pytest.mark.ray
@pytest.mark.slow
def test_a_stage_whose_setup_kills_its_worker_fails_the_run_and_quarantines_nothing(
    ray_session, tmp_path: Path
) -> None:
    from pipeline.runner import run

    with pytest.raises(TaskFailed, match="before any document, in setup"):
        run(_config(tmp_path, "exit_in_setup", workers=2, retries=0), str(tmp_path / "run"))
    assert not list((tmp_path / "run").glob("rejected/02_crashy/*.parquet"))


def _killer_factory(driver: int):
    def fn(item: dict) -> dict:
        if item["x"] == 2 and os.getpid() != driver:
            os._exit(1)
        if item["x"] == 3:
            raise KeyError("a bug in a task")
        return {"x": item["x"]}

    return fn


@pytest.mark.ray
def test_map_items_bounds_the_retries_and_names_what_died_and_what_raised(ray_session) -> None:
    from pipeline.config import RayConfig
    from pipeline.ray_exec import WorkerCrashed, map_items

    cfg = RayConfig(num_workers=2, task_retries=1)
    killer = functools.partial(_killer_factory, os.getpid())  # a module global would be the worker's own
    died = r"1 task\(s\) killed their Ray worker on each of 2 attempts"
    with pytest.raises(WorkerCrashed, match=died) as err:
        map_items([{"x": i} for i in range(3)], killer, cfg, stateful=False)
    assert err.value.items == [{"x": 2}] and err.value.results == [{"x": 0}, {"x": 1}]
    with pytest.raises(KeyError, match="a bug in a task") as bug:  # a bug keeps its type and traceback
        map_items([{"x": 3}], killer, cfg, stateful=False)
    assert "raised in a Ray task" in "".join(bug.value.__notes__)
