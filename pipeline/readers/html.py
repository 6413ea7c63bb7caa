"""HTML to plain text for WARC responses: decode the bytes once, then run one main-content extractor.

Two extractors are supported, chosen by name so a YAML config pins the behaviour:

- ``"trafilatura"`` (default): best quality on the article-extraction benchmark (token F1 0.965 vs
  0.932, mostly from higher precision: less navigation and boilerplate), about 10x slower than
  resiliparse but still ~90 pages/s per core. Numbers and the command are in ``docs/extractors.md``.
- ``"resiliparse"``: main-content heuristics in C++, ~10x faster; use it when extraction dominates
  the cost and downstream line filters / dedup clean the rest.

Both are deterministic: bytes are decoded by a fixed rule (BOM, then the transport charset hint, then
the HTML ``<meta charset>``, then uchardet), and trafilatura runs with ``deduplicate=False`` because
its dedup cache is process-global and would make one page's output depend on pages seen before it.
No network access happens: ``url`` is only passed to trafilatura as metadata.

Errors: ``extract_text`` returns ``""`` when the page has no extractable main content, and raises
:class:`ExtractionError` (one type, with a snake_case ``reason``) when the extractor itself fails on
malformed input. The caller turns either case into a rejected/quarantined record with its reason; an
unknown extractor name is a configuration error and raises ``ValueError``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5
from resiliparse.parse.html import HTMLTree

DEFAULT_EXTRACTOR = "trafilatura"
EXTRACTORS: tuple[str, ...] = ("winnow", "resiliparse", "trafilatura")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


# C0 controls other than tab/newline/CR, and the noncharacters U+FFFE/U+FFFF: never text, and lxml
# (inside trafilatura) rejects a whole page that contains one, silently returning nothing.
_CONTROL_CHARS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")

# resiliparse's main-content heuristic is quadratic in DOM depth (10k nested tags: ~2 s, 20k: ~9 s),
# and broken pages with thousands of unclosed tags exist. Deeper than this, extract all visible text.
_MAX_MAIN_CONTENT_DEPTH = 512
_TOO_DEEP = " > ".join(["*"] * _MAX_MAIN_CONTENT_DEPTH)


class ExtractionError(Exception):
    """The extractor failed on this page; ``reason`` is a short snake_case code for the rejected set."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def decode_html(data: bytes, encoding_hint: str | None = None) -> str:
    """Decode raw HTML bytes to str, never failing (undecodable bytes become U+FFFD).

    Order: a byte-order mark wins; then UTF-8 if the bytes are valid UTF-8 (legacy-encoded text is
    almost never valid UTF-8 by accident, while servers that label UTF-8 pages "iso-8859-1" are
    common); then the transport-layer charset (e.g. from the HTTP Content-Type header) if it decodes
    the bytes cleanly; then the page's own ``<meta charset>`` and uchardet detection. Labels are mapped
    with the WHATWG table, so "iso-8859-1" means windows-1252 as browsers read it.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if encoding_hint:
        hinted = map_encoding_to_html5(encoding_hint.strip().strip("\"'"), fallback_utf8=False)
        if hinted:
            try:
                return data.decode(hinted)
            except (UnicodeDecodeError, LookupError):
                pass
    detected = detect_encoding(data, from_html_meta=True)
    return bytes_to_str(data, detected, errors="replace")


def _clean_chars(html: str) -> str:
    """Drop NULs (usually UTF-16 read as 8-bit), turn other control characters into spaces, and
    replace lone surrogates (from ``surrogateescape`` decoding) with U+FFFD, which resiliparse would
    otherwise refuse."""
    if "\x00" in html:
        html = html.replace("\x00", "")
    html = _CONTROL_CHARS.sub(" ", html)
    try:
        html.encode("utf-8")
    except UnicodeEncodeError:
        html = html.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return html


def _resiliparse(html: str, url: str | None) -> str:
    # Flags: visible main-content text with paragraph breaks; drop comment sections, alt texts,
    # form fields, link targets and <noscript> (none of them are prose a model should learn from).
    tree = HTMLTree.parse(html)
    too_deep = tree.document is not None and tree.document.query_selector(_TOO_DEEP) is not None
    return extract_plain_text(
        tree,
        preserve_formatting=True,
        main_content=not too_deep,
        list_bullets=True,
        alt_texts=False,
        links=False,
        form_fields=False,
        noscript=False,
        comments=False,
    )


def _trafilatura(html: str, url: str | None) -> str:
    import trafilatura  # imported lazily: it pulls in lxml, justext and courlan (~0.5 s)

    text = trafilatura.extract(
        html,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        deduplicate=False,
        with_metadata=False,
        output_format="txt",
    )
    return text or ""


def _winnow(html: str, url: str | None) -> str:
    from pipeline.readers.main_content import extract_main_content

    return extract_main_content(html)


_IMPLEMENTATIONS: dict[str, Callable[[str, str | None], str]] = {
    "winnow": _winnow,
    "resiliparse": _resiliparse,
    "trafilatura": _trafilatura,
}


def prepare_html(html: bytes | str, encoding_hint: str | None = None) -> str:
    """Page bytes (or str) as the text every extractor is given: decoded, control characters out."""
    if isinstance(html, bytes | bytearray | memoryview):
        try:
            html = decode_html(bytes(html), encoding_hint)
        except Exception as exc:  # a failure here is a bug in a codec, but must not stop a run
            raise ExtractionError("html_decode_error", f"{type(exc).__name__}: {exc}") from exc
    elif not isinstance(html, str):
        raise TypeError(f"html must be bytes or str, not {type(html).__name__}")
    return _clean_chars(html)


def extract_text(
    html: bytes | str,
    extractor: str = DEFAULT_EXTRACTOR,
    *,
    url: str | None = None,
    encoding_hint: str | None = None,
) -> str:
    """Main-content plain text of one HTML page, stripped; ``""`` when nothing is extracted.

    ``html`` may be raw bytes (decoded with :func:`decode_html` using ``encoding_hint``, typically the
    HTTP charset) or an already decoded str. Raises :class:`ExtractionError` if the extractor crashes
    on the page and ``ValueError`` for an unknown ``extractor`` name.
    """
    try:
        impl = _IMPLEMENTATIONS[extractor]
    except KeyError:
        raise ValueError(f"unknown HTML extractor {extractor!r}; choose one of {list(EXTRACTORS)}") from None
    html = prepare_html(html, encoding_hint)
    if not html.strip():
        return ""
    try:
        text = impl(html, url)
    except RecursionError as exc:
        raise ExtractionError("html_too_deeply_nested", str(exc)) from exc
    except MemoryError as exc:
        raise ExtractionError("html_out_of_memory", str(exc)) from exc
    except Exception as exc:
        raise ExtractionError(f"{extractor}_failed", f"{type(exc).__name__}: {exc}") from exc
    return text.strip()
