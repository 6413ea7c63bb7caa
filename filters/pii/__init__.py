"""PII removal: find e-mails, phones, IPs, cards, IBANs, national ids and secrets; replace them.

Each detector finds candidates with a cheap prefilter and a compiled pattern, then validates them
(Luhn, mod-97, id checksums, libphonenumber), so precision comes from validation, not from pattern zoo.
"""

from filters.pii.detect import PiiDetector, all_types
from filters.pii.national_ids import NATIONAL_IDS, national_id
from filters.pii.redact import DEFAULT_TAGS, fake_value
from filters.pii.spans import Span
from filters.pii.stage import PiiConfig, PiiStep

__all__ = [
    "DEFAULT_TAGS",
    "NATIONAL_IDS",
    "PiiConfig",
    "PiiDetector",
    "PiiStep",
    "Span",
    "all_types",
    "fake_value",
    "national_id",
]
