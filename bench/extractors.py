"""HTML extractors side by side: WCXB word F1 by page type, article-benchmark F1, pages/s per core.

Two real data sets, one run, every extractor on the same raw page bytes through
``pipeline.readers.html.extract_text`` (decoding included):

- **WCXB dev** (``../shared/data/web_text_en/wcxb_dev``: 1,497 pages of 7 types, CC-BY-4.0): word F1
  per page with WCXB's own ``evaluate.py`` (imported from the data folder), averaged overall and per
  page type. winnow's own extractor was trained on this split, so its row here is in-sample; the
  figure to compare is its 5-fold cross-validated F1 (grouped by domain), printed from the model
  card that ``winnow train-extractor`` wrote.
- **Article-extraction benchmark** (``article_extraction_benchmark``: 181 news/blog pages, MIT): a
  different source, so an out-of-distribution check. Token P/R/F1 (bag of whitespace tokens, macro
  P and R, F1 of the two means, as the benchmark project aggregates) and its 4-shingle F1.
- **pages/s** on one core from CPU time over both sets (best of ``--repeat`` runs), with the ratio to
  trafilatura measured in the same run.

The peer is datatrove's ``Trafilatura`` extractor step (its default, as used for FineWeb) run with
its defaults in ``/work/.venv-bench`` in a subprocess, on the same pages already decoded to str; its
CPU time includes the process it forks. Skipped with a message when that venv is absent. To make it:
``python -m venv /work/.venv-bench && /work/.venv-bench/bin/pip install "datatrove[processing]==0.10.1"
resiliparse pyarrow lxml_html_clean`` (the peer decodes the pages with winnow's own ``decode_html``; without
lxml_html_clean trafilatura 1.x does not import and datatrove reports every page as a timeout).

    python bench/extractors.py                 # ~4 min on one free core
    python bench/extractors.py --limit 200 --no-peer   # a quick look
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
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
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "web_text_en" / "article_extraction_benchmark"
DEFAULT_WCXB = REPO.parent / "shared" / "data" / "web_text_en" / "wcxb_dev"
WCXB_TYPES = ("article", "forum", "product", "collection", "listing", "documentation", "service")
PEER_PYTHON = Path("/work/.venv-bench/bin/python")
WORD_RE = re.compile(r"\w+")
# Below this many pages/s per core, an extractor is "dramatically slower": a 3-billion-page crawl
# would need over 40,000 core-hours for extraction alone, more than the rest of the pipeline.
MIN_PAGES_PER_S = 20.0
# F1 differences smaller than this are within the benchmark's noise (its published 95% CIs are ~0.01).
F1_NOISE = 0.01
# A default may not lose more than this article-benchmark F1 to the best extractor there: news and blog
# articles are the pages whose every boilerplate line a trained model reads most often.
ARTICLE_TOLERANCE = 0.02


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


def wcxb_scorer(wcxb: Path) -> ModuleType:
    """WCXB's own evaluate.py, imported from the data folder (its word_f1 and page-type rule)."""
    spec = importlib.util.spec_from_file_location("wcxb_evaluate", wcxb / "evaluate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_wcxb(
    wcxb: Path, limit: int | None
) -> tuple[list[str], dict[str, bytes], dict[str, str], dict[str, str]]:
    """WCXB page ids, raw HTML, gold main content and page type."""
    scorer = wcxb_scorer(wcxb)
    keys, raw, gold, types = [], {}, {}, {}
    for path in sorted((wcxb / "ground-truth").glob("*.json"))[:limit]:
        record = json.loads(path.read_text(encoding="utf-8"))
        truth = record.get("ground_truth")
        if not isinstance(truth, dict):
            continue
        keys.append(path.stem)
        raw[path.stem] = gzip.decompress((wcxb / "html" / f"{path.stem}.html.gz").read_bytes())
        gold[path.stem] = truth.get("main_content") or ""
        types[path.stem] = scorer.get_page_type(record)
    return keys, raw, gold, types


