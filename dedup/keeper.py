"""Which document of a duplicate cluster is kept: a pure function of the cluster, never of run order.

Every document gets a sort key; the cluster's smallest key is the keeper. Dedup phases only ever take
minima of these keys, so the result is the same for any worker count, partitioning or file order.
"""

from __future__ import annotations

from typing import Any, Literal

Keeper = Literal["smallest_id", "longest_text", "earliest_date"]

SEP = "\x1f"  # unit separator: never produced by the prefixes below
_NO_DATE = "\U0010ffff"  # sorts after every real date
_MAX_LEN = 10**15


def sort_key(rule: Keeper, doc_id: str, text_len: int, metadata: dict[str, Any], date_field: str) -> str:
    """The string whose minimum over a cluster picks the keeper; ties are broken by id."""
    if rule == "smallest_id":
        return doc_id
    if rule == "longest_text":
        return f"{_MAX_LEN - text_len:016d}{SEP}{doc_id}"
    value = metadata.get(date_field)
    date = str(value).replace(SEP, " ") if value not in (None, "") else _NO_DATE
    return f"{date}{SEP}{doc_id}"


def id_of(rule: Keeper, key: str) -> str:
    """The document id inside a sort key."""
    return key if rule == "smallest_id" else key.split(SEP, 1)[1]
