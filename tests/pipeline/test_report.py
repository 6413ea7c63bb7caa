"""The run report: one offline report.html with the funnel, score histograms and sampled rejected documents.

The end-to-end test runs the real runner on the bundled sample with the filter stages that are
available, renders the report in headless Chromium (Debian's `chromium`; skipped with the reason when
absent), checks the screenshot is a real picture and the rendered DOM has a funnel and histograms with
bars. Other tests build a run directory with the runner's shard workers in process (no Ray).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.config import parse_config
from pipeline.report import thresholds_for, write_report

REPO = Path(__file__).resolve().parents[2]
SAMPLE_SOURCES = """
sources:
  - name: commoncrawl
    format: warc
    paths: ["../data/sample/commoncrawl/*.warc.gz", "../data/sample/web/*.warc.gz"]
  - {name: commoncrawl_wet, format: wet, paths: ["../data/sample/commoncrawl/*.warc.wet.gz"]}
  - {name: web_en, format: jsonl, paths: ["../data/sample/en/*.jsonl", "../data/sample/en/*.json.gz"]}
  - {name: multilingual, format: jsonl, paths: ["../data/sample/multilingual/*.jsonl"]}
"""


def _config(text: str):
    return parse_config(text, str(REPO / "configs" / "test.yaml"), str(REPO / "configs"))


def build_run(config_yaml: str, run_dir: Path) -> dict:
    """Write a run directory with the runner's shard workers, in process (no Ray), then its manifest."""
    from pipeline.manifest import write_manifest
    from pipeline.readers import expand_source
    from pipeline.runner import READ_STAGE, DocumentShard, ReadShard, plan
    from pipeline.shards import shard_files

    config = _config(config_yaml)
    reader = ReadShard(config, str(run_dir))
    for src in config.sources:
        for f in expand_source(src):
            reader(f.to_dict())
    prev = run_dir / f"00_{READ_STAGE}"
    for seg in plan(config):
        worker = DocumentShard(config, str(run_dir), seg)
        for shard, files in shard_files(str(prev)).items():
            worker({"shard": shard, "files": files})
        prev = run_dir / seg.dir_name
    return write_manifest(config, str(run_dir), plan(config), {"read": 1.0, "total": 2.0})


class _Resources(HTMLParser):
    """Everything a page would fetch: script src, stylesheet/icon links, images, frames, media."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            self.fetched.append(a["href"] or "")
        elif tag in ("script", "img", "iframe", "source", "video", "audio", "embed", "input") and "src" in a:
            self.fetched.append(a["src"] or "")
        elif tag == "object" and a.get("data"):
            self.fetched.append(a["data"] or "")


def assert_offline(html: str) -> None:
    """The page references nothing on the network (inline JS may mention URLs in strings; tags may not)."""
    p = _Resources()
    p.feed(html)
    remote = [u for u in p.fetched if re.match(r"^(https?:)?//", u.strip(), re.I)]
    assert not remote, remote
    assert 'src="http' not in html and "src='http" not in html
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html, re.I)
    css = "".join(re.findall(r"<style>(.*?)</style>", html, re.S))
    assert not re.search(r"@import|url\((['\"]?)(https?:)?//", css)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample web text plus one hostile document (markup in text and url) that c4_quality rejects."""
    tmp = tmp_path_factory.mktemp("report")
    hostile = {"id": "hostile-1", "url": "http://evil.example/<script>x</script>",
               "text": "<script>alert(1)</script><img src=http://evil.example/x.png> buy now"}
    (tmp / "hostile.jsonl").write_text(json.dumps(hostile) + "\n", encoding="utf-8")
    cfg = f"""
name: report-test
seed: 11
sources:
  - {{name: web_en, format: jsonl, paths: ["../data/sample/en/*.jsonl"]}}
  - {{name: multilingual, format: jsonl, paths: ["../data/sample/multilingual/*.jsonl"]}}
  - {{name: hostile, format: jsonl, paths: ["{tmp / 'hostile.jsonl'}"]}}
stages:
  - {{type: c4_quality, min_sentences: 8}}
  - {{type: word_blocklist, min_hits: 2}}
"""
    run = tmp / "run"
    build_run(cfg, run)
    return run


