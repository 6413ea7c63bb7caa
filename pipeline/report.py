"""`winnow report RUN`: one self-contained report.html to decide thresholds by looking at the data.

It shows the funnel (documents in/out per stage and source, what each reason removed), the
distribution of every score a stage recorded in `attributes` (kept vs rejected, with the configured
threshold drawn), languages, dedup clusters, tokens per mixture source, sampled rejected documents and
the run's config and timings. Counts come from the manifest (exact); distributions come from a bounded,
deterministic sample of rows (the smallest hashes of (seed, id) per group of shards), so memory stays
flat on a run of any size. Plots are plotly figures; plotly.js is inlined once, so the page opens
offline and loads nothing from the network.
"""

from __future__ import annotations

import argparse
import heapq
import html
import itertools
import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline import storage
from pipeline.sampling import fetch_rows, iter_file_batches, parquet_files, sample_key

log = logging.getLogger("winnow")

REPORT = "report.html"
SAMPLE_ROWS = 20_000  # attribute rows kept per group (the final output, and each stage's rejected set)
MAX_ROWS_PER_FILE = 50_000  # rows read per Parquet file at most (bounds I/O on huge shards)
EXAMPLES = 3  # sampled rejected documents shown per (stage, reason)
TEXT_CHARS = 600
MAX_HISTOGRAMS_PER_STAGE = 16
KEPT = "\0kept"  # group name of the final output rows (never a stage name)
ALL_DOCS = "all documents"  # pseudo stage of the text-length histogram: final output vs rejected anywhere

# (stage type, attribute) -> config keys holding its threshold, when the name is not simply
# min_<attribute> / max_<attribute> (those are found without a table entry).
THRESHOLD_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("quality_classifier", "score"): ("threshold",),
    ("language", "score"): ("min_score",),
    ("perplexity", "perplexity"): ("max_perplexity",),
    ("gopher_quality", "words"): ("min_words", "max_words"),
    ("word_blocklist", "hits"): ("min_hits",),
    ("word_blocklist", "ratio"): ("min_ratio",),
}
NGRAM_ATTR = re.compile(r"(top|dup)_(\d+)_gram_char_fraction")

KEPT_COLOR, REJECTED_COLOR = "#4C78A8", "#E45756"


# ---------------------------------------------------------------- sampling rows of a run


@dataclass
class Group:
    """One set of rows: the final kept output, or one stage's rejected rows."""

    name: str
    files: list[str]
    total_rows: int = 0
    sample: list[tuple[int, str, dict[str, Any], int]] = field(default_factory=list)  # key, id, attrs, chars
    examples: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)  # reason -> (key, id, file)

    @property
    def weight(self) -> float:
        """How many rows of the group each sampled row stands for."""
        return self.total_rows / len(self.sample) if self.sample else 0.0


def _num_rows(path: str) -> int:
    import pyarrow.parquet as pq

    with storage.open_input(path) as f:
        return pq.ParquetFile(f).metadata.num_rows


def scan_group(group: Group, seed: int | str, *, sample_rows: int, examples: int,
               max_rows_per_file: int) -> None:
    """Fill the group's bounded samples in one streaming pass.

    Only ids, reasons and attributes become Python objects, and only for rows that enter a sample; text
    lengths are computed in Arrow. The sample is the rows with the smallest sample_key(seed, id).
    """
    import pyarrow.compute as pc

    heap: list[tuple[int, str, str, int]] = []  # max-heap on key: the `sample_rows` smallest keys
    ex_heaps: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    cols = ["id", "attributes", "reason", "text"]
    for fi, path in enumerate(group.files):
        group.total_rows += _num_rows(path)
        for batch in iter_file_batches(path, cols, max_rows=max_rows_per_file):
            ids = batch.column("id").to_pylist()
            attrs = batch.column("attributes")
            lengths = pc.utf8_length(batch.column("text")).to_pylist()
            reasons = batch.column("reason").to_pylist() if "reason" in batch.schema.names else None
            for j, doc_id in enumerate(ids):
                k = sample_key(seed, doc_id)
                if len(heap) < sample_rows:
                    heapq.heappush(heap, (-k, doc_id, attrs[j].as_py(), lengths[j]))
                elif -heap[0][0] > k:
                    heapq.heapreplace(heap, (-k, doc_id, attrs[j].as_py(), lengths[j]))
                if reasons is not None and examples > 0:
                    h = ex_heaps[reasons[j]]
                    if len(h) < examples:
                        heapq.heappush(h, (-k, doc_id, fi))
                    elif -h[0][0] > k:
                        heapq.heapreplace(h, (-k, doc_id, fi))
    heap.sort(key=lambda t: (-t[0], t[1]))
    group.sample = [(-nk, doc_id, json.loads(a) if a else {}, n) for nk, doc_id, a, n in heap]
    group.examples = {r: sorted((-nk, d, fi) for nk, d, fi in h) for r, h in sorted(ex_heaps.items())}


