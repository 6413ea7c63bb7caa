"""Build the small models bundled in data/models from real public data in ../shared/data.

- `quality_sample.bin`: fastText quality classifier. Positives: the human-extracted article bodies of the
  article-extraction benchmark (MIT) and the CCNet-head documents of dolma's tests (Apache-2.0).
  Negatives: what is left of the same benchmark pages once the article lines are removed (menus,
  footers, share buttons), plus the full text of the HTML pages in the WARC samples (Apache-2.0).

    python scripts/make_sample_models.py [../shared/data]
"""

from __future__ import annotations

import glob
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def article_and_boilerplate_texts(data: Path) -> tuple[list[str], list[str]]:
    """(positives, negatives) as described in the module docstring, in a fixed order."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    bench = data / "web_text_en" / "article_extraction_benchmark"
    gold = json.loads((bench / "ground-truth.json").read_text(encoding="utf-8"))
    pos = [v["articleBody"] for _, v in sorted(gold.items())]
    for p in sorted(glob.glob(str(data / "web_text_en" / "dolma_tests" / "*.jsonl"))):
        pos += [json.loads(line)["text"] for line in Path(p).read_text(encoding="utf-8").split("\n") if line]
    neg = []
    for key, v in sorted(gold.items()):
        html = gzip.decompress((bench / "html" / f"{key}.html.gz").read_bytes())
        full = extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=False)
        article = {line.strip() for line in v["articleBody"].split("\n")}
        rest = "\n".join(line for line in full.split("\n") if line.strip() and line.strip() not in article)
        if rest.strip():
            neg.append(rest)
    for p in sorted(glob.glob(str(data / "cc_warc" / "*" / "*.warc.gz"))):
        with open(p, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                body = rec.reader.read()
                text = extract_plain_text(bytes_to_str(body, detect_encoding(body)), main_content=False)
                if len(text.strip()) > 50:
                    neg.append(text)
    return pos, neg


def write_jsonl(path: Path, texts: list[str]) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps({"text": t}) + "\n")
    return str(path)


def main(data: Path) -> None:
    pos, neg = article_and_boilerplate_texts(data)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-m", "pipeline.cli", "train-classifier",
            "--positive", write_jsonl(Path(tmp) / "pos.jsonl", pos),
            "--negative", write_jsonl(Path(tmp) / "neg.jsonl", neg),
            "--output", str(REPO / "data/models/quality_sample.bin"),
            "--seed", "0", "--dim", "16", "--bucket", "20000", "--word-ngrams", "2", "--min-count", "2",
        ]
        subprocess.run(cmd, check=True, cwd=REPO)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data")
