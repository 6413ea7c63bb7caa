"""The command line as a user starts it, in a fresh process. (The main job from an installed wheel, and
its stderr, are tested in test_wheel.py.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WINNOW = [sys.executable, "-m", "pipeline.cli"]
RAY_INTERNALS = re.compile(r"core_worker|gcs_server|raylet|gcs_client|Token authentication|Progress bars")


def test_version_and_help() -> None:
    version = subprocess.run([*WINNOW, "--version"], capture_output=True, text=True, cwd=REPO)
    assert version.returncode == 0 and re.fullmatch(r"winnow \S+\n", version.stdout)
    helped = subprocess.run([*WINNOW, "--help"], capture_output=True, text=True, cwd=REPO)
    assert helped.returncode == 0 and "run" in helped.stdout


def test_cli_module_runs_as_a_script() -> None:
    """`python pipeline/cli.py` put pipeline/ first on sys.path, where inspect.py shadowed the stdlib."""
    proc = subprocess.run(
        [sys.executable, "pipeline/cli.py", "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