def test_thresholds_come_from_the_stage_config() -> None:
    assert thresholds_for({"type": "language", "min_score": 0.65}, "score") == [("min_score", 0.65)]
    assert thresholds_for({"type": "language", "min_score": 0.0}, "score") == []  # 0 = off
    assert thresholds_for({"type": "perplexity", "max_perplexity": 1500}, "perplexity") == [
        ("max_perplexity", 1500.0)]
    assert thresholds_for({"type": "gopher_quality", "min_words": 50, "max_words": 100000}, "words") == [
        ("min_words", 50.0), ("max_words", 100000.0)]
    rep = {"type": "gopher_repetition", "top_ngram_max_fractions": {"2": 0.2, "3": 0.18}}
    assert thresholds_for(rep, "top_3_gram_char_fraction") == [("top_ngram_max_fractions[3]", 0.18)]
    assert thresholds_for({"type": "c4_quality", "min_sentences": 5}, "sentences") == [("min_sentences", 5.0)]
    assert thresholds_for({"type": "quality_classifier", "threshold": 0.4}, "score") == [("threshold", 0.4)]
    assert thresholds_for({"type": "pii"}, "email") == []


def test_report_has_every_section_and_escapes_documents(small_run: Path) -> None:
    path = write_report(str(small_run), examples=100)
    html = Path(path).read_text(encoding="utf-8")
    manifest = json.loads((small_run / "manifest.json").read_text())
    for section in ("summary", "funnel", "scores", "languages", "dedup", "tokens", "rejected", "run"):
        assert f'<section id="{section}">' in html
    assert html.count("<script") == 1 + html.count('Plotly.newPlot(')  # plotly.js inlined once
    assert 'id="fig-funnel"' in html and 'id="fig-reasons"' in html
    assert 'id="fig-hist-c4_quality-sentences"' in html and "min_sentences = 8" in html
    assert 'id="fig-hist-word_blocklist-hits"' in html and "min_hits = 2" in html
    c4 = next(s for s in manifest["stages"] if s["name"] == "c4_quality")
    assert f"{c4['totals']['rejected']:,}" in html
    # the hostile document is shown, escaped: its markup is text, not tags
    assert "hostile-1" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=http://evil.example/x.png&gt;" in html
    assert "<script>alert(1)" not in html and "<img src=http" not in html
    assert "No language stage in this run." in html and "No tokenize stage in this run." in html
    assert_offline(html)


def test_report_is_deterministic_and_bounded_samples_still_plot(small_run: Path, tmp_path: Path) -> None:
    a = write_report(str(small_run), str(tmp_path / "a.html"))
    b = write_report(str(small_run), str(tmp_path / "b.html"))
    assert Path(a).read_bytes() == Path(b).read_bytes()
    c_path = write_report(str(small_run), str(tmp_path / "c.html"), sample_rows=5)
    c = Path(c_path).read_text(encoding="utf-8")
    assert "estimated from a deterministic sample" in c
    assert "(5 sampled)" in c and 'id="fig-hist-c4_quality-sentences"' in c


