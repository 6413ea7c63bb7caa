"""URL block lists (UT1 format): blocked domains with all their subdomains, blocked URLs, banned words.

UT1 (Université Toulouse 1 Capitole) ships one folder per category, each with a `domains` file (one
domain per line; a domain blocks all its subdomains) and a `urls` file (`host/path` without scheme; an
entry blocks that page and everything below it). Lists reach millions of entries (the adult
category), so entries are kept as sorted 64-bit xxh3 hashes in a numpy array (10 bytes each with the
list index, not ~100 as a Python set of str). A URL's candidates (its host and each parent domain;
its host/path prefixes) are hashed and a whole batch is looked up with one vectorised binary search.
A false match needs a 64-bit hash collision: about 1 in 10^12 lookups against a 5M-entry list.
"""

from __future__ import annotations

import contextlib
import os
import re
from array import array
from collections.abc import Iterable, Iterator
from typing import Any, Literal
from urllib.parse import urlsplit

import ahocorasick
import numpy as np
import xxhash
from pydantic import Field, model_validator

from pipeline.schema import Document
from pipeline.step import ConfigPath, DocumentStep, StageConfig

_TOKEN_SPLIT = re.compile(r"[\W_]+")


def _hash(s: str) -> int:
    return xxhash.xxh3_64_intdigest(s.encode("utf-8", "surrogatepass"))


class HashedSet:
    """A compact, read-only string set with a source label per entry (first source listed wins)."""

    def __init__(self, keyed: Iterable[tuple[str, int]]) -> None:
        hashes = array("Q")
        sources = array("H")
        for key, source in keyed:
            hashes.append(_hash(key))
            sources.append(source)
        h = np.frombuffer(hashes, dtype=np.uint64) if hashes else np.zeros(0, np.uint64)
        s = np.frombuffer(sources, dtype=np.uint16) if sources else np.zeros(0, np.uint16)
        order = np.argsort(h, kind="stable")
        h, s = h[order], s[order]
        first = np.ones(len(h), dtype=bool)
        first[1:] = h[1:] != h[:-1]
        self.hashes = h[first]
        self.sources = s[first]

    def __len__(self) -> int:
        return len(self.hashes)

    def get(self, key: str) -> int | None:
        """Source index of `key`, or None."""
        src = int(self.lookup(np.array([_hash(key)], dtype=np.uint64))[0])
        return None if src < 0 else src

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Source index per hash (-1 when absent): one vectorised binary search for a whole batch."""
        if not len(self.hashes) or not len(hashes):
            return np.full(len(hashes), -1, dtype=np.int32)
        i = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[i] == hashes, self.sources[i].astype(np.int32), -1)


def normalize_domain(entry: str) -> str:
    """A domain list entry as matched: lowercase, no leading '*.'/'.' or trailing '.'."""
    return entry.strip().lower().removeprefix("*.").strip(".")


def normalize_url_entry(entry: str) -> str:
    """A URL list entry as matched: lowercase `host/path?query`, no scheme, no 'www.', no trailing '/?'."""
    e = entry.strip().lower()
    if "://" in e:
        e = e.split("://", 1)[1]
    return e.removeprefix("www.").rstrip("/?")


def read_entries(path: str) -> Iterator[str]:
    """Non-blank, non-comment lines of a list file, streamed (lists can be hundreds of MB)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            s = line.strip()
            if s and not s.startswith("#"):
                yield s


def split_url(url: str) -> tuple[str, str, str] | None:
    """(host, path, query) of a URL, lowercased, host in IDNA (punycode) form; None if unparseable."""
    u = url.strip().removeprefix("<").removesuffix(">")  # WARC/1.0 writes Target-URI as <uri>
    if not u:
        return None
    if "://" not in u:
        u = "http://" + u.lstrip("/")
    try:
        parts = urlsplit(u)
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.strip(".")
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # not IDNA-encodable: match the Unicode host as is
            host = host.encode("idna").decode("ascii")
    return host, parts.path.lower(), parts.query.lower()


