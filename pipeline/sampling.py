"""`winnow inspect RUN --stage S`: look at sampled rejected (or kept) documents of one stage in a terminal.

Thresholds are chosen by reading what they drop. The sample is the `n` rows with the smallest
hash of (seed, id), so the same command shows the same documents on every machine, and a different
`--seed` shows others. Two streaming passes over the stage's Parquet shards keep memory flat: the
first reads only ids (and reasons), the second fetches the chosen rows.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import storage


def sample_key(seed: int | str, doc_id: str) -> int:
    """Deterministic sampling key of a document: the sample is the rows with the smallest keys."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{doc_id}".encode(), digest_size=8).digest(), "big")


def parquet_files(directory: str) -> list[str]:
    """The Parquet shards directly in a stage (or rejected) directory, sorted."""
    return storage.listdir(directory, "*.parquet")


def iter_file_batches(
    path: str, columns: list[str], batch_rows: int = 4096, max_rows: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream selected columns of one Parquet file; stop after `max_rows` rows (None: all)."""
    with storage.open_input(path) as f:
        pf = pq.ParquetFile(f)
        names = set(pf.schema_arrow.names)
        cols = [c for c in columns if c in names]
        seen = 0
        for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
            if max_rows is not None and seen + batch.num_rows > max_rows:
                batch = batch.slice(0, max_rows - seen)
            seen += batch.num_rows
            if batch.num_rows:
                yield batch
            if max_rows is not None and seen >= max_rows:
                return


def find_stage(manifest: dict[str, Any], stage: str) -> dict[str, Any]:
    """A manifest stage entry by name, index or directory name (`04_perplexity`)."""
    for s in manifest["stages"]:
        if stage in (s["name"], str(s["index"]), f"{s['index']:02d}", f"{s['index']:02d}_{s['name']}"):
            return s
    names = ", ".join(s["name"] for s in manifest["stages"])
    raise ValueError(f"no stage '{stage}' in this run; stages: {names}")


def sample_rows(
    files: list[str], n: int, seed: int | str, *, reason: str | None = None
) -> list[dict[str, Any]]:
    """The `n` rows of `files` with the smallest sample_key(seed, id), optionally of one reason only.

    Pass 1 keeps a bounded heap of (key, id, file); pass 2 reads full rows of the chosen ids, only from
    the files that hold them. Memory is O(n), whatever the size of the stage.
    """
    if n <= 0:
        return []
    heap: list[tuple[int, str, int]] = []  # (-key, id, file index): a max-heap of the n smallest keys
    for fi, path in enumerate(files):
        cols = ["id", "reason"] if reason is not None else ["id"]
        for batch in iter_file_batches(path, cols):
            if reason is not None:
                if "reason" not in batch.schema.names:
                    break
                batch = batch.filter(pc.equal(batch.column("reason"), reason))
            for doc_id in batch.column("id").to_pylist():
                k = sample_key(seed, doc_id)
                if len(heap) < n:
                    heapq.heappush(heap, (-k, doc_id, fi))
                elif -heap[0][0] > k:
                    heapq.heapreplace(heap, (-k, doc_id, fi))
    chosen = sorted((-nk, doc_id, fi) for nk, doc_id, fi in heap)
    return fetch_rows(files, [(doc_id, fi) for _, doc_id, fi in chosen], reason=reason)


def fetch_rows(files: list[str], chosen: list[tuple[str, int]], *, reason: str | None = None
               ) -> list[dict[str, Any]]:
    """Full rows for (id, file index) pairs, in the given order; reads only the files that hold them."""
    by_file: dict[int, set[str]] = {}
    for doc_id, fi in chosen:
        by_file.setdefault(fi, set()).add(doc_id)
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for fi, ids in sorted(by_file.items()):
        wanted = pa.array(sorted(ids), pa.string())
        with storage.open_input(files[fi]) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=4096):
                mask = pc.is_in(batch.column("id"), value_set=wanted)
                for row in batch.filter(mask).to_pylist():
                    if reason is None or row.get("reason") == reason:
                        rows.setdefault((fi, row["id"]), row)
    return [rows[(fi, doc_id)] for doc_id, fi in chosen if (fi, doc_id) in rows]


def _clean_text(text: str, chars: int) -> tuple[str, bool]:
    """Text for a terminal: control characters shown as escapes, runs of blank lines collapsed."""
    cut = len(text) > chars
    text = text[:chars]
    out = []
    for ch in text:
        if ch == "\n" or ch.isprintable():
            out.append(ch)
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    lines: list[str] = []
    for line in "".join(out).splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip("\n"), cut


def printable(value: object) -> str:
    """A string from the data, safe for a terminal: every non-printable character as an escape, so a
    crawled `\x1b]0;...\x07` cannot set the title, colours or cursor of whoever inspects the run."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def wrap_display(line: str, width: int) -> list[str]:
    """Wrap a line to `width` terminal cells (CJK characters take two), at a space when there is one."""
    out: list[str] = []
    while line:
        used, cut, space = 0, len(line), -1
        for i, ch in enumerate(line):
            used += _cells(ch)
            if used > width:
                cut = i
                break
            if ch == " ":
                space = i
        if cut < len(line) and space > cut // 2:
            out.append(line[:space].rstrip())
            line = line[space + 1 :]
        else:
            out.append(line[:cut].rstrip())
            line = line[cut:]
    return out or [""]


def format_document(row: dict[str, Any], *, number: int, total: int, stage: str, chars: int,
                    width: int, bold: bool = False) -> str:
    """One sampled document as a readable block: header, fields, pretty attributes, truncated text."""
    b, e = ("\033[1m", "\033[0m") if bold else ("", "")
    verdict = (f"rejected by {printable(row['stage'])}: {printable(row['reason'])}" if row.get("reason")
               else f"kept by {stage}")
    head = f"── {number}/{total} · {verdict} "
    lines = [b + head + "─" * max(3, width - len(head)) + e]
    lines.append(f"{b}id{e}:      {printable(row['id'])}")
    lines.append(f"{b}source{e}:  {printable(row['source'])}")
    lines.append(f"{b}url{e}:     {printable(row.get('url') or '-')}")
    attrs = json.loads(row.get("attributes") or "{}")
    if attrs:
        lines.append(f"{b}attributes{e}:")
        for name in sorted(attrs, key=lambda k: (k != stage, k)):
            value = printable(json.dumps(attrs[name], ensure_ascii=False, sort_keys=True))
            mark = "*" if name == stage else " "
            name = printable(name)
            wrapped = textwrap.wrap(value, width=max(40, width - 6 - len(name)), break_long_words=True,
                                    break_on_hyphens=False) or [value]
            lines.append(f" {mark} {name}: {wrapped[0]}")
            lines.extend(" " * (5 + len(name)) + w for w in wrapped[1:])
    text = row.get("text") or ""
    if not text:
        lines.append(f"{b}text{e}:    (empty: the text of rejected rows is not kept when "
                     "output.keep_rejected_text is false)")
    else:
        shown, cut = _clean_text(text, chars)
        more = f", showing the first {chars}" if cut else ""
        lines.append(f"{b}text{e} ({len(text):,} chars{more}):")
        for para in shown.splitlines() or [""]:
            lines.extend("  │ " + w for w in wrap_display(para, max(20, width - 4)))
        if cut:
            lines.append("  │ …")
    return "\n".join(lines)


def inspect_stage(run_dir: str, stage: str, *, reason: str | None = None, n: int = 20, seed: int = 0,
                  kept: bool = False, chars: int = 600, width: int | None = None,
                  bold: bool = False) -> str:
    """The text `winnow inspect` prints: a summary line, then the sampled documents."""
    from pipeline.manifest import load_manifest

    manifest = load_manifest(run_dir)
    entry = find_stage(manifest, stage)
    width = width or min(120, shutil.get_terminal_size((100, 24)).columns)
    reasons: dict[str, int] = {}
    for c in entry["sources"].values():
        for r, k in c["rejected"].items():
            reasons[r] = reasons.get(r, 0) + k
    listing = ", ".join(f"{r}={k}" for r, k in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    t = entry["totals"]
    head = [f"stage {entry['index']:02d} {entry['name']} ({entry['type']}): in {t['in']:,}, "
            f"kept {t['out']:,}, rejected {t['rejected']:,}" + (f" [{listing}]" if listing else "")]
    if kept:
        if reason:
            raise ValueError("--reason selects rejected documents; it cannot be used with --kept")
        directory = storage.join(run_dir, entry["dir"])
        files = parquet_files(directory)
        fused = entry.get("fused_into")
        note = f" (output of {fused}: documents kept by every stage fused into it)" if fused and \
            not fused.endswith(f"_{entry['name']}") else ""
        head.append(f"kept documents from {entry['dir']}{note}")
        if not files:
            head.append("this stage wrote no documents (e.g. tokenize writes tokens only)")
    else:
        if reason and reason not in reasons:
            raise ValueError(f"stage {entry['name']} rejected nothing with reason '{reason}'; "
                             f"reasons: {listing or '(none)'}")
        files = parquet_files(storage.join(run_dir, entry["rejected_dir"]))
        which = f", reason {reason}" if reason else ""
        head.append(f"rejected documents from {entry['rejected_dir']}{which}")
    rows = sample_rows(files, n, seed, reason=reason if not kept else None)
    head.append(f"showing {len(rows)} sampled with seed {seed} (change it with --seed to see others)")
    blocks = [format_document(r, number=i, total=len(rows), stage=entry["name"], chars=chars, width=width,
                              bold=bold) for i, r in enumerate(rows, start=1)]
    return "\n".join(head) + "\n\n" + "\n\n".join(blocks) + ("\n" if blocks else "")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "inspect", help="print sampled rejected (or kept) documents of a stage, with their attributes"
    )
    p.add_argument("run_dir", help="a run directory (winnow run --output)")
    p.add_argument("--stage", required=True, help="stage name (or its index, or NN_name)")
    p.add_argument("--reason", help="only documents rejected for this reason")
    p.add_argument("-n", type=int, default=20, help="how many documents (default 20)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed: another seed shows other documents")
    p.add_argument("--kept", action="store_true", help="sample kept documents instead of rejected ones")
    p.add_argument("--chars", type=int, default=600, help="characters of text to show (default 600)")
    p.set_defaults(func=_inspect_cmd)


def _inspect_cmd(args: argparse.Namespace) -> int:
    out = inspect_stage(args.run_dir, args.stage, reason=args.reason, n=args.n, seed=args.seed,
                        kept=args.kept, chars=args.chars, bold=sys.stdout.isatty())
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:  # `winnow inspect ... | head`
        pass
    return 0
