#!/usr/bin/env bash
# Build KenLM's `lmplz` and `build_binary` (needed by `winnow train-lm`) from the kenlm sdist on PyPI.
#
# The kenlm wheel gives Python only the query side (kenlm.Model); estimating a model needs the C++ tools,
# whose sources ship in the same sdist. This script downloads that sdist with pip, installs the Debian
# build dependencies with apt-get when they are missing, compiles the two tools with cmake and copies
# them to the cache folder below. It is idempotent: when both binaries are already there it exits at once.
#
# Usage: scripts/build_kenlm.sh [--prefix DIR]
#   DIR defaults to ${WINNOW_TOOLS:-$HOME/.cache/winnow/kenlm}; binaries land in DIR/bin.
# Environment: KENLM_VERSION (default 0.3.0), JOBS (default 2), WINNOW_SKIP_APT=1 to skip the Debian package
# check and apt-get (the packages must then be installed some other way).
set -euo pipefail

PREFIX="${WINNOW_TOOLS:-$HOME/.cache/winnow/kenlm}"
if [[ "${1:-}" == "--prefix" ]]; then
    PREFIX="${2:?--prefix needs a folder}"
elif [[ -n "${1:-}" ]]; then
    echo "usage: $0 [--prefix DIR]" >&2
    exit 2
fi
BIN="$PREFIX/bin"
KENLM_VERSION="${KENLM_VERSION:-0.3.0}"
JOBS="${JOBS:-2}"

if [[ -x "$BIN/lmplz" && -x "$BIN/build_binary" ]]; then
    echo "kenlm tools already built: $BIN/lmplz $BIN/build_binary"
    exit 0
fi

PYTHON="${PYTHON:-$(command -v python3 || command -v python || true)}"
[[ -n "$PYTHON" ]] || { echo "error: python3 not found (needed for pip download of the kenlm sdist)" >&2; exit 1; }
DEB_PACKAGES=(libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev
    zlib1g-dev libbz2-dev liblzma-dev cmake g++ make)

missing=()
if [[ "${WINNOW_SKIP_APT:-0}" == "1" ]] || ! command -v dpkg-query >/dev/null; then
    echo "not checking Debian packages (WINNOW_SKIP_APT=1 or no dpkg): boost, zlib, bz2, lzma and cmake must be installed"
else
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
fi
if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
        echo "error: missing build packages: ${missing[*]} (install them, e.g. with apt-get)" >&2
        exit 1
    fi
    SUDO=()
    if [[ "$(id -u)" != "0" ]]; then
        command -v sudo >/dev/null || { echo "error: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
        SUDO=(sudo)
    fi
    echo "installing build packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
        "${SUDO[@]}" apt-get update
        "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/winnow-kenlm-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "downloading kenlm==$KENLM_VERSION sources from PyPI"
# `--no-binary kenlm` (not `:all:`) fetches the kenlm sdist while letting pip use wheels for the build
# tools it needs to read the sdist's metadata; with `:all:` pip compiles cmake itself from source first.
"$PYTHON" -m pip download --quiet --no-deps --no-binary kenlm --dest "$WORK" "kenlm==$KENLM_VERSION"
SDIST="$(ls "$WORK"/kenlm-*.tar.gz | head -n1)"
tar -xzf "$SDIST" -C "$WORK"
SRC="$(find "$WORK" -maxdepth 1 -mindepth 1 -type d -name 'kenlm-*' | head -n1)"

mkdir -p "$PREFIX" "$SRC/build"
LOG="$PREFIX/build.log"
echo "compiling lmplz and build_binary (cmake Release, make -j$JOBS; about a minute on 2 cores; log: $LOG)"
(
    cd "$SRC/build"
    cmake .. -DCMAKE_BUILD_TYPE=Release && make -j"$JOBS" lmplz build_binary
) >"$LOG" 2>&1 || { tail -n 40 "$LOG" >&2; echo "error: kenlm build failed; full log: $LOG" >&2; exit 1; }

mkdir -p "$BIN"
for tool in lmplz build_binary; do
    # Copy then rename so a concurrent reader never sees a half-written binary.
    install -m 0755 "$SRC/build/bin/$tool" "$BIN/.$tool.tmp"
    mv -f "$BIN/.$tool.tmp" "$BIN/$tool"
done
echo "installed: $BIN/lmplz $BIN/build_binary"
