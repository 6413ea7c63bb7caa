"""What a stage is, seen from the runner.

Two kinds:
- `DocumentStep`: per-document logic (filters, PII, ...). Pure Python over `Document`s; the runner fuses
  consecutive document steps into one Ray task per shard and records their counts and reasons.
- `GlobalStage`: needs the whole corpus at once (dedup, tokenization). It gets a `StageContext` and runs
  its own phases on Ray Data, writing shards in the same layout as every other stage.

Each stage has a pydantic config class (a `StageConfig`) that the YAML `stages:` list is validated
against, and whose `build()` returns the runtime object.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from pipeline.schema import Document

if TYPE_CHECKING:
    from pipeline.config import Config


class DocumentStep:
    """Per-document logic: keep, drop with a reason, or rewrite text.

    `process` returns None to keep the document or a short snake_case reason to drop it. It may add
    attributes under `doc.attributes[self.name]` and may rewrite `doc.text` (a transform), in which case
    it should `count()` what it changed. Models are loaded in `setup()`, which the runner calls once per
    worker, never per batch.
    """

    name: str = "step"

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()

    def setup(self) -> None:
        """Load models and build matchers. Called once per Ray actor before any batch."""

    def process(self, doc: Document) -> str | None:
        raise NotImplementedError

    def process_batch(self, docs: list[Document]) -> list[str | None]:
        """Override when the model is faster on a batch (fastText, tokenizers)."""
        return [self.process(d) for d in docs]

    def count(self, key: str, n: int = 1) -> None:
        """Add to a per-stage counter that ends up in the shard stats and the manifest."""
        self.counters[key] += n


@dataclass
class StageContext:
    """Everything a global stage needs to read its input shards and write its outputs."""

    config: Config
    run_dir: str  # RUN: the run directory (tokens/, _extra/ live here)
    stage_index: int
    stage_name: str
    stage_dir: str  # <run>/<NN>_<name>: output shards part-<shard>-<k>.parquet and _stats/<shard>.json
    rejected_dir: str  # <run>/rejected/<NN>_<name>: part-<shard>.parquet
    work_dir: str  # <run>/_work/<NN>_<name>: scratch for shuffles; removed when the stage is complete
    shards: dict[str, list[str]] = field(default_factory=dict)  # shard id -> input parquet files, sorted
    config_hash: str = ""
    rows: dict[str, int] | None = None  # shard id -> input documents (previous stats); None: from footers


class GlobalStage:
    """A stage that must see the whole corpus. Implements `run(ctx)` with Ray Data over files."""

    name: str = "global"

    def run(self, ctx: StageContext) -> None:
        raise NotImplementedError


class StageConfig(BaseModel):
    """Base of every stage's config. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str | None = None
    workers: int | None = Field(
        None, ge=1, description="Ray actors for this stage (default: ray.num_workers)."
    )
    cpus_per_worker: float | None = Field(
        None, gt=0, description="CPUs per actor (default: ray.cpus_per_worker)."
    )

    kind: ClassVar[Literal["document", "global"]] = "document"
    writes_documents: ClassVar[bool] = True
    """False for a stage whose output is not documents (tokenize): the documents before it are final."""

    @property
    def stage_name(self) -> str:
        return self.name or self.type

    written_paths: ClassVar[frozenset[str]] = frozenset()
    """Path fields the stage writes (caches) rather than reads: not checked for existence."""

    def build(self) -> DocumentStep | GlobalStage:
        raise NotImplementedError

    def input_paths(self) -> list[tuple[str, str]]:
        """(field, path) of every file or folder this stage reads, from its `ConfigPath` fields."""
        out = []
        for name, info in type(self).model_fields.items():
            if name in self.written_paths or not _holds_config_path(info.annotation, info.metadata):
                continue
            value = getattr(self, name)
            values = list(value.values()) if isinstance(value, dict) else value
            values = values if isinstance(values, list) else [values]
            out.extend((name, v) for v in values if isinstance(v, str))
        return out

    def check_files(self) -> list[str]:
        """Problems with the files this stage reads (missing, or not what their header should say),
        found before a run starts instead of after hours of earlier stages. Stages add header checks."""
        from pipeline import storage

        return [f"{name}: no such file or folder: {path}" for name, path in self.input_paths()
                if not storage.exists(path)]


def check_stage_files(config: Any) -> list[str]:
    """Every stage's file problems, each prefixed with the stage (what `winnow validate` prints)."""
    return [f"stage {i} ({cfg.stage_name}): {problem}"
            for i, cfg in enumerate(config.stage_configs(), start=1) for problem in cfg.check_files()]


def _holds_config_path(annotation: Any, metadata: list[Any]) -> bool:
    if any(getattr(m, "func", None) is resolve_path for m in metadata):
        return True
    if get_origin(annotation) is Annotated:
        return _holds_config_path(None, list(get_args(annotation)[1:])) or any(
            _holds_config_path(a, []) for a in get_args(annotation)[:1]
        )
    return any(_holds_config_path(a, []) for a in get_args(annotation))


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Resolve a relative path against the config file's folder; absolute paths and URIs stay."""
    if "://" in value or os.path.isabs(value):
        return value
    base = (info.context or {}).get("base_dir")
    return os.path.normpath(os.path.join(base, value)) if base else value


ConfigPath = Annotated[str, AfterValidator(resolve_path)]
"""A path in a config: relative paths are relative to the config file, so a config runs from anywhere."""


StepFactory = Callable[[], DocumentStep]
