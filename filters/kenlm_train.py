"""`winnow train-lm`: build a KenLM model for the perplexity filter from reference text.

Why a command: the perplexity filter only means something with a model trained on text normalised and
tokenised exactly as the filter will see it. This command streams the reference text through the same
`TextNormalizer` into KenLM's own estimator `lmplz` (modified Kneser-Ney), then `build_binary`, and
writes `<model>.meta.json` recording the normalisation, so the filter can refuse a mismatched model.
lmplz/build_binary are C++ tools that the `kenlm` wheel lacks; scripts/build_kenlm.sh builds them.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from filters.perplexity import (
    TextNormalizer,
    load_model,
    meta_path,
    percentile_cutoffs,
    score_text,
    sha256_file,
)

TOOLS = ("lmplz", "build_binary")


def default_tools_dir() -> Path:
    """Where scripts/build_kenlm.sh installs the binaries by default."""
    root = os.environ.get("WINNOW_TOOLS") or os.path.join(
        os.path.expanduser("~"), ".cache", "winnow", "kenlm"
    )
    return Path(root) / "bin"


class KenlmToolsMissing(RuntimeError):
    pass


def find_tool(name: str, bin_dir: str | None = None) -> str:
    """`--kenlm-bin`, then $WINNOW_KENLM_BIN, then PATH, then the build script's cache folder."""
    candidates: list[str] = []
    for d in (bin_dir, os.environ.get("WINNOW_KENLM_BIN")):
        if d:
            candidates.append(os.path.join(d, name))
    on_path = shutil.which(name)
    if on_path:
        candidates.append(on_path)
    candidates.append(str(default_tools_dir() / name))
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise KenlmToolsMissing(
        f"KenLM's `{name}` was not found (looked in: {', '.join(dict.fromkeys(candidates))}). Build it with "
        "`scripts/build_kenlm.sh` (compiles lmplz and build_binary from the kenlm sdist into "
        f"{default_tools_dir()}), or pass --kenlm-bin DIR / set WINNOW_KENLM_BIN."
    )


def _open_text(path: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if path.endswith(".zst"):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))  # noqa: SIM115 (closed via wrapper)
        return io.TextIOWrapper(raw, encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_texts(path: str, text_field: str = "text") -> Iterator[str]:
    """Texts of one input file, streamed.

    `.jsonl` (optionally .gz/.zst): one JSON object per line, text in `text_field`. `.json`: a list of
    objects or an object of objects (like a benchmark's ground-truth file), or JSON lines as Dolma names
    them `.json.gz`. Anything else: plain text,
    each line a text.
    """
    stem = path.removesuffix(".gz").removesuffix(".zst")
    with _open_text(path) as f:
        if stem.endswith(".jsonl"):
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                yield _field(_loads(line, f"{path}:{n}"), text_field, f"{path}:{n}")
        elif stem.endswith(".json"):
            raw = f.read()
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                data = None  # Dolma-style `.json.gz` files are JSON lines
            if data is None:
                for n, line in enumerate(raw.split("\n"), 1):
                    if line.strip():
                        yield _field(_loads(line, f"{path}:{n}"), text_field, f"{path}:{n}")
                return
            records = data.values() if isinstance(data, dict) else data
            for i, rec in enumerate(records):
                yield _field(rec, text_field, f"{path} record {i}")
        else:
            for line in f:
                yield line.rstrip("\n")


def _loads(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e.msg})") from e


def _field(rec: Any, text_field: str, where: str) -> str:
    if not isinstance(rec, dict) or not isinstance(rec.get(text_field), str):
        raise ValueError(f"{where}: no string field {text_field!r} (set --text-field)")
    return rec[text_field]


