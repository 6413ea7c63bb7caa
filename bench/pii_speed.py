"""Throughput of the `pii` stage on real web text, one core, against datatrove's PIIFormatter.

The corpus is the real English (article bodies, Dolma CC docs) and Chinese (Skywork) web documents
under ../shared/data, repeated to --mb megabytes of UTF-8. winnow runs every type (and, for an
apples-to-apples line, only e-mail + IP, which is all PIIFormatter covers); datatrove runs on the same
documents in the same process. Rows: the default types, every type (with person and address), and
person + address alone. Run with the bench venv so the peer is importable:

    /work/.venv-bench/bin/python bench/pii_speed.py [--mb 8] [--repeat 3]

Without datatrove the script still prints winnow's numbers. Speeds are CPU-time based (single thread =
one core); on a shared machine they are still noisy (caches, frequency): trust the ratio more.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.pii_quality import load_web_texts  # noqa: E402
from filters.pii import PiiConfig, all_types  # noqa: E402
from pipeline.schema import Document  # noqa: E402


def corpus(mb: float) -> list[str]:
    base = load_web_texts("en") + load_web_texts("zh")
    docs, size, i = [], 0, 0
    while size < mb * 1e6:
        text = base[i % len(base)]
        docs.append(text)
        size += len(text.encode("utf-8"))
        i += 1
    return docs


def timed(fn: Callable[[str], object], docs: list[str], repeat: int) -> float:
    """Best-of-`repeat` CPU seconds of this process for one pass over `docs`.

    CPU time, not wall time: everything here is single-threaded, so CPU seconds are what one core
    spends, and they do not count the time other tenants of a shared machine hold the core.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for text in docs:
            fn(text)
        best = min(best, time.process_time() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8.0, help="megabytes of text per pass")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    docs = corpus(args.mb)
    mbytes = sum(len(t.encode("utf-8")) for t in docs) / 1e6
    print(f"corpus: {len(docs)} real web docs (en + zh), {mbytes:.1f} MB UTF-8, best of {args.repeat} passes")

    full = PiiConfig().build()
    new_types = PiiConfig(types=list(all_types())).build()
    names_only = PiiConfig(types=["person", "address"]).build()
    email_ip = PiiConfig(types=["email", "ip_address"], ip_public_only=True).build()

    def run_step(step):
        return lambda text: step.process(Document(id="x", text=text, source="bench"))

    rows: list[tuple[str, float]] = []
    rows.append(
        (f"winnow pii, default {len(full.config.types)} types", timed(run_step(full), docs, args.repeat))
    )
    rows.append(
        (
            f"winnow pii, all {len(all_types())} types (+person, address)",
            timed(run_step(new_types), docs, args.repeat),
        )
    )
    rows.append(("winnow pii, person + address only", timed(run_step(names_only), docs, args.repeat)))
    crf = PiiConfig(types=["person", "address"], person_model=True).build()
    rows.append(("winnow pii, person (+CRF) + address", timed(run_step(crf), docs, args.repeat)))
    rows.append(("winnow pii, email + public IPv4/6", timed(run_step(email_ip), docs, args.repeat)))
    try:
        from datatrove.pipeline.formatters import PIIFormatter
    except ImportError:
        peer = None
        print("datatrove not importable here: run with /work/.venv-bench/bin/python for the peer ratio")
    else:
        peer = PIIFormatter()
        rows.append(("datatrove PIIFormatter (email + public IPv4)", timed(peer.format, docs, args.repeat)))

    print(f"{'engine':<46} {'MB/s/core':>10} {'docs/s':>9}")
    for name, secs in rows:
        print(f"{name:<46} {mbytes / secs:>10.2f} {len(docs) / secs:>9.0f}")
    if peer is not None:
        dt = rows[-1][1]
        print(
            f"ratio winnow(all types)/datatrove: {dt / rows[0][1]:.2f}x; "
            f"winnow(email+ip)/datatrove: {dt / rows[1][1]:.2f}x (higher = winnow faster)"
        )
    print("counts per type on one pass:", dict(sorted(full.counters.items())))


if __name__ == "__main__":
    main()