_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _is_ip(host: str) -> bool:
    """IPv4 dotted quad or IPv6 (urlsplit's hostname has no brackets but keeps the colons)."""
    return ":" in host or _IPV4.fullmatch(host) is not None


def host_candidates(host: str) -> list[str]:
    """The host and every parent domain (a.b.c.com, b.c.com, c.com, com); an IP only as itself."""
    if _is_ip(host):
        return [host]
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def url_candidates(host: str, path: str, query: str) -> list[str]:
    """`host/path` prefixes at '/' boundaries, then the full URL with its query, all without 'www.'."""
    acc = host.removeprefix("www.")
    out = [acc]
    for seg in path.split("/"):
        if seg:
            acc = f"{acc}/{seg}"
            out.append(acc)
    if query:
        full = f"{host.removeprefix('www.')}{path}?{query}".rstrip("/?")
        if full != out[-1]:
            out.append(full)
    return out


class UrlBlocklistFilter(DocumentStep):
    """Drop documents whose URL is on a domain or URL block list or contains a banned word."""

    def __init__(self, config: UrlBlocklistConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.stage_name
        self.sources: list[str] = []
        self._domains: HashedSet | None = None
        self._urls: HashedSet | None = None
        self._words: frozenset[str] = frozenset()
        self._word_automaton: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # Lists are loaded per actor in setup(); only the config travels.
        state = self.__dict__.copy()
        state.update(sources=[], _domains=None, _urls=None, _words=frozenset(), _word_automaton=None)
        return state

    def _list_files(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(source label, file) pairs for domain lists and URL lists, in config order."""
        cfg = self.config
        domain_files: list[tuple[str, str]] = []
        url_files: list[tuple[str, str]] = []
        for cat in cfg.categories:
            folder = os.path.join(cfg.ut1_dir or "", cat)
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"{self.name}: UT1 category folder not found: {folder}")
            found = False
            for kind, bucket in (("domains", domain_files), ("urls", url_files)):
                f = os.path.join(folder, kind)
                if os.path.isfile(f):
                    bucket.append((cat, f))
                    found = True
            if not found:
                raise FileNotFoundError(f"{self.name}: {folder} has neither a 'domains' nor a 'urls' file")
        for label, files, bucket in (("domain_files", cfg.domain_files, domain_files),
                                     ("url_files", cfg.url_files, url_files)):
            for f in files:
                if not os.path.isfile(f):
                    raise FileNotFoundError(f"{self.name}: {label} entry not found: {f}")
                bucket.append((os.path.basename(f), f))
        return domain_files, url_files

    def setup(self) -> None:
        if self._domains is not None:
            return
        domain_files, url_files = self._list_files()
        labels: dict[str, int] = {}

        def source(label: str) -> int:
            return labels.setdefault(label, len(labels))

        def domains() -> Iterator[tuple[str, int]]:
            for label, f in domain_files:
                idx = source(label)
                for e in read_entries(f):
                    yield normalize_domain(e), idx
            idx = source("config")
            for e in self.config.domains:
                yield normalize_domain(e), idx

        def urls() -> Iterator[tuple[str, int]]:
            for label, f in url_files:
                idx = source(label)
                for e in read_entries(f):
                    yield normalize_url_entry(e), idx

        self._domains = HashedSet(domains())
        self._urls = HashedSet(urls())
        self.sources = list(labels)
        words = [w.strip().lower() for w in self.config.banned_words if w.strip()]
        self._words = frozenset(words)
        if words and self.config.banned_word_match == "substring":
            automaton = ahocorasick.Automaton()
            for w in sorted(self._words):
                automaton.add_word(w, w)
            automaton.make_automaton()
            self._word_automaton = automaton

    def _banned_word(self, host: str, path: str, query: str) -> str | None:
        if not self._words:
            return None
        text = f"{host}{path}?{query}" if query else f"{host}{path}"
        if self._word_automaton is not None:
            best: tuple[int, int, str] | None = None
            for end, w in self._word_automaton.iter(text):
                key = (end - len(w) + 1, -len(w), w)
                if best is None or key < best:
                    best = key
            return best[2] if best else None
        for tok in _TOKEN_SPLIT.split(text):
            if tok in self._words:
                return tok
        return None

    def process(self, doc: Document) -> str | None:
        return self.process_batch([doc])[0]

    def process_batch(self, docs: list[Document]) -> list[str | None]:
        """Parse every URL, then look all candidates up in one vectorised search per list."""
        if self._domains is None:
            self.setup()
        assert self._domains is not None and self._urls is not None
        plans: list[tuple[tuple[str, str, str], list[str], list[str]] | None] = []
        dom_keys: list[int] = []
        url_keys: list[int] = []
        for doc in docs:
            if not doc.url:
                self.count("no_url")
                plans.append(None)
                continue
            parts = split_url(doc.url)
            if parts is None:
                self.count("unparseable_url")
                plans.append(None)
                continue
            doms = host_candidates(parts[0]) if self.config.match_subdomains else [parts[0]]
            urls = url_candidates(*parts)
            dom_keys.extend(_hash(c) for c in doms)
            url_keys.extend(_hash(c) for c in urls)
            plans.append((parts, doms, urls))
        dom_src = self._domains.lookup(np.array(dom_keys, dtype=np.uint64)).tolist()
        url_src = self._urls.lookup(np.array(url_keys, dtype=np.uint64)).tolist()
        reasons: list[str | None] = []
        di = ui = 0
        for doc, plan in zip(docs, plans, strict=True):
            if plan is None:
                reasons.append(None)
                continue
            parts, doms, urls = plan
            reason, matched, source = None, "", ""
            for j, cand in enumerate(doms):
                if dom_src[di + j] >= 0:
                    reason, matched, source = "url_blocked_domain", cand, self.sources[dom_src[di + j]]
                    break
            if reason is None:
                for j, cand in enumerate(urls):
                    if url_src[ui + j] >= 0:
                        reason, matched, source = "url_blocked_url", cand, self.sources[url_src[ui + j]]
                        break
            di += len(doms)
            ui += len(urls)
            if reason is None:
                word = self._banned_word(*parts)
                if word is not None:
                    reason, matched, source = "url_banned_word", word, "banned_words"
            if reason is not None:
                doc.attributes[self.name] = {"matched": matched, "list": source}
            reasons.append(reason)
        return reasons


class UrlBlocklistConfig(StageConfig):
    """UT1-format domain and URL block lists, plus banned words in URLs."""

    type: Literal["url_blocklist"]
    ut1_dir: ConfigPath | None = Field(
        None, description="A UT1 download's category root (the folder holding adult/, gambling/, ...)."
    )
    categories: list[str] = Field(
        default_factory=list,
        description="UT1 category folders to load from ut1_dir; each one's 'domains' and 'urls' files.",
    )
    domain_files: list[ConfigPath] = Field(
        default_factory=list, description="More domain lists, one domain per line (blocks subdomains too)."
    )
    url_files: list[ConfigPath] = Field(
        default_factory=list, description="More URL lists, 'host/path' per line (blocks pages below too)."
    )
    domains: list[str] = Field(default_factory=list, description="Domains blocked inline (with subdomains).")
    match_subdomains: bool = Field(True, description="A listed domain also blocks all its subdomains.")
    banned_words: list[str] = Field(
        default_factory=list, description="Words that block a URL containing them."
    )
    banned_word_match: Literal["token", "substring"] = Field(
        "token",
        description="token: a URL token (split on non-alphanumerics) equals the word; substring: the word "
        "occurs anywhere in the URL (catches 'freeporn' but also 'sussex' for 'sex').",
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> UrlBlocklistConfig:
        if self.categories and not self.ut1_dir:
            raise ValueError("categories need ut1_dir (the folder holding the category folders)")
        if not (self.categories or self.domain_files or self.url_files or self.domains or self.banned_words):
            raise ValueError(
                "nothing to block: set ut1_dir + categories, domain_files, url_files, domains or banned_words"
            )
        return self

    def build(self) -> UrlBlocklistFilter:
        return UrlBlocklistFilter(self)