def train(
    inputs: list[str],
    output: str,
    normalizer: TextNormalizer,
    *,
    order: int = 3,
    memory: str = "1G",
    prune: list[int] | None = None,
    discount_fallback: bool = True,
    text_field: str = "text",
    binary_type: str = "probing",
    quantize: int | None = None,
    keep_arpa: str | None = None,
    bin_dir: str | None = None,
    temp_dir: str | None = None,
    language: str | None = None,
    log: IO[str] = sys.stderr,
) -> dict[str, Any]:
    """Train and write the model (binary, or ARPA when `output` ends in .arpa) plus its meta file."""
    lmplz = find_tool("lmplz", bin_dir)
    want_binary = not output.endswith(".arpa")
    build_binary = find_tool("build_binary", bin_dir) if want_binary else None
    for p in inputs:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"input not found: {p}")
    if quantize is not None and binary_type != "trie":
        raise ValueError("--quantize needs --binary-type trie")
    Path(output).parent.mkdir(parents=True, exist_ok=True)

    lmplz_args = ["-o", str(order), "-S", memory]
    if prune:
        lmplz_args += ["--prune", *map(str, prune)]
    if discount_fallback:
        lmplz_args.append("--discount_fallback")
    with tempfile.TemporaryDirectory(prefix="winnow-train-lm-", dir=temp_dir) as tmp:
        arpa = output if not want_binary else keep_arpa or os.path.join(tmp, "model.arpa")
        err_path = os.path.join(tmp, "lmplz.log")
        lines = tokens = 0
        with open(arpa, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [lmplz, *lmplz_args, "-T", tmp], stdin=subprocess.PIPE, stdout=out, stderr=err
            )
            assert proc.stdin is not None
            try:
                for path in inputs:
                    for text in iter_texts(path, text_field):
                        for toks in normalizer.lines(text):
                            proc.stdin.write((" ".join(toks) + "\n").encode("utf-8"))
                            lines += 1
                            tokens += len(toks)
            except BrokenPipeError:
                pass  # lmplz died; its log says why (reported below)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                if proc.stdin and not proc.stdin.closed:
                    with contextlib.suppress(BrokenPipeError):
                        proc.stdin.close()
            rc = proc.wait()
        if lines == 0:
            raise ValueError(f"no text found in {inputs} (after normalisation every line was empty)")
        if rc != 0:
            tail = Path(err_path).read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"lmplz failed (exit {rc}) on {lines} lines:\n{tail}")
        print(f"lmplz: {lines} lines, {tokens} tokens -> {arpa}", file=log)
        if want_binary:
            assert build_binary is not None
            cmd = [build_binary, "-T", tmp]
            if quantize is not None:
                cmd += ["-q", str(quantize), "-b", str(quantize)]
            cmd += [binary_type, arpa, output]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"build_binary failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
            print(f"build_binary {binary_type}: {output}", file=log)

    meta = {
        "language": language,
        "normalization": normalizer.describe(),
        "tokenizer_file": os.path.basename(normalizer.tokenizer) if normalizer.tokenizer else None,
        "order": order,
        "lmplz_args": lmplz_args,
        "format": f"binary/{binary_type}" + (f"/q{quantize}" if quantize else "") if want_binary else "arpa",
        "inputs": [
            {"file": os.path.basename(p), "bytes": os.path.getsize(p), "sha256": sha256_file(p)}
            for p in inputs
        ],
        "text_field": text_field,
        "training_lines": lines,
        "training_tokens": tokens,
        "kenlm_python_version": _version("kenlm"),
    }
    with open(meta_path(output), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    return meta


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def bucket_cutoffs(
    model_path: str, normalizer: TextNormalizer, sample: list[str], text_field: str, percentiles: list[float]
) -> tuple[list[float], int]:
    """Perplexity percentiles over a document sample, for the filter's `buckets:` (CCNet uses 33/66)."""
    model = load_model(model_path)
    pps = []
    for path in sample:
        for text in iter_texts(path, text_field):
            s = score_text(model, normalizer, text)
            if s.tokens:
                pps.append(s.perplexity)
    return percentile_cutoffs(pps, percentiles), len(pps)


def run(args: argparse.Namespace) -> int:
    normalizer = TextNormalizer(
        lowercase=args.lowercase,
        strip_accents=args.strip_accents,
        digits=args.digits,
        punctuation=args.punctuation,
        tokenizer=args.tokenizer,
    )
    try:
        train(
            args.input,
            args.output,
            normalizer,
            order=args.order,
            memory=args.memory,
            prune=args.prune,
            discount_fallback=args.discount_fallback,
            text_field=args.text_field,
            binary_type=args.binary_type,
            quantize=args.quantize,
            keep_arpa=args.keep_arpa,
            bin_dir=args.kenlm_bin,
            temp_dir=args.temp_dir,
            language=args.language,
        )
        print(f"model: {args.output} (meta: {meta_path(args.output)})")
        if args.bucket_sample:
            cuts, n = bucket_cutoffs(
                args.output,
                normalizer,
                args.bucket_sample,
                args.bucket_text_field or args.text_field,
                args.bucket_percentiles,
            )
            lang = args.language or "<lang>"
            print(f"perplexity percentiles {args.bucket_percentiles} over {n} sample documents:")
            print(f"buckets: {{{lang}: [{', '.join(str(c) for c in cuts)}]}}")
    except (KenlmToolsMissing, FileNotFoundError, ValueError, RuntimeError, ImportError) as e:
        print(f"train-lm: error: {e}", file=sys.stderr)
        return 1
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train-lm",
        help="train a KenLM model for the perplexity filter (needs lmplz: scripts/build_kenlm.sh)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--input", "-i", nargs="+", required=True, help="reference text: .txt, .jsonl[.gz|.zst], .json"
    )
    p.add_argument("--output", "-o", required=True, help="model path; binary unless it ends in .arpa")
    p.add_argument("--text-field", default="text", help="JSON field holding the text (default: text)")
    p.add_argument("--language", help="language code recorded in the meta file and printed buckets")
    p.add_argument("--order", type=int, default=3, help="n-gram order (default 3; CCNet used 5)")
    p.add_argument(
        "--memory", "-S", default="1G", help="lmplz memory budget (default 1G; lmplz's own is 80%% of RAM)"
    )
    p.add_argument("--prune", type=int, nargs="+", help="lmplz --prune counts per order, e.g. 0 1 1")
    p.add_argument(
        "--discount-fallback",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pass lmplz --discount_fallback (needed on small corpora; default on)",
    )
    p.add_argument(
        "--binary-type", choices=["probing", "trie"], default="probing", help="build_binary structure"
    )
    p.add_argument(
        "--quantize", type=int, choices=range(2, 26), metavar="BITS", help="trie quantization bits"
    )
    p.add_argument("--keep-arpa", help="also keep the intermediate ARPA file here")
    p.add_argument("--tokenizer", help="pre-tokenizer: HF tokenizer.json or SentencePiece .model")
    p.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--strip-accents", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--digits", action=argparse.BooleanOptionalAction, default=True, help="digits -> 0")
    p.add_argument("--punctuation", choices=["normalize", "remove", "keep"], default="normalize")
    p.add_argument("--kenlm-bin", help="folder with lmplz and build_binary")
    p.add_argument("--temp-dir", help="where lmplz spills (default: system temp)")
    p.add_argument(
        "--bucket-sample", nargs="+", help="documents to compute bucket cut-offs on, after training"
    )
    p.add_argument("--bucket-text-field", help="JSON text field of the bucket sample (default: --text-field)")
    p.add_argument("--bucket-percentiles", type=float, nargs="+", default=[33.0, 66.0])
    p.set_defaults(func=run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m filters.kenlm_train")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["train-lm", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
