"""The run config: one pydantic model, loaded from YAML, that rejects unknown keys.

Errors name the file, the line and the key path, e.g.
`configs/x.yaml:12: stages[1].min_words: Input should be a valid integer`.
Relative paths in a config are resolved against the config file's folder.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline import bundle, registry
from pipeline.schema import dumps
from pipeline.step import ConfigPath, StageConfig


class ConfigError(ValueError):
    """A config that cannot run. The message names the file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SourceBase(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    paths: list[ConfigPath] = Field(min_length=1, description="Files, globs, URIs, or *.paths.gz listings.")
    listing_prefix: str | None = Field(
        None, description="Prefix joined to each line of a *.paths.gz listing."
    )
    max_files: int | None = Field(None, ge=1, description="Read only the first N files (sorted).")
    max_document_bytes: int = Field(10_000_000, ge=1, description="Longer documents are quarantined.")


class WarcSource(_SourceBase):
    format: Literal["warc"]
    extractor: Literal["winnow", "resiliparse", "trafilatura"] = Field(
        "trafilatura",
        description="HTML to text: winnow (block model, best on WCXB's page types), resiliparse "
        "(fastest) or trafilatura (best on news articles); numbers in docs/extractors.md.",
    )
    min_text_chars: int = Field(1, ge=0, description="Extracted text shorter than this is rejected.")


class WetSource(_SourceBase):
    format: Literal["wet"]


_SHARD_MB = Field(
    256,
    ge=1,
    description="Files larger than this are read as several shards of about this size, in parallel "
    "(uncompressed JSON Lines by line ranges, Parquet by row groups; .gz/.zst files stay whole). "
    "null: one shard per file.",
)


class JsonlSource(_SourceBase):
    format: Literal["jsonl"]
    text_field: str = "text"
    id_field: str | None = "id"
    url_field: str | None = "url"
    shard_mb: int | None = _SHARD_MB


class ParquetSource(_SourceBase):
    format: Literal["parquet"]
    text_field: str = "text"
    id_field: str | None = "id"
    url_field: str | None = "url"
    shard_mb: int | None = _SHARD_MB


class TextSource(_SourceBase):
    format: Literal["text"]
    encoding: str = Field("utf-8", description="Files that do not decode are quarantined as invalid_utf8.")


Source = Annotated[
    WarcSource | WetSource | JsonlSource | ParquetSource | TextSource, Field(discriminator="format")
]


class OutputConfig(_Strict):
    target_shard_mb: int = Field(256, ge=1, description="An output file rolls over past this size.")
    batch_rows: int = Field(1000, ge=1, description="Documents per batch and per Parquet row group.")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"
    keep_rejected_text: bool = Field(True, description="Store the text of rejected documents.")
    report: bool = Field(True, description="Write report.html at the end of the run.")
    keep_intermediate: bool = Field(
        True,
        description="false: a stage's output shards are deleted once the next stage has them (per shard, "
        "after its stats are written; a global stage's input when it completes), so a run holds about two "
        "copies of the corpus, not one per stage. The last documents, rejected sets, stats and the manifest "
        "always stay, and a rerun still resumes; a stage can then no longer be recomputed from the one "
        "before it. Output bytes are the same either way.",
    )


class RayConfig(_Strict):
    address: str | None = Field(None, description="Ray cluster; default RAY_ADDRESS, else embedded Ray.")
    num_workers: int | None = Field(None, ge=1, description="Actors per stage; default: cluster CPUs.")
    cpus_per_worker: float = Field(1.0, gt=0)
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the embedded local Ray.")
    task_retries: int = Field(
        3,
        ge=0,
        description="Times a task whose Ray worker died (segfault, os._exit, out of memory, lost node) is "
        "retried. A shard of a document stage that still kills its worker is then bisected, and the "
        "documents that kill it are quarantined with reason worker_crash; in other stages the run fails.",
    )


class Config(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")] = "run"
    seed: int = 0
    max_error_fraction: float = Field(
        0.1,
        ge=0,
        le=1,
        description="A stage that quarantines more than this fraction of its input documents as errors "
        "(unreadable, undecodable, failed extraction; not filter rejections) fails the run after it.",
    )
    sources: list[Source] = Field(min_length=1)
    stages: list[Any] = Field(default_factory=list)
    output: OutputConfig = OutputConfig()
    ray: RayConfig = RayConfig()

    def stage_configs(self) -> list[StageConfig]:
        return list(self.stages)

    def canonical(self) -> dict[str, Any]:
        """The resolved config as plain data (what is hashed and written to the run dir)."""
        data = self.model_dump(mode="json")
        data["stages"] = [s.model_dump(mode="json") for s in self.stages]
        return data

    def hash(self) -> str:
        return hashlib.sha256(dumps(self.canonical()).encode()).hexdigest()


def _line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Map each key path in a YAML document to its 1-based line number."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _errors(err: ValidationError, prefix: tuple[Any, ...], lines: dict, file: str, model: Any) -> list[str]:
    msgs = []
    for e in err.errors():
        loc = (*prefix, *(p for p in e["loc"] if not (isinstance(p, str) and p in _TAGS)))
        line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), 0)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[len(prefix) :])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            msg = f"unknown key '{loc[-1]}'" + (f" (did you mean '{close[0]}'?)" if close else "")
            if allowed:
                msg += f"; allowed: {', '.join(sorted(allowed))}"
        elif "input" in e and not isinstance(e["input"], dict | list):
            msg += f" (got {e['input']!r})"
        msgs.append(f"{file}:{line}: {_format_loc(loc)}: {msg}")
    return msgs


