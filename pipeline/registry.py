"""Where stage types and CLI commands are found. One line each; imported only when used.

A stage type maps to "module:ConfigClass" (a `pipeline.step.StageConfig` subclass). A command maps to
"module:register", a function that adds an argparse sub-parser and sets its `func`.
"""

from __future__ import annotations

import importlib
from typing import Any

STAGES: dict[str, str] = {
    "language": "filters.language:LanguageFilterConfig",
    "gopher_quality": "filters.gopher:GopherQualityConfig",
    "gopher_repetition": "filters.gopher:GopherRepetitionConfig",
    "c4_quality": "filters.c4:C4QualityConfig",
    "c4_lines": "filters.c4:C4LinesConfig",
    "fineweb_quality": "filters.fineweb:FineWebQualityConfig",
    "word_blocklist": "filters.keywords:WordBlocklistConfig",
    "url_blocklist": "filters.urls:UrlBlocklistConfig",
    "perplexity": "filters.perplexity:PerplexityFilterConfig",
    "quality_classifier": "filters.classifier:QualityClassifierConfig",
    "exact_dedup": "dedup.exact:ExactDedupConfig",
    "line_dedup": "dedup.lines:LineDedupConfig",
    "minhash_dedup": "dedup.minhash:MinHashDedupConfig",
    "decontaminate": "dedup.decontaminate:DecontaminateConfig",
    "pii": "filters.pii:PiiConfig",
    "tokenize": "tokenization.stage:TokenizeConfig",
}

COMMANDS: dict[str, str] = {
    "run": "pipeline.cli:register_run",
    "validate": "pipeline.cli:register_validate",
    "report": "pipeline.report:register",
    "inspect": "pipeline.sampling:register",
    "train-lm": "filters.kenlm_train:register",
    "train-extractor": "pipeline.readers.main_content_train:register",
    "train-tokenizer": "tokenization.train:register",
    "check-megatron": "tokenization.megatron:register_check",
    "megatron-args": "tokenization.blend:register_args",
    "verify": "pipeline.manifest:register_verify",
    "train-classifier": "filters.classifier_train:register",
    "build-pii-gazetteer": "filters.pii.gazetteer_build:register",
    "train-pii-model": "filters.pii.person_crf_train:register",
}


def load(target: str) -> Any:
    """Import "module:attr" and return the attribute."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def stage_config_class(stage_type: str) -> Any:
    return load(STAGES[stage_type])