def test_report_of_a_read_only_run_degrades_gracefully(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    build_run("name: read-only\n" + SAMPLE_SOURCES + "stages: []\n", run)
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--output", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert 'id="fig-funnel"' in html and 'id="fig-hist-all-documents-characters"' in html
    assert "No dedup stage recorded cluster sizes in this run." in html
    assert "not_html" in html  # the reader's own rejects are in the funnel and the examples
    assert main(["report", str(tmp_path / "missing")]) == 2


# ---------------------------------------------------------------- end to end in a browser


def _chromium() -> str | None:
    return shutil.which("chromium") or (shutil.which("/usr/bin/chromium"))


def _chromium_cmd(exe: str, profile: Path) -> list[str]:
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--hide-scrollbars", "--virtual-time-budget=15000"]


def _png_pixels(data: bytes, max_rows: int) -> tuple[int, int, np.ndarray]:
    """(width, height, first max_rows rows as uint8 [rows, width, channels]) of an 8-bit RGB/RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = ctype = 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            depth, ctype = body[8], body[9]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompressobj().decompress(idat, (width * bpp + 1) * max_rows)
    stride = width * bpp
    rows = min(max_rows, len(raw) // (stride + 1))
    out = np.zeros((rows, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(rows):
        f = raw[r * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=r * (stride + 1) + 1).astype(np.int64)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) % 256
        elif f == 1:
            cur = line.reshape(-1, bpp).cumsum(axis=0).reshape(-1) % 256
        else:
            cur = np.zeros(stride, dtype=np.int64)
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                if f == 3:
                    cur[i] = (line[i] + (a + b) // 2) % 256
                else:
                    c = prev[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                    cur[i] = (line[i] + pred) % 256
        out[r] = cur
        prev = cur
    return width, height, out.reshape(rows, width, bpp)


def _bars(dom: str, div_prefix: str) -> dict[str, int]:
    """Per rendered plotly figure whose div id starts with div_prefix: the number of bars with a size."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'id="(fig-[^"]+)"', dom)]
    out = {}
    for k, (pos, div) in enumerate(starts):
        if not div.startswith(div_prefix):
            continue
        seg = dom[pos : starts[k + 1][0] if k + 1 < len(starts) else len(dom)]
        n = 0
        for x0, y0, y1, x1 in re.findall(r'class="point"><path d="M([\d.]+),([\d.]+)V([\d.]+)H([\d.]+)', seg):
            n += float(y0) != float(y1) and float(x0) != float(x1)
        out[div] = n
    return out


@pytest.mark.ray
@pytest.mark.slow
def test_report_of_a_real_run_renders_in_headless_chromium(ray_session, tmp_path: Path) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium not installed (Debian: scripts/install_chromium.sh)")
    from pipeline.registry import stage_config_class
    from pipeline.runner import run

    stages = []  # the per-document filters that are installed and work with their defaults
    for stage_type in ("language", "gopher_quality", "c4_quality", "word_blocklist", "pii"):
        try:
            probe = _config(f"name: probe\n{SAMPLE_SOURCES}stages: [{{type: {stage_type}}}]\n")
            cfg = probe.stage_configs()[0]
            assert stage_config_class(stage_type)
            cfg.build().setup()
        except Exception:
            continue
        stages.append(f"  - {{type: {stage_type}}}\n")
    run_dir = tmp_path / "run"
    config = _config("name: e2e\nseed: 3\n" + SAMPLE_SOURCES + "stages:\n" + "".join(stages))
    manifest = run(config, str(run_dir))
    assert manifest["balanced"]
    report = Path(write_report(str(run_dir)))
    assert report == run_dir / "report.html"
    html = report.read_text(encoding="utf-8")
    assert_offline(html)

    png = tmp_path / "report.png"
    shot = subprocess.run(
        [*_chromium_cmd(exe, tmp_path / "profile1"), f"--screenshot={png}", "--window-size=1400,3000",
         report.as_uri()], capture_output=True, text=True, timeout=180)
    assert png.exists(), shot.stderr[-2000:]
    width, height, pixels = _png_pixels(png.read_bytes(), max_rows=900)
    assert (width, height) == (1400, 3000)
    rgb = pixels[..., :3].reshape(-1, 3)
    colors = np.unique(rgb, axis=0)
    non_white = float((rgb.min(axis=1) < 235).mean())
    assert len(colors) > 50 and non_white > 0.05, (len(colors), non_white)  # text, header, funnel bars

    dom = subprocess.run([*_chromium_cmd(exe, tmp_path / "profile2"), "--dump-dom", report.as_uri()],
                         capture_output=True, text=True, timeout=180).stdout
    assert 'id="funnel"' in dom and "js-plotly-plot" in dom and "main-svg" in dom
    funnel = _bars(dom, "fig-funnel")
    assert funnel["fig-funnel"] >= 2, funnel  # input records and the read stage at least
    hists = _bars(dom, "fig-hist-")
    assert hists and max(hists.values()) >= 1, hists
    assert_offline(dom)


def test_report_warns_of_input_lost_and_escapes_the_file_names(tmp_path: Path) -> None:
    import gzip

    body = b"".join(p.read_bytes() for p in sorted((REPO / "data" / "sample" / "en").glob("*.jsonl")))
    packed = gzip.compress(body)
    src = tmp_path / "in"
    src.mkdir()
    hostile = src / "<b onmouseover=x>cut.jsonl.gz"
    hostile.write_bytes(packed[: len(packed) // 2])
    run = tmp_path / "run"
    sources = f"sources:\n  - {{name: web, format: jsonl, paths: ['{src}/*.jsonl.gz']}}\n"
    manifest = build_run(f"name: lost\n{sources}stages: []\n", run)
    lost = manifest["input_lost"]
    assert lost["files"] == 1 and lost["bytes"] > 0 and lost["records_estimate"] >= 1
    html = Path(write_report(str(run))).read_text(encoding="utf-8")
    assert 'id="input-lost"' in html and "Input lost:" in html
    assert f"{lost['bytes']:,} bytes unread" in html
    assert f"about {lost['records_estimate']:,} record(s)" in html
    assert "&lt;b onmouseover=x&gt;cut.jsonl.gz" in html and "<b onmouseover" not in html
    # a run without loss has no warning, and its run table says so
    clean = tmp_path / "clean"
    sources = "sources:\n  - {name: web_en, format: jsonl, paths: ['../data/sample/en/*.jsonl']}\n"
    build_run(f"name: clean\n{sources}stages: []\n", clean)
    clean_html = Path(write_report(str(clean))).read_text(encoding="utf-8")
    assert 'id="input-lost"' not in clean_html and "<td>input lost</td><td>none</td>" in clean_html
