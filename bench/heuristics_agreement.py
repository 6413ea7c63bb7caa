"""Keep/drop agreement of winnow's Gopher/C4/FineWeb filters with datatrove 0.10.1 on English documents.

Run: /work/.venv-bench/bin/python bench/heuristics_agreement.py [--data ../shared/data] [--show 20]

Documents (all real text, some degraded on purpose; seeded, so the corpus is identical every run):
- dolma_tests: 30 real Common Crawl English documents,
- article_extraction_benchmark: 181 human-cleaned news/blog article texts (ground-truth.json),
- 150 documents assembled from langid/lingua_sentences/en.txt (3 to 60 sentences, in paragraphs),
- ~190 lower-quality documents made from the texts above: navigation/boilerplate lines, repeated
  paragraphs and lines, bullet lists, short-line menus, truncated "..." lines, hashtags, code with
  braces, "lorem ipsum", number tables, cookie notices.

Each filter is run on the original text of every document, on both sides. For C4, datatrove's filter
also rewrites kept documents (drops lines); winnow's `c4_quality` only decides and `c4_lines` rewrites,
so the keep/drop decision is compared, and separately the rewritten text of `c4_lines` is compared with
datatrove's rewritten text on documents both keep.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from filters.c4 import C4LinesConfig, C4QualityConfig  # noqa: E402
from filters.fineweb import FineWebQualityConfig  # noqa: E402
from filters.gopher import GopherQualityConfig, GopherRepetitionConfig  # noqa: E402

BOILERPLATE = [
    "Home",
    "About Us",
    "Contact",
    "Privacy Policy",
    "Terms of Use",
    "Subscribe",
    "Log in",
    "Sign up",
    "Share on Facebook",
    "Tweet",
    "Read more",
    "Related Posts",
    "Leave a comment",
    "Menu",
    "Search",
    "Skip to content",
    "Categories",
    "Archives",
    "Copyright 2023 All rights reserved",
    "This website uses cookies to improve your experience.",
    "Please enable JavaScript to view comments.",
    "Next article",
    "Previous article",
    "Advertisement",
    "Follow us",
    "Newsletter",
]


def load_real(data: Path) -> list[tuple[str, str]]:
    """(id, text) of the real English documents."""
    docs: list[tuple[str, str]] = []
    dolma = data / "web_text_en" / "dolma_tests"
    for path in sorted(dolma.glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            docs.append((f"dolma/{path.stem}/{i}", json.loads(line)["text"]))
    with gzip.open(dolma / "000.json.gz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            docs.append((f"dolma/000/{i}", json.loads(line)["text"]))
    gold = json.loads(
        (data / "web_text_en" / "article_extraction_benchmark" / "ground-truth.json").read_text()
    )
    for key in sorted(gold):
        docs.append((f"article/{key[:12]}", gold[key]["articleBody"]))
    return docs


def lingua_sentences(data: Path) -> list[str]:
    path = data / "langid" / "lingua_sentences" / "en.txt"
    return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]


def assemble(sentences: list[str], rng: random.Random, n_sentences: int) -> str:
    """Paragraphs of 1-5 real sentences, separated by one or two newlines."""
    picked = [sentences[rng.randrange(len(sentences))] for _ in range(n_sentences)]
    paras, i = [], 0
    while i < len(picked):
        k = rng.randint(1, 5)
        paras.append(" ".join(picked[i : i + k]))
        i += k
    sep = "\n\n" if rng.random() < 0.5 else "\n"
    return sep.join(paras)


def degrade(text: str, sentences: list[str], rng: random.Random, kind: str) -> str:
    """A lower-quality variant of a real text (one kind of web noise)."""
    lines = [ln for ln in text.split("\n") if ln.strip()] or [text]
    if kind == "boilerplate":
        out = [rng.choice(BOILERPLATE) for _ in range(rng.randint(3, 25))]
        out += lines
        out += [rng.choice(BOILERPLATE) for _ in range(rng.randint(3, 25))]
        return "\n".join(out)
    if kind == "repeat_paragraphs":
        reps = lines + [rng.choice(lines) for _ in range(rng.randint(1, max(2, len(lines))))]
        return "\n\n".join(reps)
    if kind == "repeat_lines":
        extra = rng.choice(lines)
        return "\n".join(lines + [extra] * rng.randint(1, 6))
    if kind == "bullets":
        items = [s for ln in lines for s in ln.split(". ") if s]
        marker = rng.choice(["- ", "• ", "* "])
        keep = rng.random()
        return "\n".join((marker + s) if rng.random() < keep + 0.3 else s for s in items)
    if kind == "menu":
        words = text.split()
        out = [" ".join(words[i : i + rng.randint(1, 4)]) for i in range(0, min(len(words), 400), 3)]
        return "\n".join(out + lines[:2])
    if kind == "truncated":
        return "\n".join(ln[: rng.randint(40, 120)].rstrip() + rng.choice(["...", "…", ""]) for ln in lines)
    if kind == "hashtags":
        words = text.split()
        return " ".join(w if rng.random() > 0.15 else f"#{w} #{rng.choice(words)}" for w in words)
    if kind == "code":
        snippet = rng.choice(["function f() { return 1; }", "if (x) { y(); }", "body { color: red; }"])
        pos = rng.randrange(len(lines))
        return "\n".join([*lines[:pos], snippet + rng.choice(["", "."]), *lines[pos:]])
    if kind == "lorem":
        pos = rng.randrange(len(lines))
        lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit."
        return "\n".join([*lines[:pos], lorem, *lines[pos:]])
    if kind == "numbers":
        rows = [" | ".join(str(rng.randint(0, 9999)) for _ in range(rng.randint(3, 8))) for _ in range(30)]
        return "\n".join(lines[:3] + rows + lines[3:5])
    if kind == "cookies":
        notice = "We use cookies to give you the best experience. See our privacy policy."
        return "\n".join([notice, *lines, notice])
    if kind == "short_doc":
        return " ".join(rng.choice(sentences) for _ in range(rng.randint(1, 4)))
    raise ValueError(kind)


KINDS = [
    "boilerplate",
    "repeat_paragraphs",
    "repeat_lines",
    "bullets",
    "menu",
    "truncated",
    "hashtags",
    "code",
    "lorem",
    "numbers",
    "cookies",
    "short_doc",
]


def build_corpus(
    data: Path, seed: int = 0, n_assembled: int = 150, n_per_kind: int = 16
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    real = load_real(data)
    sentences = lingua_sentences(data)
    docs = list(real)
    for i in range(n_assembled):
        docs.append((f"lingua/{i}", assemble(sentences, rng, rng.randint(3, 60))))
    sources = [t for _, t in real] + [t for k, t in docs if k.startswith("lingua/")]
    for kind in KINDS:
        for i in range(n_per_kind):
            docs.append((f"low/{kind}/{i}", degrade(rng.choice(sources), sentences, rng, kind)))
    return docs


def datatrove_filters() -> dict:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4_quality": C4QualityFilter(),
        "fineweb_quality": FineWebQualityFilter(),
    }


def winnow_filters() -> dict:
    return {
        "gopher_quality": GopherQualityConfig().build(),
        "gopher_repetition": GopherRepetitionConfig().build(),
        "c4_quality": C4QualityConfig().build(),
        "fineweb_quality": FineWebQualityConfig().build(),
    }


def datatrove_verdict(flt, doc_id: str, text: str) -> tuple[str | None, str]:
    """(reason or None, text after the filter) for one datatrove filter on a fresh Document."""
    from datatrove.data import Document as DTDocument

    doc = DTDocument(text=text, id=doc_id)
    res = flt.filter(doc)
    if res is True:
        return None, doc.text
    if isinstance(res, tuple):
        return res[1], doc.text
    return "dropped", doc.text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=30, help="differing documents to list per filter")
    args = ap.parse_args()

    docs = build_corpus(args.data, args.seed)
    print(
        f"{len(docs)} English documents: "
        + ", ".join(f"{k}={v}" for k, v in sorted(Counter(d.split("/")[0] for d, _ in docs).items()))
    )
    dt, wn = datatrove_filters(), winnow_filters()
    c4_lines = C4LinesConfig().build()
    worst = 100.0
    for name in dt:
        same = 0
        diffs: list[str] = []
        both_kept = text_same = 0
        drops = Counter()
        for doc_id, text in docs:
            dt_reason, dt_text = datatrove_verdict(dt[name], doc_id, text)
            wn_reason, stats = wn[name].evaluate(text)
            drops[("dt", dt_reason is not None)] += 1
            drops[("wn", wn_reason is not None)] += 1
            if (dt_reason is None) == (wn_reason is None):
                same += 1
            else:
                diffs.append(
                    f"    {doc_id}: datatrove={dt_reason or 'keep'} winnow={wn_reason or 'keep'} {stats}"
                )
            if name == "c4_quality" and dt_reason is None and wn_reason is None:
                both_kept += 1
                text_same += int(c4_lines.clean(text)[0] == dt_text)
        pct = 100.0 * same / len(docs)
        worst = min(worst, pct)
        print(
            f"{name:18s} agreement {pct:6.2f}% ({same}/{len(docs)}); dropped: datatrove "
            f"{drops[('dt', True)]}, winnow {drops[('wn', True)]}"
        )
        if name == "c4_quality":
            print(
                f"{'':18s} c4_lines text == datatrove's rewritten text on {text_same}/{both_kept} kept docs"
            )
        for line in diffs[: args.show]:
            print(line)
    print(f"min agreement {worst:.2f}% (target >= 98%)")
    return 0 if worst >= 98.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