def all_pages(
    args: argparse.Namespace,
) -> tuple[dict[str, bytes], dict[str, str], dict[str, str], dict[str, str]]:
    """Both sets as one dict of raw pages keyed ``wcxb/ID`` and ``art/ID``, with gold and WCXB types."""
    raw: dict[str, bytes] = {}
    wcxb_gold: dict[str, str] = {}
    art_gold: dict[str, str] = {}
    types: dict[str, str] = {}
    if (args.wcxb / "ground-truth").is_dir():
        keys, pages, gold, kinds = load_wcxb(args.wcxb, args.limit)
        for k in keys:
            raw[f"wcxb/{k}"], wcxb_gold[f"wcxb/{k}"], types[f"wcxb/{k}"] = pages[k], gold[k], kinds[k]
    if (args.data / "ground-truth.json").exists():
        keys, pages, gold = load_pages(args.data, args.limit)
        for k in keys:
            raw[f"art/{k}"], art_gold[f"art/{k}"] = pages[k], gold[k]
    return raw, wcxb_gold, art_gold, types


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


def article_quality(outputs: dict[str, str], gold: dict[str, str]) -> dict[str, float]:
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


def wcxb_quality(
    outputs: dict[str, str], gold: dict[str, str], types: dict[str, str], scorer: ModuleType
) -> dict[str, float]:
    """Mean per-page word F1 (WCXB's evaluate.word_f1), overall and per page type."""
    by_type: dict[str, list[float]] = {}
    for key, ref in gold.items():
        f1 = scorer.word_f1(outputs.get(key, ""), ref)[2]
        by_type.setdefault("all", []).append(f1)
        by_type.setdefault(types[key], []).append(f1)
    return {t: sum(v) / len(v) for t, v in by_type.items()}


def time_extractor(fn: Callable[[bytes], str], raw: dict[str, bytes], repeat: int):
    """Outputs of the first run, best CPU seconds over ``repeat`` runs, and whether all runs agreed."""
    best = float("inf")
    first: dict[str, str] | None = None
    deterministic = True
    for _ in range(repeat):
        t0 = time.process_time()
        out = {key: fn(page) for key, page in raw.items()}
        best = min(best, time.process_time() - t0)
        if first is None:
            first = out
        elif out != first:
            deterministic = False
    assert first is not None
    return first, best, deterministic


def run_winnow(raw: dict[str, bytes], repeat: int) -> dict[str, dict]:
    sys.path.insert(0, str(REPO))
    from pipeline.readers.html import EXTRACTORS, ExtractionError, extract_text

    results: dict[str, dict] = {}
    first = next(iter(raw.values()))
    for name in EXTRACTORS:
        errors = Counter()

        def fn(page: bytes, name: str = name, errors: Counter = errors) -> str:
            try:
                return extract_text(page, name)
            except ExtractionError as exc:
                errors[exc.reason] += 1
                return ""

        extract_text(first, name)  # warm up lazy imports and the model outside the timing
        outputs, cpu, deterministic = time_extractor(fn, raw, repeat)
        results[f"winnow/{name}"] = {
            "outputs": outputs,
            "cpu_s": cpu,
            "deterministic": deterministic,
            "errors": dict(errors),
        }
    return results


def peer_worker(args: argparse.Namespace) -> None:
    """Runs inside the bench venv: datatrove's Trafilatura step over the pages; prints JSON."""
    sys.path.insert(0, str(REPO))
    from datatrove.data import Document
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.utils.logging import logger

    from pipeline.readers.html import decode_html

    logger.remove()
    raw, *_ = all_pages(args)
    html = {k: decode_html(v) for k, v in raw.items()}
    best = float("inf")
    outputs: dict[str, str] = {}
    for _ in range(args.repeat):
        step = Trafilatura()
        docs = [Document(text=text, id=k) for k, text in html.items()]
        c0 = time.process_time()
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        outputs = {doc.id: doc.text for doc in step.run(iter(docs))}
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = (ch1.ru_utime - ch0.ru_utime) + (ch1.ru_stime - ch0.ru_stime)
        best = min(best, time.process_time() - c0 + child)
    stats = {str(k): v for k, v in step.stats.stats.items()} if hasattr(step, "stats") else {}
    json.dump({"outputs": outputs, "cpu_s": best, "stats": {k: str(v) for k, v in stats.items()}}, sys.stdout)


