"""The one document row schema, and its conversion to and from Python objects.

Every stage reads and writes these columns. Per-stage scores and stats live in
`attributes`, a JSON object keyed by stage name, so the schema never changes
when a stage is added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

DOC_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=True),
        # JSON object: what the reader knew (crawl date, WARC headers, content language, file, offset).
        pa.field("metadata", pa.string(), nullable=False),
        # JSON object keyed by stage name: scores and stats each stage recorded.
        pa.field("attributes", pa.string(), nullable=False),
    ]
)

REJECTED_SCHEMA = DOC_SCHEMA.append(pa.field("stage", pa.string(), nullable=False)).append(
    pa.field("reason", pa.string(), nullable=False)
)


def dumps(obj: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, so equal dicts give equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(slots=True)
class Document:
    """One document as per-document logic sees it (plain Python, no Arrow, no Ray)."""

    id: str
    text: str
    source: str
    url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)


def documents_from_table(table: pa.Table | pa.RecordBatch) -> list[Document]:
    """Decode a batch of rows into Documents."""
    cols = table.to_pydict()
    return [
        Document(
            id=i,
            text=t,
            source=s,
            url=u,
            metadata=json.loads(m) if m else {},
            attributes=json.loads(a) if a else {},
        )
        for i, t, s, u, m, a in zip(
            cols["id"],
            cols["text"],
            cols["source"],
            cols["url"],
            cols["metadata"],
            cols["attributes"],
            strict=True,
        )
    ]


def documents_to_table(docs: list[Document]) -> pa.Table:
    """Encode Documents as a table with DOC_SCHEMA."""
    return pa.Table.from_pydict(
        {
            "id": [d.id for d in docs],
            "text": [d.text for d in docs],
            "source": [d.source for d in docs],
            "url": [d.url for d in docs],
            "metadata": [dumps(d.metadata) for d in docs],
            "attributes": [dumps(d.attributes) for d in docs],
        },
        schema=DOC_SCHEMA,
    )


def rejected_to_table(docs: list[Document], stage: str, reasons: list[str]) -> pa.Table:
    """Encode rejected Documents with the stage and reason that dropped them."""
    base = documents_to_table(docs)
    return (
        base.append_column("stage", pa.array([stage] * len(docs), pa.string()))
        .append_column("reason", pa.array(reasons, pa.string()))
        .cast(REJECTED_SCHEMA)
    )
