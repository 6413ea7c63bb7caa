"""Remove (or mask) training text that shares an n-gram with an evaluation set.

Evaluation examples are cut into n-grams of `n` normalised words (CJK scripts count one character
as one word), each n-gram is hashed to 64 bits, and the hashes go into one sorted numpy array with a
parallel array naming the example each came from. Training documents are cut the same way and looked
up with `np.searchsorted`. The index is built once and cached on disk under a key made of the eval
files' contents and every parameter that changes the hashes; actors memory-map the cached arrays, so
the operating system shares one copy per machine however many actors run there.

Exact up to hash collisions: two different n-grams collide with probability about 2^-62, so a
document of 1,000 n-grams checked against 100 million eval n-grams is falsely flagged with
probability about 2.2e-8.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
import regex
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from pipeline.readers.records import iter_records
from pipeline.schema import Document
from pipeline.step import ConfigPath, DocumentStep, StageConfig

INDEX_FORMAT = 1  # bump when tokenisation or hashing changes: old caches then no longer match

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}"
# A token is one CJK character or a run of word characters (letters, marks, digits) of other scripts.
# Punctuation, symbols and underscores separate tokens and are dropped.
_TOKEN = regex.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
# Faster patterns giving the same tokens on the texts they are used for.
_TOKEN_NO_CJK = regex.compile(r"[^\W_]+")
_TOKEN_ASCII = re.compile(r"[a-z0-9]+")  # on lowercased ASCII text
# A superset of the CJK characters above, as code point ranges, so the check runs on the fast `re`.
_MAYBE_CJK = re.compile(
    "[\u02ea\u02eb\u2e80-\u2fdf\u3005-\u31ff\u32d0-\u3357\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9d\U00016fe2-\U00016ff6\U0001aff0-\U0001b16f\U0001f200\U00020000-\U0003347f]"
)
_NON_WORD = regex.compile(r"[\W_]+")


def _multipliers(n: int) -> np.ndarray:
    """Fixed odd 64-bit constants, one per position in the n-gram (derived, not random)."""
    consts = [xxhash.xxh3_64_intdigest(f"winnow-ngram-{j}".encode()) | 1 for j in range(n)]
    return np.array(consts, dtype=np.uint64)


def _normalise_token(tok: str) -> str:
    """NFKC, lowercase, and drop what NFKC turned into punctuation (e.g. '½' -> '1⁄2' -> '12')."""
    if tok.isascii():
        return tok.lower()
    tok = unicodedata.normalize("NFKC", tok).lower()
    return _NON_WORD.sub("", tok) if _NON_WORD.search(tok) else tok


def _pattern(text: str) -> Any:
    if text.isascii():
        return _TOKEN_ASCII
    return _TOKEN if _MAYBE_CJK.search(text) else _TOKEN_NO_CJK


def _lowered(text: str) -> str | None:
    """The lowercased text when tokens can be read from it directly (same length, already NFKC)."""
    if text.isascii():
        return text.lower()
    if unicodedata.is_normalized("NFKC", text):
        low = text.lower()
        if len(low) == len(text):  # no one-to-many case mapping, so offsets stay valid
            return low
    return None


def tokenize(text: str) -> list[str]:
    """Normalised tokens of a text: the unit n-grams are counted in."""
    low = _lowered(text)
    if low is not None:
        return _pattern(low).findall(low)
    return [t for t in map(_normalise_token, _pattern(text).findall(text)) if t]


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans in `text` of the tokens `tokenize(text)` returns, one for one."""
    low = _lowered(text)
    if low is not None:
        return [m.span() for m in _pattern(low).finditer(low)]
    return [m.span() for m in _pattern(text).finditer(text) if _normalise_token(m.group())]


class _TokenHashes(dict):
    """token -> 64-bit xxh3, memoised: web text is Zipfian, so most lookups skip the hashing."""

    def __missing__(self, token: str) -> int:
        value = self[token] = xxhash.xxh3_64_intdigest(token.encode())
        return value


_HASHES = _TokenHashes()
_HASHES_MAX = 500_000  # entries (~60 MB at most); cleared when full, so memory stays flat