def run_peer(args: argparse.Namespace) -> dict | None:
    if not PEER_PYTHON.exists():
        print(f"peer skipped: {PEER_PYTHON} not found", file=sys.stderr)
        return None
    cmd = [
        str(PEER_PYTHON),
        __file__,
        "--peer-worker",
        "--data",
        str(args.data),
        "--wcxb",
        str(args.wcxb),
        "--repeat",
        str(args.repeat),
    ]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=args.peer_timeout)
    except subprocess.TimeoutExpired:
        # datatrove's step forks per page with its own timeouts; on a loaded machine it can take hours.
        print(f"peer skipped: not done after {args.peer_timeout:.0f} s (--peer-timeout)", file=sys.stderr)
        return None
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


def model_card() -> dict:
    """The card ``winnow train-extractor`` wrote next to the shipped model (cross-validated F1)."""
    sys.path.insert(0, str(REPO))
    from pipeline.readers.main_content import MODEL_PATH

    path = MODEL_PATH.with_name(MODEL_PATH.name.removesuffix(".txt.gz") + ".card.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def recommend(rows: dict[str, dict], cv_f1: float | None) -> tuple[str, str]:
    """Quality first (WCXB F1; winnow's own counted by its cross-validated figure), among extractors
    within ARTICLE_TOLERANCE of the best article-benchmark F1, unless the most accurate one is
    dramatically slow."""
    ours = {k.split("/", 1)[1]: v for k, v in rows.items() if k.startswith("winnow/")}
    best_article = max(r["articles"]["f1"] for r in ours.values())
    behind = {n: best_article - r["articles"]["f1"] for n, r in ours.items()}
    excluded = [n for n in ours if behind[n] > ARTICLE_TOLERANCE]
    ours = {n: r for n, r in ours.items() if n not in excluded}
    choice, why = _recommend(ours, cv_f1)
    if excluded:
        why += "; not " + ", ".join(
            f"{n} ({behind[n]:.3f} article F1 behind the best)" for n in sorted(excluded)
        )
    return choice, why


def _recommend(ours: dict[str, dict], cv_f1: float | None) -> tuple[str, str]:
    f1 = {n: (cv_f1 if n == "winnow" and cv_f1 is not None else r["wcxb"]["all"]) for n, r in ours.items()}
    best = max(ours, key=lambda n: f1[n])
    fastest = max(ours, key=lambda n: ours[n]["pages_per_s"])
    gap = f1[best] - f1[fastest]
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
        f"{best} is {gap:+.3f} WCXB F1 better than {fastest}; {slow:.1f}x slower but still "
        f"{ours[best]['pages_per_s']:.0f} pages/s/core (>= {MIN_PAGES_PER_S:.0f})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="article-extraction-benchmark folder")
    ap.add_argument("--wcxb", type=Path, default=DEFAULT_WCXB, help="WCXB split folder")
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages of each set")
    ap.add_argument("--repeat", type=int, default=1, help="timing runs per extractor; best is reported")
    ap.add_argument("--no-peer", action="store_true", help="skip the datatrove comparison")
    ap.add_argument("--peer-timeout", type=float, default=900.0, help="seconds before the peer is given up")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--peer-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_worker:
        peer_worker(args)
        return 0
    raw, wcxb_gold, art_gold, types = all_pages(args)
    if not wcxb_gold or not art_gold:
        print(f"benchmark data not found (WCXB at {args.wcxb}, articles at {args.data})", file=sys.stderr)
        return 2
    scorer = wcxb_scorer(args.wcxb)
    mb = sum(map(len, raw.values())) / 1e6
    print(
        f"{len(wcxb_gold)} WCXB pages + {len(art_gold)} article pages, {mb:.1f} MB of HTML; CPU time, one "
        f"core, best of {args.repeat}; load average {os.getloadavg()[0]:.1f}"
    )

    runs = run_winnow(raw, args.repeat)
    peer = None if args.no_peer else run_peer(args)
    if peer:
        runs[peer["label"]] = peer
    rows: dict[str, dict] = {}
    for label, run in runs.items():
        rows[label] = {
            "wcxb": wcxb_quality(run["outputs"], wcxb_gold, types, scorer),
            "articles": article_quality(run["outputs"], art_gold),
            "pages_per_s": len(raw) / run["cpu_s"],
            "mb_per_s": mb / run["cpu_s"],
            "deterministic": run.get("deterministic"),
            "errors": run.get("errors", {}),
        }
    card = model_card()
    cv = card.get("cv_word_f1")
    base = rows["winnow/trafilatura"]["pages_per_s"]

    print("\nWCXB dev, word F1 per page (WCXB's evaluate.py), and speed over both sets")
    header = f"{'extractor':44} {'all':>6} " + " ".join(f"{t[:7]:>7}" for t in WCXB_TYPES)
    header += f" {'pages/s':>8} {'MB/s':>6} {'vs traf':>7}"
    print(header)
    print("-" * len(header))
    for label, r in rows.items():
        w = r["wcxb"]
        note = "  (in-sample: trained on this split)" if label == "winnow/winnow" else ""
        print(
            f"{label:44} {w['all']:6.3f} "
            + " ".join(f"{w.get(t, 0):7.3f}" for t in WCXB_TYPES)
            + f" {r['pages_per_s']:8.1f} {r['mb_per_s']:6.2f} {r['pages_per_s'] / base:6.2f}x{note}"
        )
    if cv:
        print(
            f"{'winnow/winnow, 5-fold CV grouped by domain':44} {cv['all']:6.3f} "
            + " ".join(f"{cv.get(t, 0):7.3f}" for t in WCXB_TYPES)
            + "  (model card)"
        )

    print("\nArticle-extraction benchmark (out of distribution for winnow's model)")
    header = f"{'extractor':44} {'prec':>6} {'recall':>6} {'F1':>6} {'shinF1':>6} {'empty':>5}"
    print(header)
    print("-" * len(header))
    for label, r in rows.items():
        a = r["articles"]
        print(
            f"{label:44} {a['precision']:6.3f} {a['recall']:6.3f} {a['f1']:6.3f} {a['shingle_f1']:6.3f} "
            f"{int(a['empty']):5d}"
        )
    for label, r in rows.items():
        if r["errors"]:
            print(f"{label}: extraction errors {r['errors']}")
        if r["deterministic"] is False:
            print(f"{label}: NOT deterministic across repeats")
    if peer and peer.get("stats"):
        wanted = ("total", "extracted", "dropped", "timeout", "clean_error", "broken_process")
        print(
            f"{peer['label']} step stats: "
            + ", ".join(f"{k}={v}" for k, v in peer["stats"].items() if k in wanted)
        )

    from pipeline.readers.html import DEFAULT_EXTRACTOR

    ours, traf = rows["winnow/winnow"], rows["winnow/trafilatura"]
    cv_all = cv["all"] if cv else ours["wcxb"]["all"]
    print(
        "\ngoals: WCXB F1 >= 0.86: "
        f"{cv_all:.3f} ({'met' if cv_all >= 0.86 else 'not met'}); not below trafilatura on any type: "
        + ", ".join(f"{t} {(cv or ours['wcxb']).get(t, 0) - traf['wcxb'].get(t, 0):+.3f}" for t in WCXB_TYPES)
        + f"; article F1 >= 0.96: {ours['articles']['f1']:.3f}; "
        f">= 5x trafilatura's pages/s: {ours['pages_per_s'] / traf['pages_per_s']:.1f}x"
    )
    choice, why = recommend(rows, cv["all"] if cv else None)
    print(
        f"recommended default: {choice} ({why}); current DEFAULT_EXTRACTOR = {DEFAULT_EXTRACTOR!r}"
        + ("" if choice == DEFAULT_EXTRACTOR else "  <-- differs, revisit")
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"pages": len(raw), "mb": mb, "rows": rows, "cv": cv, "recommended": choice},
                indent=2,
                sort_keys=True,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
