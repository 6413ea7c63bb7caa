"""The `pii` stage: rewrite personal data and secrets in `doc.text`, never drop a document."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from filters.pii.detect import PiiDetector, all_types
from filters.pii.redact import DEFAULT_TAGS, apply, fake_value
from filters.pii.spans import Span
from pipeline.schema import Document
from pipeline.step import DocumentStep, StageConfig

_DEFAULT_TYPES = ["email", "phone", "ip_address", "credit_card", "iban", "us_ssn", "cn_id", "secret"]


class PiiConfig(StageConfig):
    """Find e-mails, phones, IPs, cards, IBANs, national ids and secrets; replace them by tag or fake."""

    type: Literal["pii"] = "pii"
    types: list[str] = Field(
        default_factory=lambda: list(_DEFAULT_TYPES),
        description="PII types to replace (any of: " + ", ".join(all_types()) + ").",
    )
    mode: Literal["tag", "fake"] = Field(
        "tag", description="tag: replace by the type's tag; fake: by a consistent fake value (seeded hash)."
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="Per-type replacement tags overriding the defaults (<EMAIL>, ...)."
    )
    seed: str = Field("winnow-pii", description="Key of the fake-value hash: same seed, same fakes.")
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "CN", "DE", "FR"],
        description="Regions whose national formats (no +country code) are accepted as phones.",
    )
    ip_public_only: bool = Field(False, description="Replace only globally routable IP addresses.")
    person_model: bool = Field(
        False,
        description="person: also tag names with the shipped CRF (bit more recall, 2x slower; docs/pii.md).",
    )
    email_allow_dotless_domain: bool = Field(
        False, description="Also match user@localhost-style addresses (noisy in code)."
    )

    @field_validator("types", "tags")
    @classmethod
    def _known_types(cls, value: list[str] | dict[str, str]) -> list[str] | dict[str, str]:
        unknown = sorted(set(value) - set(all_types()))
        if unknown:
            raise ValueError(f"unknown PII types {unknown}; known: {list(all_types())}")
        return value

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        import phonenumbers

        unknown = sorted({r.upper() for r in value} - phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"unknown phone regions {unknown} (use ISO 3166 alpha-2 codes like 'US')")
        return value

    def build(self) -> PiiStep:
        step = PiiStep(self)
        step.name = self.stage_name
        return step


class PiiStep(DocumentStep):
    """Rewrites PII in place; `doc.attributes[name]` gets the count per type that was replaced."""

    name = "pii"

    def __init__(self, config: PiiConfig | None = None) -> None:
        super().__init__()
        self.config = config or PiiConfig()
        self.tags = {**DEFAULT_TAGS, **self.config.tags}
        self.detector = PiiDetector(
            self.config.types,
            phone_regions=self.config.phone_regions,
            ip_public_only=self.config.ip_public_only,
            email_allow_dotless_domain=self.config.email_allow_dotless_domain,
            person_model=self.config.person_model,
        )

    def _replacement(self, span: Span, value: str) -> str:
        if self.config.mode == "fake":
            return fake_value(span.kind, value, self.config.seed)
        return self.tags.get(span.kind) or f"<{span.kind.upper()}>"

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The rewritten text and the number of replacements per type."""
        spans = self.detector.find(text)
        counts: dict[str, int] = {}
        for span in spans:
            counts[span.kind] = counts.get(span.kind, 0) + 1
        return apply(text, spans, self._replacement), counts

    def process(self, doc: Document) -> str | None:
        text, counts = self.redact(doc.text or "")
        if counts:
            doc.text = text
        for kind, n in counts.items():
            self.count(kind, n)
        doc.attributes[self.name] = counts
        return None