def split_attributes(stats: Any) -> tuple[dict[str, float], dict[str, str]]:
    """A stage's attribute dict -> (numeric fields, short categorical fields); nested dicts one level deep."""
    nums: dict[str, float] = {}
    cats: dict[str, str] = {}
    if not isinstance(stats, dict):
        return nums, cats
    for k, v in stats.items():
        if isinstance(v, bool):
            cats[k] = str(v).lower()
        elif isinstance(v, int | float):
            if math.isfinite(v):
                nums[k] = float(v)
        elif isinstance(v, str):
            if len(v) <= 40 and not k.endswith("id"):
                cats[k] = v
        elif isinstance(v, dict):
            for k2, v2 in v.items():
                if isinstance(v2, int | float) and not isinstance(v2, bool) and math.isfinite(v2):
                    nums[f"{k}.{k2}"] = float(v2)
    return nums, cats


def _numeric_sides() -> dict[str, tuple[list[float], list[float]]]:
    return {"kept": ([], []), "rejected": ([], [])}


def _categorical_sides() -> dict[str, Counter[str]]:
    return {"kept": Counter(), "rejected": Counter()}


@dataclass
class Distributions:
    """Weighted samples per (stage, attribute) and side ("kept" = passed the stage, or "rejected")."""

    numeric: dict[str, dict[str, dict[str, tuple[list[float], list[float]]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(_numeric_sides)))
    categorical: dict[str, dict[str, dict[str, Counter[str]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(_categorical_sides)))
    sampled: bool = False  # True when some group was sampled (counts are then estimates)

    def add_group(self, group: Group, *, rejected_text: bool = True) -> None:
        """Add a group's sample; its text lengths count under ALL_DOCS when the text is there."""
        w = group.weight
        if len(group.sample) < group.total_rows:
            self.sampled = True
        for _, _, attrs, chars in group.sample:
            if group.name == KEPT or rejected_text:
                vals, ws = self.numeric[ALL_DOCS]["characters"]["kept" if group.name == KEPT else "rejected"]
                vals.append(float(chars))
                ws.append(w)
            for stage, stats in attrs.items():
                side = "rejected" if stage == group.name else "kept"
                nums, cats = split_attributes(stats)
                for k, v in nums.items():
                    vals, ws = self.numeric[stage][k][side]
                    vals.append(v)
                    ws.append(w)
                for k, v in cats.items():
                    self.categorical[stage][k][side][v] += w


# ---------------------------------------------------------------- plots


def _template() -> dict[str, Any]:
    axis = {"gridcolor": "#e8e8e8", "linecolor": "#999", "zerolinecolor": "#ccc", "automargin": True}
    return {
        "layout": {
            "font": {"family": "-apple-system, Segoe UI, Helvetica, Arial, sans-serif", "size": 12},
            "paper_bgcolor": "white", "plot_bgcolor": "white",
            "colorway": ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6",
                         "#9D755D", "#BAB0AC", "#EECA3B"],
            "xaxis": axis, "yaxis": axis, "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
            "legend": {"orientation": "h", "y": -0.2},
        }
    }


class Figures:
    """Renders plotly figures to HTML divs with stable ids (the page is the same bytes for the same run)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def html(self, fig: Any, div_id: str, height: int = 320) -> str:
        import plotly.io as pio

        base = re.sub(r"[^A-Za-z0-9_-]+", "-", div_id)
        div, n = base, 1
        while div in self.ids:
            n += 1
            div = f"{base}-{n}"
        self.ids.add(div)
        fig.update_layout(template=_template(), height=height)
        return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div,
                           config={"displaylogo": False, "displayModeBar": False, "responsive": True})


def _bins(values: list[float], extra: list[float]) -> tuple[list[float], bool, bool]:
    """Bin edges for values (and thresholds to keep in view); (edges, log scale, integer bins).

    Heavy-tailed non-negative values (lengths, perplexities) get log-spaced bins; zeros then fall in the
    first bin.
    """
    lo, hi = min(values + extra), max(values + extra)
    distinct = len(set(values))
    integer = all(float(v).is_integer() for v in values + extra) and hi - lo <= 60
    if integer:
        return [lo - 0.5 + i for i in range(int(hi - lo) + 2)], False, True
    positive = [v for v in values + extra if v > 0]
    if lo >= 0 and positive and hi / min(positive) >= 100 and distinct >= 10:
        a, b = math.log10(min(positive)), math.log10(hi)
        return [a + (b - a) * i / 40 for i in range(41)], True, False
    if hi == lo:
        return [lo - 0.5, hi + 0.5], False, False
    return [lo + (hi - lo) * i / 40 for i in range(41)], False, False


def _histogram(values: list[float], weights: list[float], edges: list[float]) -> list[float]:
    import numpy as np

    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=np.asarray(edges),
                             weights=np.asarray(weights))
    return [round(float(c), 3) for c in counts]


def _short(v: float) -> str:
    """Compact tick label: 500, 2k, 1.5M, 0.02."""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def thresholds_for(stage_cfg: dict[str, Any], attr: str) -> list[tuple[str, float]]:
    """Configured thresholds of a stage that apply to one of its attributes (best effort)."""
    keys = list(THRESHOLD_KEYS.get((stage_cfg.get("type", ""), attr), ()))
    keys += [k for k in (f"min_{attr}", f"max_{attr}") if k not in keys]
    out: list[tuple[str, float]] = []
    for key in keys:
        v = stage_cfg.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and not (key.startswith("min_") and v == 0):
            out.append((key, float(v)))
    m = NGRAM_ATTR.fullmatch(attr)
    if m:
        table = stage_cfg.get(f"{m.group(1)}_ngram_max_fractions") or {}
        v = table.get(m.group(2), table.get(int(m.group(2)))) if isinstance(table, dict) else None
        if isinstance(v, int | float):
            out.append((f"{m.group(1)}_ngram_max_fractions[{m.group(2)}]", float(v)))
    return out


def histogram_figure(stage: str, attr: str, sides: dict[str, tuple[list[float], list[float]]],
                     thresholds: list[tuple[str, float]], estimated: bool,
                     labels: tuple[str, str] = ("kept by this stage", "rejected by this stage")) -> Any:
    import plotly.graph_objects as go

    values = sides["kept"][0] + sides["rejected"][0]
    tvals = [v for _, v in thresholds]
    lo, hi = min(values), max(values)
    span = (hi - lo) or abs(hi) or 1.0
    near = [v for v in tvals if lo - span <= v <= hi + span]  # keep far-off thresholds out of the range
    edges, log, integer = _bins(values, near)
    fig = go.Figure()
    for side, color, label in (("kept", KEPT_COLOR, labels[0]), ("rejected", REJECTED_COLOR, labels[1])):
        vals, ws = sides[side]
        if not vals:
            continue
        xs = [math.log10(v) if v > 0 else edges[0] for v in vals] if log else vals
        counts = _histogram(xs, ws, edges)
        centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        widths = [b - a for a, b in itertools.pairwise(edges)]
        fig.add_trace(go.Bar(x=centers, y=counts, width=widths, name=f"{label} ({len(vals):,} sampled)"
                             if estimated else f"{label} ({len(vals):,})", marker_color=color,
                             marker_line_width=0, opacity=0.9))
    drawn = 0
    for key, v in thresholds:
        if v not in near:
            continue
        x = math.log10(v) if log and v > 0 else v
        side = "top right" if key.startswith("min_") else "top left"  # the label points inwards
        fig.add_vline(x=x, line_dash="dash", line_color="#222", line_width=1.5,
                      annotation_text=f"{key} = {v:g}", annotation_position=side,
                      annotation={"yshift": -15 * drawn})
        drawn += 1
    pad = (edges[-1] - edges[0]) * 0.02
    xaxis: dict[str, Any] = {"title": {"text": attr}, "range": [edges[0] - pad, edges[-1] + pad]}
    if log:
        a, b = math.floor(edges[0]), math.ceil(edges[-1])
        decades = edges[-1] - edges[0]
        mults = (1, 2, 5) if decades <= 2.5 else (1, 3) if decades <= 4 else (1,)
        ticks = [e + math.log10(m) for e in range(a, b + 1) for m in mults]
        ticks = [t for t in ticks if edges[0] - 0.05 <= t <= edges[-1] + 0.05]
        xaxis.update(tickvals=ticks, ticktext=[_short(10**t) for t in ticks])
        xaxis["title"]["text"] = f"{attr} (log scale)"
    elif integer:
        xaxis["tickformat"] = "d"
        if edges[-1] - edges[0] <= 16:
            xaxis["dtick"] = 1
        if len(edges) < 6:  # one or a few values: leave room around the bars
            xaxis["range"] = [edges[0] - 2, edges[-1] + 2]
    fig.update_layout(
        barmode="stack", bargap=0, title={"text": f"{stage} · {attr}"}, xaxis=xaxis,
        yaxis={"title": {"text": "documents (estimated)" if estimated else "documents"}},
    )
    return fig


# ---------------------------------------------------------------- HTML helpers


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(n: Any) -> str:
    if isinstance(n, bool) or n is None:
        return esc(n)
    if isinstance(n, int):
        return f"{n:,}"
    if isinstance(n, float):
        return f"{n:,.3f}".rstrip("0").rstrip(".") if abs(n) < 1e6 else f"{n:,.0f}"
    return esc(n)


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "–"


def _mb(n: int | None) -> str:
    return "–" if n is None else f"{n / 2**20:,.2f}"


def table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if isinstance(c, Raw) else _fmt(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return (f'<div class="tw"><table class="{esc(cls)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


class Raw(str):
    """Already-escaped HTML for a table cell."""


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


# ---------------------------------------------------------------- sections


@dataclass
class RunData:
    run_dir: str
    manifest: dict[str, Any]
    stage_cfgs: dict[str, dict[str, Any]]  # stage name -> its config entry
    groups: list[Group]
    dist: Distributions
    example_rows: dict[tuple[str, str], list[dict[str, Any]]]
    dir_bytes: dict[str, int | None]
    final_dir: str | None


def _reasons(stage: dict[str, Any]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for c in stage["sources"].values():
        out.update(c["rejected"])
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def section_summary(d: RunData) -> str:
    m = d.manifest
    stages = m["stages"]
    n_in = stages[0]["totals"]["in"] if stages else 0
    n_out = stages[-1]["totals"]["out"] if stages else 0
    tokens = sum(int(s["counters"].get("tokens_out", 0)) for s in stages if s["type"] == "tokenize")
    cards = [("input documents", f"{n_in:,}"), ("output documents", f"{n_out:,}"),
             ("kept", _pct(n_out, n_in))]
    if tokens:
        cards.append(("tokens written", f"{tokens:,}"))
    cards += [("stages", str(max(0, len(stages) - 1))),
              ("total time", f"{m['timings'].get('total', 0):,.1f} s"),
              ("errors", str(len(m.get("errors", [])))),
              ("counts add up", "yes" if m.get("balanced") else "NO")]
    body = "".join(f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>'
                   for k, v in cards)
    top = []
    for s in stages:
        for r, n in _reasons(s).items():
            top.append((n, s["name"], r))
    top.sort(key=lambda t: (-t[0], t[1], t[2]))
    lead = ""
    if top:
        n, st, r = top[0]
        lead = (f"<p>The rule that removed most: <b>{esc(st)} · {esc(r)}</b>, {n:,} documents "
                f"({_pct(n, n_in)} of the input).</p>")
    return f'<div class="cards">{body}</div>{_input_lost_warning(m)}{lead}'


def _input_lost_warning(m: dict[str, Any]) -> str:
    """A run that lost input must say so where it is read first: counts alone would look complete.

    Paths come from the data (the crawl's file names), so every cell is escaped by `table`.
    """
    lost = m.get("input_lost") or {}
    if not lost.get("files"):
        return ""
    by_file = lost.get("by_file") or []
    rows = [[f.get("source"), f.get("path"), f.get("bytes", 0), f.get("records_estimate", 0)]
            for f in by_file[:100]]
    more = f" The first 100 of {len(by_file):,} files are listed." if len(by_file) > 100 else ""
    head = (f"<b>Input lost:</b> {_fmt(lost.get('files', 0))} input file(s) could not be read in full: "
            f"{_fmt(lost.get('bytes', 0))} bytes unread, about {_fmt(lost.get('records_estimate', 0))} "
            "record(s) that are in no output (the funnel counts each unreadable span as one document).")
    detail = note("Each unreadable span is a row in rejected/00_read (reasons such as corrupt_compression, "
                  "not_warc); see manifest.json input_lost." + more)
    return (f'<div class="warn" id="input-lost">{head}{detail}'
            + table(["source", "file", "bytes lost", "records lost (estimate)"], rows, "num") + "</div>")


def section_funnel(d: RunData, figs: Figures) -> str:
    import plotly.graph_objects as go

    stages = d.manifest["stages"]
    if not stages:
        return note("The manifest lists no stages.")
    n_in = stages[0]["totals"]["in"]
    labels = ["input records"] + [f"{s['index']:02d} {s['name']}" for s in stages]
    values = [n_in] + [s["totals"]["out"] for s in stages]
    fig = go.Figure(go.Funnel(y=labels, x=values, textinfo="value+percent initial",
                              marker={"color": KEPT_COLOR}, connector={"line": {"color": "#bbb"}}))
    fig.update_layout(title={"text": "Documents remaining after each stage"}, margin={"l": 160})
    parts = [f'<div id="funnel-chart">{figs.html(fig, "fig-funnel", height=90 + 42 * len(labels))}</div>']

    has_tokens = any("tokens_out" in s["counters"] for s in stages)
    rows = []
    for s in stages:
        t = s["totals"]
        reasons = _reasons(s)
        top = ", ".join(f"{r} ({n:,})" for r, n in list(reasons.items())[:3])
        row: list[Any] = [f"{s['index']:02d}", s["name"], s["type"], t["in"], t["out"], t["rejected"],
                          _pct(t["rejected"], t["in"]), top or "–",
                          _mb(d.dir_bytes.get(s.get("dir", "")))]
        if has_tokens:
            row.append(s["counters"].get("tokens_out", "–"))
        rows.append(row)
    headers = ["#", "stage", "type", "in", "out", "rejected", "removed", "top reasons", "stored MB out"]
    if has_tokens:
        headers.append("tokens out")
    parts.append(table(headers, rows, "num"))
    inputs_mb = sum(i.get("bytes", 0) for i in d.manifest.get("inputs", []))
    parts.append(note(f"Input files: {inputs_mb / 2**20:,.2f} MB. 'stored MB out' is the size of the stage's "
                      "Parquet output (fused document stages share one output, shown on each)."))

    # per source
    sources = sorted({src for s in stages for src in s["sources"]})
    if sources:
        fig = go.Figure()
        for src in sources:
            fig.add_trace(go.Bar(x=[f"{s['index']:02d} {s['name']}" for s in stages],
                                 y=[s["sources"].get(src, {}).get("out", 0) for s in stages], name=src))
        fig.update_layout(barmode="group", title={"text": "Documents out per stage and source"},
                          yaxis={"title": {"text": "documents"}},
                          legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1,
                                  "xanchor": "right"})
        parts.append("<h3>Per source</h3>" + figs.html(fig, "fig-funnel-sources", height=360))
        srows = []
        for src in sources:
            first = stages[0]["sources"].get(src, {}).get("in", 0)
            outs = [s["sources"].get(src, {}).get("out", 0) for s in stages]
            srows.append([src, first, *outs, _pct(outs[-1], first)])
        parts.append(table(["source", "in", *[s["name"] for s in stages], "kept"], srows, "num"))

    # share removed by each reason
    removed = [(n, s["name"], r) for s in stages for r, n in _reasons(s).items()]
    removed.sort(key=lambda t: (-t[0], t[1], t[2]))
    if removed:
        shown = removed[:30]
        fig = go.Figure(go.Bar(
            y=[f"{st} · {r}" for _, st, r in shown][::-1], x=[n for n, _, _ in shown][::-1], orientation="h",
            text=[f"{n:,} ({_pct(n, n_in)})" for n, _, _ in shown][::-1], textposition="auto",
            marker_color=REJECTED_COLOR))
        fig.update_layout(title={"text": "Documents removed by each reason (share of input documents)"},
                          xaxis={"title": {"text": "documents"}}, margin={"l": 220})
        parts.append("<h3>What each reason removed</h3>" + figs.html(fig, "fig-reasons",
                                                                      height=110 + 26 * len(shown)))
        by_stage_in = {s["name"]: s["totals"]["in"] for s in stages}
        parts.append(table(["stage", "reason", "documents", "of stage input", "of all input"],
                           [[st, r, n, _pct(n, by_stage_in[st]), _pct(n, n_in)] for n, st, r in removed],
                           "num"))
    counters = [(s["name"], k, v) for s in stages for k, v in sorted(s["counters"].items())]
    if counters:
        rows = [list(c) for c in counters]
        parts.append("<details><summary>Stage counters</summary>"
                     + table(["stage", "counter", "value"], rows, "num") + "</details>")
    return "".join(parts)


def section_histograms(d: RunData, figs: Figures) -> str:
    stages = [s for s in d.manifest["stages"] if s["name"] in d.dist.numeric]
    if ALL_DOCS in d.dist.numeric:
        stages.insert(0, {"name": ALL_DOCS, "type": "text length; kept = in the final output"})
    if not stages:
        return note("No stage recorded numeric scores in the documents' attributes (run a filter stage).")
    parts = []
    if d.dist.sampled:
        parts.append(note("Distributions are estimated from a deterministic sample of rows of the output and "
                          "of each stage's rejected set, weighted to the full counts."))
    for s in stages:
        cfg = d.stage_cfgs.get(s["name"], {"type": s["type"]})
        attrs = sorted(d.dist.numeric[s["name"]].items())
        cells = []
        for attr, sides in attrs[:MAX_HISTOGRAMS_PER_STAGE]:
            labels = ("in the final output", "rejected by any stage") if s["name"] == ALL_DOCS else \
                ("kept by this stage", "rejected by this stage")
            fig = histogram_figure(s["name"], attr, sides, thresholds_for(cfg, attr), d.dist.sampled, labels)
            div = figs.html(fig, f"fig-hist-{s['name']}-{attr}", height=300)
            cells.append(f'<div class="hist">{div}</div>')
        more = len(attrs) - MAX_HISTOGRAMS_PER_STAGE
        extra = note(f"{more} more attributes not shown.") if more > 0 else ""
        parts.append(f"<h3>{esc(s['name'])} <span class='t'>({esc(s['type'])})</span></h3>"
                     f'<div class="grid">{"".join(cells)}</div>{extra}')
    return "".join(parts)


def section_languages(d: RunData, figs: Figures) -> str:
    import plotly.graph_objects as go

    lang_stages = [s for s in d.manifest["stages"] if s["type"] == "language"]
    if not lang_stages:
        return note("No language stage in this run.")
    parts = []
    for s in lang_stages:
        counts = {k[len("lang_"):]: v for k, v in s["counters"].items() if k.startswith("lang_")}
        sides = d.dist.categorical.get(s["name"], {}).get("lang")
        if sides and (sides["kept"] or sides["rejected"]):
            langs = sorted(set(sides["kept"]) | set(sides["rejected"]),
                           key=lambda la: (-(sides["kept"][la] + sides["rejected"][la]), la))[:40]
            fig = go.Figure([
                go.Bar(x=langs, y=[round(sides["kept"][la], 2) for la in langs], name="kept",
                       marker_color=KEPT_COLOR),
                go.Bar(x=langs, y=[round(sides["rejected"][la], 2) for la in langs], name="rejected",
                       marker_color=REJECTED_COLOR),
            ])
        elif counts:
            langs = sorted(counts, key=lambda la: (-counts[la], la))[:40]
            fig = go.Figure(go.Bar(x=langs, y=[counts[la] for la in langs], marker_color=KEPT_COLOR))
        else:
            parts.append(note(f"{s['name']}: no language recorded."))
            continue
        fig.update_layout(barmode="stack", title={"text": f"{s['name']}: documents per detected language"},
                          xaxis={"title": {"text": "language", "standoff": 5}, "type": "category"},
                          yaxis={"title": {"text": "documents"}})
        parts.append(figs.html(fig, f"fig-lang-{s['name']}", height=340))
        if counts:
            total = sum(counts.values())
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            rows = [[la, n, _pct(n, total)] for la, n in ordered]
            parts.append("<details><summary>All languages (exact counts)</summary>"
                         + table(["language", "documents", "share"], rows, "num") + "</details>")
    return "".join(parts)


def section_dedup(d: RunData, figs: Figures) -> str:
    import plotly.graph_objects as go

    extra = d.manifest.get("extra", {})
    parts = []
    for s in d.manifest["stages"]:
        e = extra.get(s["name"])
        if not isinstance(e, dict) or "cluster_size_histogram" not in e:
            continue
        hist = {int(k): int(v) for k, v in e["cluster_size_histogram"].items()}
        sizes = sorted(hist)
        fig = go.Figure(go.Bar(x=[str(k) for k in sizes], y=[hist[k] for k in sizes], marker_color=KEPT_COLOR,
                               text=[f"{hist[k]:,}" for k in sizes], textposition="auto"))
        big = max(hist.values(), default=1) / max(1, min(hist.values(), default=1)) >= 100
        fig.update_layout(title={"text": f"{s['name']}: duplicate clusters by size"},
                          xaxis={"title": {"text": "documents in the cluster"}, "type": "category"},
                          yaxis={"title": {"text": "clusters"}, "type": "log" if big else "linear"})
        scalars = [[k, v] for k, v in sorted(e.items())
                   if isinstance(v, int | float) and not isinstance(v, bool)]
        div = figs.html(fig, f"fig-dedup-{s['name']}", height=320)
        parts.append(f"<h3>{esc(s['name'])} <span class='t'>({esc(s['type'])})</span></h3>"
                     f'<div class="grid2"><div>{div}</div>'
                     f"<div>{table(['figure', 'value'], scalars, 'num')}</div></div>")
    if not parts:
        return note("No dedup stage recorded cluster sizes in this run.")
    return "".join(parts)


def section_tokens(d: RunData, figs: Figures) -> str:
    import plotly.graph_objects as go

    extra = d.manifest.get("extra", {})
    parts = []
    for s in d.manifest["stages"]:
        e = extra.get(s["name"])
        if s["type"] != "tokenize" or not isinstance(e, dict) or not isinstance(e.get("sources"), dict):
            continue
        srcs = sorted(e["sources"])
        out = {k: int(e["sources"][k].get("tokens_out", 0)) for k in srcs}
        total = sum(out.values())
        cfg_mix = d.stage_cfgs.get(s["name"], {}).get("mixture") or {}
        weights = e.get("weights") or {k: v.get("weight") for k, v in cfg_mix.items() if v.get("weight")}
        wsum = sum(float(v) for v in weights.values()) if weights else 0.0
        fig = go.Figure(go.Bar(x=srcs, y=[round(out[k] / total, 4) if total else 0 for k in srcs],
                               name="share of tokens written", marker_color=KEPT_COLOR))
        if wsum:
            fig.add_trace(go.Bar(x=srcs, y=[round(float(weights.get(k, 0)) / wsum, 4) for k in srcs],
                                 name="configured mixture weight", marker_color="#F58518"))
        title = f"{s['name']}: tokens per source vs configured mixture"
        fig.update_layout(barmode="group", title={"text": title},
                          yaxis={"title": {"text": "share"}, "tickformat": ".0%"})
        rows = []
        for k in srcs:
            src = e["sources"][k]
            mix = cfg_mix.get(k, {})
            target = ", ".join(f"{a}={mix[a]}" for a in ("weight", "tokens", "epochs")
                               if mix.get(a) is not None)
            rows.append([k, src.get("documents_in", 0), src.get("documents_out", 0), src.get("tokens_in", 0),
                         out[k], _pct(out[k], total), target or "–", src.get("warning", "")])
        tok = e.get("tokenizer", {})
        info = note(f"Tokenizer: {tok.get('path', '?')} (vocab {tok.get('vocab_size', '?')}, "
                    f"{tok.get('dtype', '?')}); {total:,} tokens written.")
        parts.append(figs.html(fig, f"fig-tokens-{s['name']}", height=340) + info + table(
            ["source", "docs in", "docs out", "tokens in", "tokens out", "share", "configured", "note"],
            rows, "num"))
    if not parts:
        return note("No tokenize stage in this run.")
    return "".join(parts)


def section_examples(d: RunData) -> str:
    parts = []
    for s in d.manifest["stages"]:
        reasons = _reasons(s)
        if not reasons:
            continue
        blocks = []
        for reason, n in reasons.items():
            rows = d.example_rows.get((s["name"], reason), [])
            cards = []
            for row in rows:
                attrs = json.loads(row.get("attributes") or "{}")
                mine = attrs.get(s["name"])
                others = {k: v for k, v in sorted(attrs.items()) if k != s["name"]}
                text = row.get("text") or ""
                chars = row.get("chars", len(text))
                shown = text[:TEXT_CHARS] + ("…" if chars > TEXT_CHARS else "")
                if not text:
                    shown = "(text not kept: output.keep_rejected_text is false, or the document was empty)"
                mine_json = esc(json.dumps(mine, ensure_ascii=False))
                attr_html = (f"<div><b>{esc(s['name'])}</b>: <code>{mine_json}</code></div>"
                             if mine is not None else "")
                if others:
                    attr_html += ("<div class='other'>" + "; ".join(
                        f"{esc(k)}: <code>{esc(json.dumps(v, ensure_ascii=False))}</code>"
                        for k, v in others.items()) + "</div>")
                cards.append(
                    f'<div class="doc"><div class="meta"><b>{esc(row["id"])}</b> · {esc(row["source"])} · '
                    f'<span class="url">{esc(row.get("url") or "no url")}</span> · {chars:,} chars</div>'
                    f'{attr_html}<pre class="text">{esc(shown)}</pre></div>')
            blocks.append(f"<h4>{esc(reason)} <span class='t'>{n:,} documents</span></h4>"
                          + ("".join(cards) or note("No rows found for this reason.")))
        parts.append(f"<h3>{esc(s['name'])}</h3>" + "".join(blocks))
    if not parts:
        return note("Nothing was rejected in this run.")
    cmd = "winnow inspect RUN --stage STAGE --reason REASON -n 20"
    head = note(f"A few sampled per reason (text cut at {TEXT_CHARS} characters); see more with `{cmd}`.")
    return head + "".join(parts)


def _lost_summary(lost: dict[str, Any]) -> str:
    if not lost.get("files"):
        return "none"
    return (f"{lost['files']:,} file(s), {lost.get('bytes', 0):,} bytes, "
            f"about {lost.get('records_estimate', 0):,} record(s)")


def section_run(d: RunData, figs: Figures) -> str:
    import plotly.graph_objects as go

    m = d.manifest
    parts = []
    inputs = m.get("inputs", [])
    outputs = m.get("outputs", [])
    summary = [
        ["name", m.get("name")], ["run directory", d.run_dir], ["winnow version", m.get("winnow_version")],
        ["config hash", m.get("config_hash")], ["seed", m.get("config", {}).get("seed")],
        ["input files", f"{len(inputs):,} ({sum(i.get('bytes', 0) for i in inputs) / 2**20:,.2f} MB)"],
        ["output files", f"{len(outputs):,} ({sum(o.get('bytes', 0) for o in outputs) / 2**20:,.2f} MB)"],
        ["final documents", m.get("final_dir")], ["counts add up", "yes" if m.get("balanced") else "NO"],
        ["errors", len(m.get("errors", []))], ["input lost", _lost_summary(m.get("input_lost") or {})],
    ]
    parts.append('<div class="grid2"><div>' + table(["", ""], summary) + "</div>")
    timings = {k: v for k, v in m.get("timings", {}).items() if k != "total"}
    if timings:
        names = list(timings)
        fig = go.Figure(go.Bar(y=names[::-1], x=[timings[k] for k in names][::-1], orientation="h",
                               marker_color=KEPT_COLOR, text=[f"{timings[k]:,.1f} s" for k in names][::-1],
                               textposition="auto"))
        fig.update_layout(title={"text": f"Wall time per step (total {m['timings'].get('total', 0):,.1f} s)"},
                          xaxis={"title": {"text": "seconds"}}, margin={"l": 150})
        parts.append(f"<div>{figs.html(fig, 'fig-timings', height=100 + 30 * len(names))}</div>")
    parts.append("</div>")
    if m.get("errors"):
        rows = [[e.get("stage"), e.get("path", e.get("shard")), e.get("error")] for e in m["errors"][:100]]
        parts.append("<h3>Errors</h3>" + table(["stage", "file / shard", "error"], rows))
    packages = sorted(m.get("packages", {}).items())
    if packages:
        parts.append("<details><summary>Package versions</summary>"
                     + table(["package", "version"], [list(p) for p in packages]) + "</details>")
    other = {k: v for k, v in m.get("extra", {}).items()}
    if other:
        dumped = esc(json.dumps(other, indent=1, sort_keys=True, ensure_ascii=False))
        parts.append(f"<details><summary>Stage extras (manifest.extra)</summary><pre class='cfg'>{dumped}"
                     "</pre></details>")
    config_path = storage.join(d.run_dir, "config.yaml")
    if storage.exists(config_path):
        text = storage.read_bytes(config_path).decode("utf-8", "replace")
    else:
        import yaml

        text = yaml.safe_dump(m.get("config", {}), sort_keys=False, allow_unicode=True)
    parts.append("<h3>Config (as run)</h3><pre class='cfg'>" + esc(text) + "</pre>")
    return "".join(parts)


# ---------------------------------------------------------------- page

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header .sub{color:#c9d3de;font-size:13px;margin-top:4px}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 32px;position:sticky;top:0;z-index:10}
nav a{margin-right:18px;color:#1f5fa8;text-decoration:none;font-size:14px}
main{max-width:1360px;margin:0 auto;padding:8px 32px 40px}
section{background:#fff;border:1px solid #e2e4e8;border-radius:6px;padding:12px 20px;margin:16px 0}
h2{font-size:19px;margin:6px 0 10px}h3{font-size:16px;margin:18px 0 6px}h4{font-size:14px;margin:14px 0 6px}
.t{color:#777;font-weight:normal;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0}
.card{border:1px solid #e2e4e8;border-radius:6px;padding:10px 16px;min-width:120px;background:#fafbfc}
.card .v{font-size:20px;font-weight:600}.card .k{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #eee;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f4f6}.tw{overflow-x:auto}table.num td{font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:10px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px;align-items:start}
.hist{border:1px solid #eee;border-radius:4px}
.note{color:#555;font-size:13px}
.doc{border:1px solid #e6e6e6;border-left:4px solid #E45756;border-radius:4px;margin:8px 0;padding:6px 10px}
.doc .meta{font-size:12px;color:#444}.doc .url{color:#666;word-break:break-all}
.doc .other{font-size:12px;color:#666}
code{font-size:12px;word-break:break-word}
pre.text{white-space:pre-wrap;word-break:break-word;font-size:12px;background:#fafafa;padding:6px;
margin:6px 0;max-height:220px;overflow:auto}
pre.cfg{font-size:12px;background:#fafafa;padding:8px;overflow:auto;max-height:600px}
details{margin:8px 0}summary{cursor:pointer;color:#1f5fa8}
.warn{border:1px solid #e0a800;border-left:6px solid #E45756;background:#fff8e1;border-radius:4px;
padding:8px 14px;margin:10px 0}
"""


def collect(run_dir: str, manifest: dict[str, Any], *, sample_rows: int = SAMPLE_ROWS,
            examples: int = EXAMPLES, max_rows_per_file: int = MAX_ROWS_PER_FILE) -> RunData:
    """Read what the report needs: stats (O(shards)) and bounded samples of rows (O(sample_rows))."""
    from pipeline.shards import load_stats

    seed = manifest.get("config", {}).get("seed", 0)
    cfg_stages = manifest.get("config", {}).get("stages", [])
    stage_cfgs: dict[str, dict[str, Any]] = {}
    for s in manifest["stages"]:
        if 1 <= s["index"] <= len(cfg_stages):
            stage_cfgs[s["name"]] = cfg_stages[s["index"] - 1]
    dir_bytes: dict[str, int | None] = {}
    final_dir = None
    for s in manifest["stages"]:
        rel = s.get("dir")
        if not rel or rel in dir_bytes:
            continue
        stats = load_stats(storage.join(run_dir, rel))
        outs = [o for st in stats.values() for o in st.get("outputs", [])]
        dir_bytes[rel] = sum(int(o.get("bytes", 0)) for o in outs) if outs else None
        if outs:
            final_dir = rel
    groups: list[Group] = []
    if final_dir:
        groups.append(Group(KEPT, parquet_files(storage.join(run_dir, final_dir))))
    for s in manifest["stages"]:
        if s["totals"]["rejected"] and s.get("rejected_dir"):
            groups.append(Group(s["name"], parquet_files(storage.join(run_dir, s["rejected_dir"]))))
    dist = Distributions()
    keep_text = bool(manifest.get("config", {}).get("output", {}).get("keep_rejected_text", True))
    example_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for g in groups:
        scan_group(g, seed, sample_rows=sample_rows, examples=examples if g.name != KEPT else 0,
                   max_rows_per_file=max_rows_per_file)
        dist.add_group(g, rejected_text=keep_text)
        for reason, chosen in g.examples.items():
            rows = fetch_rows(g.files, [(doc_id, fi) for _, doc_id, fi in chosen])
            for row in rows:  # keep only what the page shows: a document may be megabytes
                text = row.get("text") or ""
                row["chars"], row["text"] = len(text), text[: TEXT_CHARS + 1]
            example_rows[(g.name, reason)] = rows
        g.sample = []  # the distributions hold what is needed; free the rows
    return RunData(run_dir, manifest, stage_cfgs, groups, dist, example_rows, dir_bytes, final_dir)


def render(d: RunData) -> str:
    """The whole page as one string (plotly.js inlined once)."""
    from plotly.offline import get_plotlyjs

    figs = Figures()
    m = d.manifest
    builders: list[tuple[str, str, Callable[[], str]]] = [
        ("summary", "Summary", lambda: section_summary(d)),
        ("funnel", "Funnel", lambda: section_funnel(d, figs)),
        ("scores", "Scores and stats", lambda: section_histograms(d, figs)),
        ("languages", "Languages", lambda: section_languages(d, figs)),
        ("dedup", "Dedup clusters", lambda: section_dedup(d, figs)),
        ("tokens", "Tokens and mixture", lambda: section_tokens(d, figs)),
        ("rejected", "Rejected documents", lambda: section_examples(d)),
        ("run", "Run: manifest, timings, config", lambda: section_run(d, figs)),
    ]
    sections = []
    for sid, title, build in builders:
        try:
            content = build()
        except Exception as exc:  # one odd stage extra must not cost the whole report
            log.exception("report section %s failed", sid)
            content = note(f"This section could not be drawn: {type(exc).__name__}: {exc}")
        sections.append((sid, title, content))
    nav = "".join(f'<a href="#{sid}">{esc(title.split(":")[0])}</a>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    sub = (f"config {str(m.get('config_hash', ''))[:12]} · winnow {m.get('winnow_version', '?')} · "
           f"{len(m.get('inputs', [])):,} input files · {esc(d.run_dir)}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>winnow report: {esc(m.get('name', ''))}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>winnow run report: {esc(m.get('name', ''))}</h1><div class=\"sub\">{sub}</div></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )


def write_report(run_dir: str, output: str | None = None, **kwargs: Any) -> str:
    """Write RUN/report.html (or `output`) for a finished run; returns its path."""
    from pipeline.manifest import MANIFEST, load_manifest

    if not storage.exists(storage.join(run_dir, MANIFEST)):
        raise FileNotFoundError(f"{run_dir} has no {MANIFEST}: not a finished winnow run")
    data = collect(run_dir, load_manifest(run_dir), **kwargs)
    path = output or storage.join(run_dir, REPORT)
    storage.atomic_write(path, render(data).encode("utf-8"))
    return path


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("report",
                              help="write the HTML report (funnel, score histograms, examples) of a run")
    p.add_argument("run_dir", help="a run directory (winnow run --output)")
    p.add_argument("--output", "-o", help=f"where to write it (default RUN_DIR/{REPORT})")
    p.add_argument("--sample-rows", type=int, default=SAMPLE_ROWS,
                   help=f"rows sampled per group for the histograms (default {SAMPLE_ROWS:,})")
    p.add_argument("--examples", type=int, default=EXAMPLES, help=f"rejected documents shown per reason "
                   f"(default {EXAMPLES})")
    p.set_defaults(func=_report_cmd)


def _report_cmd(args: argparse.Namespace) -> int:
    path = write_report(args.run_dir, args.output, sample_rows=args.sample_rows, examples=args.examples)
    print(f"report: {path}")
    return 0
