"""Quality and speed of winnow's HTML extractors on the article-extraction benchmark, against datatrove.

Data: ``../shared/data/web_text_en/article_extraction_benchmark`` (181 real pages, gzipped, with the
gold article text in ``ground-truth.json``; MIT, Scrapinghub). For each extractor we run
``pipeline.readers.html.extract_text`` on the raw page bytes (decoding included) and report:

- token P/R/F1: bag of whitespace tokens of the output vs the gold ``articleBody``, per page, then
  averaged over pages (mean precision, mean recall, F1 of the two means, as the benchmark project does);
- shingle F1: the benchmark project's own metric (``\\w+`` tokens, 4-token shingles, counts normalised
  per page), re-implemented here, so the numbers can be compared with its published table;
- pages/s and MB/s (uncompressed HTML) on one core, from CPU time (best of ``--repeat`` runs), which is
  less disturbed than wall time when other jobs share the machine.

The peer is datatrove's ``Trafilatura`` extractor step (its default HTML extractor, as used for
FineWeb) run with its defaults in ``/work/.venv-bench`` in a subprocess, on the same pages already
decoded to str (so its timing excludes decoding); its CPU time includes the sandbox process it forks.

    python bench/extractors.py                 # ~30 s on one free core
    python bench/extractors.py --repeat 5 --json runs/extractors.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "web_text_en" / "article_extraction_benchmark"
PEER_PYTHON = Path("/work/.venv-bench/bin/python")
WORD_RE = re.compile(r"\w+")
# Below this many pages/s per core, an extractor is "dramatically slower": a 3-billion-page crawl
# would need over 40,000 core-hours for extraction alone, more than the rest of the pipeline.
MIN_PAGES_PER_S = 20.0
# F1 differences smaller than this are within the benchmark's noise (its published 95% CIs are ~0.01).
F1_NOISE = 0.01


def load_pages(data: Path, limit: int | None) -> tuple[list[str], dict[str, bytes], dict[str, str]]:
    """Page keys (sorted), raw HTML bytes and gold article text; ``.html.gz`` or plain ``.html``."""
    gold_all = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(gold_all)[:limit]
    raw: dict[str, bytes] = {}
    for key in keys:
        gz = data / "html" / f"{key}.html.gz"
        plain = data / "html" / f"{key}.html"
        raw[key] = gzip.decompress(gz.read_bytes()) if gz.exists() else plain.read_bytes()
    return keys, raw, {k: gold_all[k].get("articleBody") or "" for k in keys}


def _precision_recall(gold: Counter, pred: Counter) -> tuple[float | None, float | None]:
    """Per-page precision and recall of bags; None where undefined (empty side), as in the benchmark."""
    tp = sum((gold & pred).values())
    n_pred, n_gold = sum(pred.values()), sum(gold.values())
    if n_pred == 0 and n_gold == 0:
        return 1.0, 1.0
    return (tp / n_pred if n_pred else None), (tp / n_gold if n_gold else None)


def _shingles(text: str, n: int = 4) -> Counter:
    words = WORD_RE.findall(text)
    if len(words) < n:
        return Counter([tuple(words)] if words else [])
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def quality(outputs: dict[str, str], gold: dict[str, str]) -> dict[str, float]:
    """Macro-averaged token P/R/F1 (whitespace bag) and the benchmark's shingle F1."""
    sums: dict[str, list[float]] = {"p": [], "r": [], "sp": [], "sr": []}
    for key, ref in gold.items():
        pred = outputs.get(key, "")
        for (p, r), (kp, kr) in (
            (_precision_recall(Counter(ref.split()), Counter(pred.split())), ("p", "r")),
            (_precision_recall(_shingles(ref), _shingles(pred)), ("sp", "sr")),
        ):
            # An empty output on a page with gold text scores recall 0 and no precision: a page where
            # nothing is extracted is counted against recall, not silently skipped.
            if p is not None:
                sums[kp].append(p)
            if r is not None:
                sums[kr].append(r)
    mean = {k: (sum(v) / len(v) if v else 0.0) for k, v in sums.items()}

    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    return {
        "precision": mean["p"],
        "recall": mean["r"],
        "f1": f1(mean["p"], mean["r"]),
        "shingle_f1": f1(mean["sp"], mean["sr"]),
        "empty": float(sum(1 for k in gold if not outputs.get(k))),
    }


