"""Build data/sample/multilingual/lingua_docs.jsonl from real sentences of ../shared/data/langid.

Documents are runs of consecutive real sentences (Leipzig corpora via lingua-py) in Chinese, English,
German, Japanese and Russian; a few are planted exact and near duplicates, and a few carry synthetic
PII (reserved example domains and fictitious numbers), so the sample run exercises language id,
dedup and PII removal on real text. Deterministic: same input, same file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LANGS = {"zh": 30, "en": 10, "de": 6, "ja": 6, "ru": 6}
SENTENCES_PER_DOC = 14


def main(shared: Path, out: Path) -> None:
    docs = []
    for lang, n_docs in LANGS.items():
        lines = [
            s
            for s in (shared / "langid/lingua_sentences" / f"{lang}.txt").read_text("utf-8").split("\n")
            if s
        ]
        sep = "" if lang in ("zh", "ja") else " "
        for i in range(n_docs):
            chunk = lines[i * SENTENCES_PER_DOC : (i + 1) * SENTENCES_PER_DOC]
            paras = [sep.join(chunk[j : j + 3]) for j in range(0, len(chunk), 3)]
            docs.append({"id": f"lingua-{lang}-{i:03d}", "lang": lang, "text": "\n".join(paras)})
    zh = [d for d in docs if d["lang"] == "zh"]
    en = [d for d in docs if d["lang"] == "en"]
    docs.append({"id": "lingua-zh-dup-exact", "lang": "zh", "text": zh[0]["text"]})
    near = zh[1]["text"].replace("。", "！", 1)
    docs.append({"id": "lingua-zh-dup-near", "lang": "zh", "text": near})
    en_near = en[0]["text"].replace(" the ", " a ", 1)
    docs.append({"id": "lingua-en-dup-near", "lang": "en", "text": en_near})
    en[1]["text"] += "\nContact the editor at jane.doe@example.com or +1 (415) 555-0132 for corrections."
    zh[2]["text"] += "\n如有疑问请联系张先生，电话13800138000，邮箱zhang.san@example.org。"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    print(f"wrote {len(docs)} documents to {out}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "data",
        root / "data/sample/multilingual/lingua_docs.jsonl",
    )
