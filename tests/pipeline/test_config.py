"""Config errors name the file, the line and the key; relative paths resolve against the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_config, parse_config

BASE = """\
name: t
sources:
  - name: web
    format: jsonl
    paths: [data/*.jsonl]
"""


def test_unknown_key_names_key_line_and_suggestion() -> None:
    text = BASE + "    txt_field: body\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.yaml", "/base")
    msg = str(err.value)
    assert "c.yaml:6: sources[0].txt_field: unknown key 'txt_field'" in msg
    assert "did you mean 'text_field'" in msg


def test_wrong_type_and_unknown_top_level_key_are_both_reported() -> None:
    text = BASE + "output:\n  batch_rows: many\nseeed: 3\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.yaml", "/base")
    msg = str(err.value)
    assert "c.yaml:7: output.batch_rows: Input should be a valid integer" in msg
    assert "c.yaml:8: seeed: unknown key 'seeed' (did you mean 'seed'?)" in msg


def test_unknown_stage_type_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + "stages:\n  - type: gopher_qualty\n", "c.yaml", "/base")
    assert (
        "c.yaml:7: stages[0].type: unknown stage type 'gopher_qualty' (did you mean 'gopher_quality'?)"
        in str(err.value)
    )


def test_bad_format_is_rejected() -> None:
    with pytest.raises(ConfigError, match="sources\\[0\\]"):
        parse_config(BASE.replace("jsonl", "csv"), "c.yaml", "/base")


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "configs" / "x.yaml"
    cfg.parent.mkdir()
    cfg.write_text(BASE)
    config = load_config(cfg)
    assert config.sources[0].paths == [str(tmp_path / "configs" / "data" / "*.jsonl")]


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_not_yaml_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("sources: [unclosed\n", "c.yaml")


def test_config_hash_is_stable() -> None:
    a = parse_config(BASE, "c.yaml", "/base")
    b = parse_config(BASE, "other.yaml", "/base")
    assert a.hash() == b.hash()