def time_extractor(fn: Callable[[bytes], str], keys: list[str], raw: dict[str, bytes], repeat: int):
    """Outputs of the first run, best CPU seconds over ``repeat`` runs, and whether all runs agreed."""
    best = float("inf")
    first: dict[str, str] | None = None
    deterministic = True
    for _ in range(repeat):
        t0 = time.process_time()
        out = {key: fn(raw[key]) for key in keys}
        best = min(best, time.process_time() - t0)
        if first is None:
            first = out
        elif out != first:
            deterministic = False
    assert first is not None
    return first, best, deterministic


def run_winnow(keys: list[str], raw: dict[str, bytes], repeat: int) -> dict[str, dict]:
    sys.path.insert(0, str(REPO))
    from pipeline.readers.html import EXTRACTORS, ExtractionError, extract_text

    results: dict[str, dict] = {}
    for name in EXTRACTORS:
        errors = Counter()

        def fn(page: bytes, name: str = name, errors: Counter = errors) -> str:
            try:
                return extract_text(page, name)
            except ExtractionError as exc:
                errors[exc.reason] += 1
                return ""

        extract_text(raw[keys[0]], name)  # warm up lazy imports outside the timing
        outputs, cpu, deterministic = time_extractor(fn, keys, raw, repeat)
        results[f"winnow/{name}"] = {
            "outputs": outputs,
            "cpu_s": cpu,
            "deterministic": deterministic,
            "errors": dict(errors),
        }
    return results


def peer_worker(data: Path, limit: int | None, repeat: int) -> None:
    """Runs inside the bench venv: datatrove's Trafilatura step over the pages; prints JSON."""
    sys.path.insert(0, str(REPO))
    from datatrove.data import Document
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.utils.logging import logger

    from pipeline.readers.html import decode_html

    logger.remove()
    keys, raw, _ = load_pages(data, limit)
    html = {k: decode_html(raw[k]) for k in keys}
    best = float("inf")
    outputs: dict[str, str] = {}
    for _ in range(repeat):
        step = Trafilatura()
        docs = [Document(text=html[k], id=k) for k in keys]
        c0 = time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        outputs = {doc.id: doc.text for doc in step.run(iter(docs))}
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
        best = min(best, time.process_time() - c0 + child)
    stats = {str(k): v for k, v in step.stats.stats.items()} if hasattr(step, "stats") else {}
    json.dump({"outputs": outputs, "cpu_s": best, "stats": {k: str(v) for k, v in stats.items()}}, sys.stdout)


