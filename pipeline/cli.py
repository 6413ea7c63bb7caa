"""`winnow` command line. Sub-commands are listed in pipeline/registry.py and imported when used."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pipeline import registry
from pipeline.ceiling import ErrorCeilingExceeded
from pipeline.config import ConfigError, load_config


def register_run(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run a config: read, filter, dedup, PII, tokenize, report")
    p.add_argument("config", help="YAML config file, or a bundled config by name (sample, cc_english, ...)")
    p.add_argument("--output", "-o", required=True, help="run directory (local path or s3://... URI)")
    p.add_argument("--workers", type=int, help="actors per stage (overrides ray.num_workers)")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.set_defaults(func=_run)


def register_validate(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check a config (keys, types, paths) without running it")
    p.add_argument("config")
    p.set_defaults(func=_validate)


def _validate(args: argparse.Namespace) -> int:
    from pipeline.readers import expand_source
    from pipeline.step import check_stage_files

    config = load_config(args.config)
    n = sum(len(expand_source(s)) for s in config.sources)
    problems = check_stage_files(config)
    if problems:
        print(f"winnow: {args.config}: files the stages need:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    stages = ", ".join(s.stage_name for s in config.stage_configs()) or "(none)"
    print(f"OK: {args.config}: {len(config.sources)} sources, {n} input files; stages: {stages}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from pipeline.runner import run

    config = load_config(args.config)
    if args.workers:
        config = config.model_copy(
            update={"ray": config.ray.model_copy(update={"num_workers": args.workers})}
        )
    manifest = run(config, args.output)
    if config.output.report and not args.no_report:
        _write_report(args.output)
    _print_summary(manifest, args.output)
    return 0 if manifest["balanced"] and not manifest["errors"] else 1


def _write_report(run_dir: str) -> None:
    from pipeline.report import write_report

    try:
        write_report(run_dir)
    except Exception as exc:  # a report bug must not fail a run whose data is complete
        logging.getLogger("winnow").warning("report.html was not written: %s: %s", type(exc).__name__, exc)


def _print_summary(manifest: dict[str, Any], run_dir: str) -> None:
    from pipeline import storage

    print(f"\nwinnow run '{manifest['name']}' -> {run_dir}")
    print(f"{'stage':<28}{'in':>10}{'out':>10}{'rejected':>10}  top reasons")
    for s in manifest["stages"]:
        reasons: dict[str, int] = {}
        for c in s["sources"].values():
            for r, n in c["rejected"].items():
                reasons[r] = reasons.get(r, 0) + n
        top = ", ".join(f"{r}={n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        t = s["totals"]
        print(f"{s['index']:02d} {s['name']:<25}{t['in']:>10}{t['out']:>10}{t['rejected']:>10}  {top}")
    lost = manifest.get("input_lost") or {"files": 0}
    print(
        f"counts add up: {'yes' if manifest['balanced'] else 'NO'}; errors: {len(manifest['errors'])}; "
        f"input lost: {_lost_summary(lost)}"
    )
    for e in manifest["errors"][:10]:
        print(f"  error in {e.get('stage')}: {e.get('path', e.get('shard'))}: {e.get('error')}")
    if lost["files"]:
        print(
            f"WARNING: this run lost input: {_lost_summary(lost)} could not be read "
            "(manifest.json input_lost; where and why: rejected/00_read)"
        )
        for f in lost["by_file"][:10]:
            print(f"  {f['source']}: {f['path']}: {f['bytes']} bytes, ~{_n(f['records_estimate'], 'record')}")
    print(f"manifest: {storage.join(run_dir, 'manifest.json')}")
    if storage.exists(storage.join(run_dir, "report.html")):
        print(f"report:   {storage.join(run_dir, 'report.html')}")


def _lost_summary(lost: dict[str, Any]) -> str:
    if not lost["files"]:
        return "none"
    return f"{_n(lost['files'], 'file')}, {lost['bytes']} bytes, ~{_n(lost['records_estimate'], 'record')}"


def _n(n: int, thing: str) -> str:
    return f"{n} {thing}" + ("" if n == 1 else "s")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winnow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"winnow {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, target in registry.COMMANDS.items():
        try:
            registry.load(target)(sub)
        except Exception as exc:  # one broken command module must not break every other command
            sub.add_parser(name, help=f"(unavailable: {exc})").set_defaults(func=_unavailable(name, exc))
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("winnow")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _unavailable(name: str, exc: Exception) -> Any:
    def fail(args: argparse.Namespace) -> int:
        print(f"winnow {name}: not available in this install ({exc})", file=sys.stderr)
        return 2

    return fail


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"winnow: {exc}", file=sys.stderr)
        return 2
    except ErrorCeilingExceeded as exc:  # finished shards stay done: a rerun with a higher ceiling goes on
        print(f"winnow: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as exc:
        print(f"winnow: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # storage failed for good, disk full, permission denied: shards done stay done
        print(f"winnow: {type(exc).__name__}: {exc}", file=sys.stderr)
        if getattr(args, "func", None) is _run:
            print("winnow: finished shards are kept; run the same command again to resume", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