_TAGS = {"warc", "wet", "jsonl", "parquet", "text"}


def _allowed_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model that owns the unknown key (best effort, for the hint)."""
    cur = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if cur is Config and part == "sources":
            return sorted(
                {
                    f
                    for m in (WarcSource, WetSource, JsonlSource, ParquetSource, TextSource)
                    for f in m.model_fields
                }
            )
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        cur = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if cur is None:
            return []
    return list(getattr(cur, "model_fields", {}))


def parse_config(text: str, file: str = "<config>", base_dir: str | None = None) -> Config:
    """Validate YAML text into a Config; raise ConfigError listing every problem with its line."""
    try:
        data = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file}:1: the config must be a mapping with 'sources' and 'stages'")
    ctx = {"base_dir": base_dir}
    problems: list[str] = []
    stages: list[StageConfig] = []
    for i, raw in enumerate(data.get("stages") or []):
        stage = _parse_stage(raw, i, lines, file, ctx, problems)
        if stage is not None:
            stages.append(stage)
    try:
        config = Config.model_validate({**data, "stages": []}, context=ctx)
    except ValidationError as err:
        problems = _errors(err, (), lines, file, Config) + problems
        config = None
    names = [s.stage_name for s in stages]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{file}: stage name '{dup}' is used twice; give one a 'name:'")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    assert config is not None
    return config.model_copy(update={"stages": stages})


def _parse_stage(
    raw: Any, i: int, lines: dict, file: str, ctx: dict, problems: list[str]
) -> StageConfig | None:
    loc = ("stages", i)
    line = lines.get(loc, 0)
    if not isinstance(raw, dict) or "type" not in raw:
        problems.append(f"{file}:{line}: stages[{i}]: a stage is a mapping with a 'type' key")
        return None
    stype = raw["type"]
    if stype not in registry.STAGES:
        close = difflib.get_close_matches(str(stype), list(registry.STAGES), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        where = f"{file}:{lines.get((*loc, 'type'), line)}: stages[{i}].type"
        problems.append(f"{where}: unknown stage type '{stype}'{hint}; known: {', '.join(registry.STAGES)}")
        return None
    cls = registry.stage_config_class(stype)
    try:
        return cls.model_validate(raw, context=ctx)
    except ValidationError as err:
        problems.extend(_errors(err, loc, lines, file, cls))
        return None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML config file, or a bundled config named by `path` when no such file exists.

    The fallback is what lets an installed winnow run `winnow run configs/sample.yaml` from any folder.
    """
    p = Path(path)
    if not p.is_file():
        bundled = bundle.find_config(str(path))
        if bundled is None:
            names = ", ".join(bundle.config_names())
            raise ConfigError(f"{p}: no such config file (bundled configs: {names})")
        logging.getLogger("winnow").info("%s is not a file here: using winnow's bundled %s", p, bundled)
        p = bundled
    return parse_config(p.read_text(encoding="utf-8"), file=str(p), base_dir=str(p.resolve().parent))