def token_hashes(tokens: list[str]) -> np.ndarray:
    if len(_HASHES) > _HASHES_MAX:
        _HASHES.clear()
    return np.fromiter(map(_HASHES.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def window_hashes(hashes: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """Hash of every window of len(mult) consecutive tokens: sum of token hash x position constant.

    Arithmetic wraps modulo 2^64 (numpy arrays do not raise on overflow).
    """
    n = len(mult)
    m = len(hashes) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    out = hashes[:m] * mult[0]
    for j in range(1, n):
        out += hashes[j : j + m] * mult[j]
    return out


class EvalSetConfig(BaseModel):
    """One evaluation set: files and the fields whose text must not leak into training data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    paths: list[ConfigPath] = Field(
        min_length=1, description="JSONL (.jsonl, .jsonl.gz) or Parquet files, or globs of them."
    )
    text_fields: list[str] = Field(
        ["text"],
        min_length=1,
        description="Fields holding eval text; 'a.b' reaches into nested objects; a list value counts "
        "each string in it. Each field is cut into n-grams separately.",
    )


class DecontaminateConfig(StageConfig):
    """Drop or mask training documents sharing an n-gram with an evaluation example."""

    type: Literal["decontaminate"] = "decontaminate"
    written_paths: ClassVar[frozenset[str]] = frozenset({"cache_dir"})
    eval_sets: list[EvalSetConfig] = Field(min_length=1, description="Evaluation sets to protect.")
    n: int = Field(13, ge=3, le=64, description="Words per n-gram (CJK: characters).")
    mode: Literal["remove", "mask"] = Field(
        "remove", description="remove: reject as 'contaminated'; mask: replace overlapping spans."
    )
    mask: str = Field("[REDACTED]", description="Text that replaces each overlapping span in mask mode.")
    cache_dir: ConfigPath | None = Field(
        None,
        description="Folder for the built n-gram index (default $WINNOW_CACHE_DIR/decontaminate or "
        "~/.cache/winnow/decontaminate). A folder shared by all nodes means one build per cluster.",
    )

    def check_files(self) -> list[str]:
        problems = super().check_files()
        for es in self.eval_sets:
            try:
                _expand(list(es.paths))
            except FileNotFoundError as exc:
                problems.append(f"eval set {es.name}: {exc}")
        return problems

    def build(self) -> DecontaminateStep:
        return DecontaminateStep(self)


# ---------------------------------------------------------------------------------------------------
# Reading eval sets


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if glob.has_magic(p):
            found = sorted(glob.glob(p, recursive=True))
            if not found:
                raise FileNotFoundError(f"decontaminate: glob matched no files: {p}")
            out.extend(found)
        elif not os.path.isfile(p):
            raise FileNotFoundError(f"decontaminate: eval file not found: {p}")
        else:
            out.append(p)
    return out


def _field_texts(record: dict[str, Any], field: str, where: str) -> list[str]:
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            keys = ", ".join(sorted(record)) if isinstance(record, dict) else type(record).__name__
            raise ValueError(f"{where}: eval record has no field '{field}' (keys: {keys})")
        value = value[part]
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ValueError(f"{where}: field '{field}' is {type(value).__name__}, expected text or a list of texts")


def iter_eval_examples(files: list[str], fields: list[str]) -> Iterator[list[str]]:
    """Yield, per example in file order, the texts of its fields (streamed, never all in memory)."""
    top = sorted({f.split(".")[0] for f in fields})
    for path in files:
        for where, record in iter_records(path, top):
            yield [t for f in fields for t in _field_texts(record, f, where)]


# ---------------------------------------------------------------------------------------------------
# The index


@dataclass
class EvalIndex:
    """Sorted unique n-gram hashes, the example each first came from, and the eval set table."""

    hashes: np.ndarray  # uint64, sorted, unique
    owners: np.ndarray  # uint32: global example number of the first example holding that n-gram
    set_names: list[str]
    set_starts: np.ndarray  # int64: global example number where each set starts
    info: dict[str, Any]

    def lookup(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boolean hit mask over `query` and, for hits, their positions in `hashes`."""
        if len(self.hashes) == 0 or len(query) == 0:
            return np.zeros(len(query), dtype=bool), np.empty(0, dtype=np.int64)
        # Sorted keys make numpy's binary searches walk the index in order: ~8x fewer cache misses on
        # an index of millions, which outweighs the argsort.
        order = np.argsort(query)
        idx_sorted = np.searchsorted(self.hashes, query[order])
        idx = np.empty_like(idx_sorted)
        idx[order] = idx_sorted
        idx[idx == len(self.hashes)] = 0
        hit = self.hashes[idx] == query
        return hit, idx[hit]

    def example(self, pos: int) -> tuple[str, int]:
        owner = int(self.owners[pos])
        s = int(np.searchsorted(self.set_starts, owner, side="right")) - 1
        return self.set_names[s], owner - int(self.set_starts[s])


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def index_key(config: DecontaminateConfig) -> tuple[str, dict[str, Any]]:
    """Cache key: hash of the eval files' bytes and every parameter the hashes depend on."""
    desc: dict[str, Any] = {"format": INDEX_FORMAT, "n": config.n, "sets": []}
    for s in config.eval_sets:
        files = _expand(list(s.paths))
        desc["sets"].append(
            {
                "name": s.name,
                "text_fields": list(s.text_fields),
                "files": [{"name": os.path.basename(f), "sha256": _file_sha256(f)} for f in files],
            }
        )
    blob = json.dumps(desc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32], desc


def build_index(config: DecontaminateConfig) -> EvalIndex:
    """Read every eval set once and build the sorted hash array (memory ~12 bytes per n-gram, x2 in sort)."""
    mult = _multipliers(config.n)
    hash_chunks: list[np.ndarray] = []
    owner_chunks: list[np.ndarray] = []
    names: list[str] = []
    starts: list[int] = []
    per_set: dict[str, dict[str, int]] = {}
    owner = 0
    for s in config.eval_sets:
        names.append(s.name)
        starts.append(owner)
        stats = {"examples": 0, "ngrams": 0, "short_texts": 0}
        for texts in iter_eval_examples(_expand(list(s.paths)), list(s.text_fields)):
            for text in texts:
                w = window_hashes(token_hashes(tokenize(text)), mult)
                if len(w) == 0:
                    stats["short_texts"] += int(bool(text.strip()))
                    continue
                hash_chunks.append(w)
                owner_chunks.append(np.full(len(w), owner, dtype=np.uint32))
                stats["ngrams"] += len(w)
            owner += 1
            stats["examples"] += 1
        if stats["ngrams"] == 0:
            raise ValueError(
                f"decontaminate: eval set '{s.name}' gives no {config.n}-word n-grams "
                f"({stats['examples']} examples, fields {list(s.text_fields)}); check the fields or lower n"
            )
        per_set[s.name] = stats
    if owner >= 2**32:
        raise ValueError("decontaminate: more than 2^32 eval examples are not supported")
    hashes = np.concatenate(hash_chunks)
    owners = np.concatenate(owner_chunks)
    del hash_chunks, owner_chunks
    order = np.argsort(hashes, kind="stable")  # stable: the first example holding an n-gram wins
    hashes = hashes[order]
    owners = owners[order]
    del order
    keep = np.ones(len(hashes), dtype=bool)
    keep[1:] = hashes[1:] != hashes[:-1]
    info = {"n": config.n, "sets": per_set, "unique_ngrams": int(keep.sum()), "format": INDEX_FORMAT}
    return EvalIndex(hashes[keep], owners[keep], names, np.array(starts, dtype=np.int64), info)


def default_cache_dir() -> str:
    base = os.environ.get("WINNOW_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "winnow")
    return os.path.join(base, "decontaminate")


def load_or_build_index(config: DecontaminateConfig) -> EvalIndex:
    """The cached index for this config, building it under a file lock if no process has yet."""
    key, desc = index_key(config)
    folder = Path(config.cache_dir or default_cache_dir())
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / key
    meta_path = base.with_suffix(".json")
    if not meta_path.exists():
        with open(base.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if not meta_path.exists():  # another actor may have built it while we waited
                    index = build_index(config)
                    for part, arr in (("hashes", index.hashes), ("owners", index.owners)):
                        tmp = folder / f"{key}.{part}.{os.getpid()}.tmp.npy"
                        np.save(tmp, arr)
                        os.replace(tmp, folder / f"{key}.{part}.npy")
                    meta = {**index.info, "set_names": index.set_names,
                            "set_starts": index.set_starts.tolist(), "key": desc}
                    tmp_meta = folder / f"{key}.{os.getpid()}.tmp.json"
                    tmp_meta.write_text(json.dumps(meta, sort_keys=True, indent=1))
                    os.replace(tmp_meta, meta_path)  # written last: its presence means the index is complete
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    meta = json.loads(meta_path.read_text())
    return EvalIndex(
        np.load(folder / f"{key}.hashes.npy", mmap_mode="r"),
        np.load(folder / f"{key}.owners.npy", mmap_mode="r"),
        list(meta["set_names"]),
        np.array(meta["set_starts"], dtype=np.int64),
        {k: meta[k] for k in ("n", "sets", "unique_ngrams", "format")},
    )


# ---------------------------------------------------------------------------------------------------
# The step


def merge_windows(starts: list[int], n: int) -> list[tuple[int, int]]:
    """Token ranges [first, last] covered by matched windows; touching ranges become one."""
    ranges: list[tuple[int, int]] = []
    for s in sorted(starts):
        if ranges and s <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], s + n - 1))
        else:
            ranges.append((s, s + n - 1))
    return ranges


class DecontaminateStep(DocumentStep):
    """Looks every n-gram of a batch of documents up in the eval index at once."""

    def __init__(self, config: DecontaminateConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.mult = _multipliers(config.n)
        self.index: EvalIndex | None = None

    def setup(self) -> None:
        if self.index is None:
            self.index = load_or_build_index(self.config)

    def __getstate__(self) -> dict[str, Any]:
        """Ship the config, not the index: each actor memory-maps the cached file in setup()."""
        return {**self.__dict__, "index": None}

    def process(self, doc: Document) -> str | None:
        return self.process_batch([doc])[0]

    def process_batch(self, docs: list[Document]) -> list[str | None]:
        self.setup()
        assert self.index is not None
        n = self.config.n
        per_doc = [token_hashes(tokenize(d.text)) for d in docs]
        lengths = np.array([len(h) for h in per_doc], dtype=np.int64)
        if len(docs) == 0 or lengths.sum() < n:
            return [None] * len(docs)
        all_tokens = np.concatenate(per_doc)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        doc_of = np.repeat(np.arange(len(docs)), lengths)
        windows = window_hashes(all_tokens, self.mult)
        valid = np.flatnonzero(doc_of[: len(windows)] == doc_of[n - 1 :])  # windows inside one document
        hit, pos = self.index.lookup(windows[valid])
        starts = valid[hit]
        hits: dict[int, list[tuple[int, int]]] = {}
        for start, p in zip(starts.tolist(), pos.tolist(), strict=True):
            d = int(doc_of[start])
            hits.setdefault(d, []).append((start - int(offsets[d]), p))
        out: list[str | None] = [None] * len(docs)
        for d, found in hits.items():
            out[d] = self._handle(docs[d], found)
        return out

    def _handle(self, doc: Document, found: list[tuple[int, int]]) -> str | None:
        assert self.index is not None
        examples: list[tuple[str, int]] = []
        for _, p in found:
            ex = self.index.example(p)
            if ex not in examples:
                examples.append(ex)
        eval_set, example = examples[0]
        attrs: dict[str, Any] = {
            "eval_set": eval_set,
            "example": example,
            "matched_ngrams": len(found),
            "matches": [{"eval_set": s, "example": e} for s, e in examples[:10]],
        }
        self.count(f"matched_{eval_set}")
        if self.config.mode == "remove":
            doc.attributes[self.name] = attrs
            return "contaminated"
        spans = token_spans(doc.text)
        ranges = merge_windows([s for s, _ in found], self.config.n)
        pieces: list[str] = []
        cursor = 0
        masked_chars = 0
        for first, last in ranges:
            a, b = spans[first][0], spans[last][1]
            pieces += [doc.text[cursor:a], self.config.mask]
            masked_chars += b - a
            cursor = b
        pieces.append(doc.text[cursor:])
        doc.text = "".join(pieces)
        attrs["masked_spans"] = len(ranges)
        attrs["masked_chars"] = masked_chars
        doc.attributes[self.name] = attrs
        self.count("masked_docs")
        self.count("masked_spans", len(ranges))
        self.count("masked_chars", masked_chars)
        return None
