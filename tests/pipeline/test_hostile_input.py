"""Hostile text from a crawl: control characters leave at read (counted), and nothing from the data
can drive the terminal of whoever runs `winnow inspect`."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import load_config
from pipeline.readers.controls import strip_controls
from pipeline.runner import run
from pipeline.sampling import format_document, inspect_stage, printable

ESC_TITLE = "\x1b]0;owned\x07"


def test_strip_controls_keeps_tab_newline_cr() -> None:
    assert strip_controls("a\tb\nc\r\nd") == ("a\tb\nc\r\nd", 0)
    assert strip_controls(f"x\x00y{ESC_TITLE}z\x0c") == ("xy]0;ownedz", 4)
    assert strip_controls("中文 text") == ("中文 text", 0)


def test_inspect_escapes_every_field() -> None:
    row = {"id": f"id{ESC_TITLE}", "source": "s\x9b31m", "url": f"http://x/{ESC_TITLE}", "stage": "st",
           "reason": "r", "attributes": json.dumps({"st": {"k": "\x1b[2J"}}), "text": f"t{ESC_TITLE}"}
    out = format_document(row, number=1, total=1, stage="st", chars=100, width=80)
    assert not any(ch in out for ch in "\x1b\x07\x9b")
    assert "\\x1b]0;owned\\x07" in out
    assert printable("plain") == "plain"


def test_controls_removed_at_read_and_counted(ray_session, tmp_path: Path) -> None:
    docs = [
        {"id": f"a{ESC_TITLE}", "text": f"Hello\x00 world, a page with a NUL.{ESC_TITLE}",
         "url": f"http://example.com/{ESC_TITLE}"},
        {"id": "b", "text": "\x00\x00\x00"},
        {"id": "c", "text": "Clean text\twith a tab.\n"},
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (tmp_path / "c.yaml").write_text(
        "name: hostile\nsources: [{name: web, format: jsonl, paths: [in.jsonl], url_field: url}]\n"
        "stages: []\n"
    )
    manifest = run(load_config(tmp_path / "c.yaml"), str(tmp_path / "run"))
    read = manifest["stages"][0]
    assert read["counters"]["control_chars_removed"] == 1 + 2 * 2 + 3
    assert read["counters"]["docs_with_control_chars"] == 2
    assert read["sources"]["web"]["rejected"] == {"empty_text": 1}
    files = sorted((tmp_path / "run" / "00_read").glob("*.parquet"))
    rows = [r for p in files for r in pq.read_table(p).to_pylist()]
    want = ["Hello world, a page with a NUL.]0;owned", "Clean text\twith a tab.\n"]
    assert [r["text"] for r in rows] == want
    assert rows[0]["url"] == "http://example.com/]0;owned"
    shown = inspect_stage(str(tmp_path / "run"), "read", kept=True)
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b]0;owned\\x07" in shown  # the id
