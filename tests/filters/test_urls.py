"""URL block lists: real UT1 lists (subdomains, look-alikes, URL prefixes, IDN) and crafted lists."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from filters.urls import (
    HashedSet,
    UrlBlocklistConfig,
    UrlBlocklistFilter,
    host_candidates,
    split_url,
    url_candidates,
)
from pipeline.config import ConfigError, parse_config
from pipeline.schema import Document

SOURCE = "sources: [{name: a, format: jsonl, paths: [x.jsonl]}]\n"
CATEGORIES = ["adult", "agressif", "dating", "drogue", "gambling", "lingerie", "mixed_adult"]


def make(**kw) -> UrlBlocklistFilter:
    f = UrlBlocklistConfig(type="url_blocklist", **kw).build()
    f.setup()
    return f


def check(f: UrlBlocklistFilter, url: str | None) -> tuple[str | None, dict]:
    d = Document(id="1", text="some text", source="test", url=url)
    reason = f.process(d)
    return reason, d.attributes.get(f.name, {})


@pytest.fixture(scope="module")
def ut1(shared_data) -> Path:
    return shared_data / "blocklists" / "ut1_partial"


@pytest.fixture(scope="module")
def real(ut1) -> UrlBlocklistFilter:
    return make(ut1_dir=str(ut1), categories=CATEGORIES)


def listed(ut1: Path, category: str, kind: str) -> set[str]:
    return set((ut1 / category / kind).read_text(encoding="utf-8").split("\n"))


def test_real_domain_and_its_subdomains(real, ut1):
    gambling = listed(ut1, "gambling", "domains")
    assert "888casino.com" in gambling and "casino.com" in gambling
    for url in [
        "http://888casino.com/",
        "https://www.888casino.com/promo?x=1",
        "https://de.promo.888casino.com:8443/a/b",
        "HTTP://888CASINO.COM./",
        "888casino.com/no-scheme",
    ]:
        assert check(real, url) == ("url_blocked_domain", {"matched": "888casino.com", "list": "gambling"})


def test_real_look_alikes_are_not_blocked(real, ut1):
    gambling = listed(ut1, "gambling", "domains")
    look_alikes = ["not888casino.com", "888casino.com.example.org", "888casino.co", "my888casino.com"]
    assert not gambling & set(look_alikes)  # the look-alikes are really absent from the list
    for host in look_alikes:
        assert check(real, f"https://{host}/page") == (None, {}), host
    # "casino.com" is listed: its subdomain is blocked, a domain merely ending in "casino.com" is not
    assert check(real, "https://www.casino.com/")[0] == "url_blocked_domain"
    assert check(real, "https://888casino-bonus.net/")[0] is None


def test_real_ip_domain_entries(real, ut1):
    assert "118.123.4.224" in listed(ut1, "agressif", "domains")
    assert check(real, "http://118.123.4.224/x")[1] == {"matched": "118.123.4.224", "list": "agressif"}
    assert check(real, "http://18.123.4.224/")[0] is None


def test_real_idn_domain(real, ut1):
    assert "xn--pacincia-xl-qbb.com" in listed(ut1, "dating", "domains")
    reason, attrs = check(real, "https://www.paciência-xl.com/perfil")
    assert reason == "url_blocked_domain" and attrs["matched"] == "xn--pacincia-xl-qbb.com"
    assert check(real, "https://знакомства.онлайн/")[0] == "url_blocked_domain"


def test_real_url_entries_block_the_page_and_below(real, ut1):
    assert "astrolabio.net/casino/" in listed(ut1, "gambling", "urls")
    assert check(real, "http://astrolabio.net/casino/")[0] == "url_blocked_url"
    assert check(real, "https://www.astrolabio.net/casino/roulette.html?p=2") == (
        "url_blocked_url",
        {"matched": "astrolabio.net/casino", "list": "gambling"},
    )
    assert check(real, "http://astrolabio.net/casinos")[0] is None  # path prefix on '/' boundaries only
    assert check(real, "http://astrolabio.net/")[0] is None
    # entries with a query string, and mixed case in the list
    assert check(real, "https://brujildasexy.es/?v=da7f24de4c8e")[0] == "url_blocked_url"
    assert check(real, "https://adultcontent.quora.com/Older-woman-I-fuck")[0] == "url_blocked_url"


def test_documents_without_url_pass_and_are_counted(ut1):
    f = make(ut1_dir=str(ut1), categories=["gambling"])
    assert check(f, None) == (None, {})
    assert check(f, "") == (None, {})
    assert check(f, "http://[::1/broken") == (None, {})
    assert f.counters == {"no_url": 2, "unparseable_url": 1}


def test_banned_words_token_and_substring():
    tok = make(banned_words=["porn", "XXX"])
    assert check(tok, "https://example.com/free-porn/videos") == (
        "url_banned_word",
        {"matched": "porn", "list": "banned_words"},
    )
    assert check(tok, "https://xxx.example.com/")[0] == "url_banned_word"
    assert check(tok, "https://example.com/freeporn")[0] is None
    sub = make(banned_words=["porn", "sex"], banned_word_match="substring")
    assert check(sub, "https://example.com/freeporn")[1]["matched"] == "porn"
    assert check(sub, "https://www.sussex.ac.uk/")[0] == "url_banned_word"  # why token is the default
    assert check(sub, "https://example.com/garden")[0] is None


def test_crafted_lists_files_and_inline(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "domains").write_text("# comment\nBadSite.com\n*.wild.org\n\n", encoding="utf-8")
    (tmp_path / "cat" / "urls").write_text("http://www.host.com/a/b/\n", encoding="utf-8")
    (tmp_path / "more.txt").write_text("other.net\n", encoding="utf-8")
    cfg = parse_config(
        SOURCE + "stages:\n  - {type: url_blocklist, ut1_dir: ., categories: [cat], domain_files: [more.txt],"
        " domains: [inline.io]}\n",
        "t.yaml",
        str(tmp_path),
    )
    f = cfg.stage_configs()[0].build()
    f.setup()
    blocked = ("url_blocked_domain", {"matched": "badsite.com", "list": "cat"})
    assert check(f, "https://a.b.badsite.com/x") == blocked
    assert check(f, "https://notbadsite.com/")[0] is None
    assert check(f, "https://x.wild.org/")[1]["matched"] == "wild.org"
    assert check(f, "https://other.net/")[1] == {"matched": "other.net", "list": "more.txt"}
    assert check(f, "https://inline.io/")[1] == {"matched": "inline.io", "list": "config"}
    assert check(f, "https://host.com/a/b/c")[1] == {"matched": "host.com/a/b", "list": "cat"}
    assert check(f, "https://host.com/a")[0] is None
    no_sub = make(domains=["badsite.com"], match_subdomains=False)
    assert check(no_sub, "https://badsite.com/")[0] == "url_blocked_domain"
    assert check(no_sub, "https://www.badsite.com/")[0] is None


def test_first_listed_category_wins(tmp_path):
    for cat in ("one", "two"):
        (tmp_path / cat).mkdir()
        (tmp_path / cat / "domains").write_text("shared.com\n", encoding="utf-8")
    f = make(ut1_dir=str(tmp_path), categories=["two", "one"])
    assert check(f, "http://shared.com/")[1]["list"] == "two"


def test_config_errors(tmp_path):
    with pytest.raises(ValidationError, match="nothing to block"):
        UrlBlocklistConfig(type="url_blocklist")
    with pytest.raises(ValidationError, match="ut1_dir"):
        UrlBlocklistConfig(type="url_blocklist", categories=["adult"])
    with pytest.raises(FileNotFoundError, match="nope"):
        make(ut1_dir=str(tmp_path), categories=["nope"])
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        make(domain_files=[str(tmp_path / "missing.txt")])
    with pytest.raises(ConfigError, match="banned_word_match"):
        stage = "stages:\n  - {type: url_blocklist, banned_word_match: regex}\n"
        parse_config(SOURCE + stage, "t.yaml", "/tmp")


def test_url_helpers():
    parts = split_url("HTTPS://User:pw@Www.Example.COM:8080/Path/X?Q=1#frag")
    assert parts == ("www.example.com", "/path/x", "q=1")
    assert split_url("<https://example.org/a>") == ("example.org", "/a", "")  # WARC/1.0 style
    assert host_candidates("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com", "com"]
    assert host_candidates("10.0.0.1") == ["10.0.0.1"]
    assert url_candidates("www.h.com", "/a/b/", "x=1") == ["h.com", "h.com/a", "h.com/a/b", "h.com/a/b/?x=1"]


def test_hashed_set_dedupes_and_keeps_first_source():
    s = HashedSet([("a.com", 0), ("b.com", 1), ("a.com", 2)])
    assert len(s) == 2 and s.get("a.com") == 0 and s.get("b.com") == 1 and s.get("c.com") is None
    assert HashedSet([]).get("a.com") is None


def test_pickle_reloads_lists(real):
    clone = pickle.loads(pickle.dumps(real))
    assert clone._domains is None
    assert check(clone, "http://888casino.com/")[0] == "url_blocked_domain"
