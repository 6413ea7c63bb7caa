"""Credentials: cloud and forge tokens with fixed prefixes, private-key blocks, JWTs, URL passwords.

Token formats follow the vendors' documented prefixes (AWS key ids, GitHub `ghp_`/`github_pat_`,
GitLab `glpat-`, Slack `xox?-`), so a fixed-prefix pattern has almost no false positives. For
`scheme://user:password@host` only the password is replaced: the URL stays readable.
"""

from __future__ import annotations

import base64
import json
import re

from filters.pii.spans import Span

TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9_])(?:"
    r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z2-7]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,251}"  # GitHub classic tokens
    r"|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"  # GitHub fine-grained tokens
    r"|gl(?:pat|ptt|dt|rt|oas|soat|cbt|imt|ft|agent)-[A-Za-z0-9_\-]{20,64}"  # GitLab tokens
    r"|xox[abposr]-[A-Za-z0-9\-]{10,250}"  # Slack tokens
    r")(?![A-Za-z0-9_])"
)
_TOKEN_PREFIXES = (
    *("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"),
    *("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "gl", "xox"),
)
AWS_SECRET_RE = re.compile(
    r"aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])", re.IGNORECASE
)
SLACK_WEBHOOK_RE = re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}")
PRIVATE_KEY_BEGIN_RE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
PRIVATE_KEY_END_RE = re.compile(r"-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----")
# A block cut before its END line: header lines ("Proc-Type: ...") and base64 lines only.
PRIVATE_KEY_BODY_RE = re.compile(r"(?:[ \t]*\r?\n(?:[A-Za-z\-]{2,30}:[^\n]{0,200}|[A-Za-z0-9+/=]{16,100}))*")
_MAX_KEY_BLOCK = 20000
JWT_RE = re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{8,}")
URL_PASSWORD_RE = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/?#@\[\]\"'<>]{1,128}:([^\s/?#@\"'<>]{1,128})@"
    r"[A-Za-z0-9\[]"
)


def _jwt_header_ok(token: str) -> bool:
    """The first segment must decode to a JSON object with an "alg" (or "typ") field."""
    head = token.split(".", 1)[0]
    try:
        obj = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and ("alg" in obj or "typ" in obj)


def _private_keys(text: str) -> list[Span]:
    """BEGIN ... END blocks; a block with no END (truncated page) runs to the end of its base64 lines."""
    spans: list[Span] = []
    pos = 0
    while (m := PRIVATE_KEY_BEGIN_RE.search(text, pos)) is not None:
        end_at = text.find("-----END ", m.end(), m.end() + _MAX_KEY_BLOCK)
        end = PRIVATE_KEY_END_RE.match(text, end_at) if end_at >= 0 else None
        stop = end.end() if end else PRIVATE_KEY_BODY_RE.match(text, m.end()).end()
        spans.append(Span(m.start(), stop, "secret"))
        pos = stop
    return spans


def find_secrets(text: str) -> list[Span]:
    """Tokens, keys and URL passwords in `text`."""
    spans: list[Span] = []
    if any(p in text for p in _TOKEN_PREFIXES):
        spans.extend(Span(m.start(), m.end(), "secret") for m in TOKEN_RE.finditer(text))
    if "ecret" in text or "ECRET" in text:
        spans.extend(Span(m.start(1), m.end(1), "secret") for m in AWS_SECRET_RE.finditer(text))
    if "hooks.slack.com" in text:
        spans.extend(Span(m.start(), m.end(), "secret") for m in SLACK_WEBHOOK_RE.finditer(text))
    if "PRIVATE KEY" in text:
        spans.extend(_private_keys(text))
    if "eyJ" in text:
        jwts = (m for m in JWT_RE.finditer(text) if _jwt_header_ok(m.group()))
        spans.extend(Span(m.start(), m.end(), "secret") for m in jwts)
    if "://" in text and "@" in text:
        spans.extend(Span(m.start(1), m.end(1), "secret") for m in URL_PASSWORD_RE.finditer(text))
    return spans