def run_peer(data: Path, limit: int | None, repeat: int) -> dict | None:
    if not PEER_PYTHON.exists():
        print(f"peer skipped: {PEER_PYTHON} not found", file=sys.stderr)
        return None
    cmd = [str(PEER_PYTHON), __file__, "--peer-worker", "--data", str(data), "--repeat", str(repeat)]
    if limit:
        cmd += ["--limit", str(limit)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"peer failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    result = json.loads(proc.stdout)
    version = subprocess.run(
        [str(PEER_PYTHON), "-c", "import datatrove, trafilatura as t; print(t.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    result["label"] = f"datatrove/Trafilatura (trafilatura {version})"
    return result


def recommend(rows: dict[str, dict]) -> tuple[str, str]:
    """Quality first; fall back to the fastest candidate only if the best one is dramatically slow."""
    ours = {k.split("/", 1)[1]: v for k, v in rows.items() if k.startswith("winnow/")}
    best = max(ours, key=lambda n: ours[n]["f1"])
    fastest = max(ours, key=lambda n: ours[n]["pages_per_s"])
    gap = ours[best]["f1"] - ours[fastest]["f1"]
    slow = ours[fastest]["pages_per_s"] / ours[best]["pages_per_s"]
    if best == fastest:
        return best, f"{best} is both the most accurate and the fastest"
    if gap < F1_NOISE:
        return fastest, f"F1 gap {gap:+.3f} is within noise, so the {slow:.1f}x faster {fastest} wins"
    if ours[best]["pages_per_s"] < MIN_PAGES_PER_S:
        return fastest, (
            f"{best} is {gap:+.3f} F1 better but only {ours[best]['pages_per_s']:.0f} pages/s/core "
            f"(< {MIN_PAGES_PER_S:.0f}), too slow for web scale"
        )
    return best, (
        f"{best} is {gap:+.3f} F1 better; {slow:.1f}x slower than {fastest} but still "
        f"{ours[best]['pages_per_s']:.0f} pages/s/core (>= {MIN_PAGES_PER_S:.0f})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="article-extraction-benchmark folder")
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages (sorted by key)")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per extractor; best is reported")
    ap.add_argument("--no-peer", action="store_true", help="skip the datatrove comparison")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--peer-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_worker:
        peer_worker(args.data, args.limit, args.repeat)
        return 0
    if not (args.data / "ground-truth.json").exists():
        print(f"benchmark data not found at {args.data}", file=sys.stderr)
        return 2

    keys, raw, gold = load_pages(args.data, args.limit)
    mb = sum(len(raw[k]) for k in keys) / 1e6
    print(f"{len(keys)} pages, {mb:.1f} MB of HTML; CPU time, one core, best of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f} (on a shared machine absolute speeds are noisy, "
          "ratios less so)")

    runs = run_winnow(keys, raw, args.repeat)
    peer = None if args.no_peer else run_peer(args.data, args.limit, args.repeat)
    if peer:
        runs[peer["label"]] = peer
    rows: dict[str, dict] = {}
    for label, run in runs.items():
        rows[label] = {
            **quality(run["outputs"], gold),
            "pages_per_s": len(keys) / run["cpu_s"],
            "mb_per_s": mb / run["cpu_s"],
            "deterministic": run.get("deterministic"),
            "errors": run.get("errors", {}),
        }

    peer_speed = rows[peer["label"]]["pages_per_s"] if peer else None
    header = (f"{'extractor':44} {'prec':>6} {'recall':>6} {'F1':>6} {'shinF1':>6} {'empty':>5} "
              f"{'pages/s':>8} {'MB/s':>6} {'vs peer':>7}")
    print(header)
    print("-" * len(header))
    for label, r in rows.items():
        ratio = f"{r['pages_per_s'] / peer_speed:6.2f}x" if peer_speed else "    n/a"
        print(f"{label:44} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} {r['shingle_f1']:6.3f} "
              f"{int(r['empty']):5d} {r['pages_per_s']:8.1f} {r['mb_per_s']:6.2f} {ratio:>7}")
    for label, r in rows.items():
        if r["errors"]:
            print(f"{label}: extraction errors {r['errors']}")
        if r["deterministic"] is False:
            print(f"{label}: NOT deterministic across repeats")
    if peer and peer.get("stats"):
        wanted = ("total", "extracted", "dropped", "timeout", "clean_error", "broken_process")
        print(f"{peer['label']} step stats: "
              + ", ".join(f"{k}={v}" for k, v in peer["stats"].items() if k in wanted))

    sys.path.insert(0, str(REPO))
    from pipeline.readers.html import DEFAULT_EXTRACTOR

    choice, why = recommend(rows)
    print(f"recommended default: {choice} ({why}); current DEFAULT_EXTRACTOR = {DEFAULT_EXTRACTOR!r}"
          + ("" if choice == DEFAULT_EXTRACTOR else "  <-- differs, revisit"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"pages": len(keys), "mb": mb, "rows": rows, "recommended": choice},
                                        indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
