#!/usr/bin/env bash
# Install the system packages the test suite needs beyond Python: a Slurm
# workload manager with munge (for tests/test_slurm.py, which starts its own
# single-node cluster) and shellcheck (for the shell-script lint tests).
#
# Idempotent: does nothing when every package is already installed; otherwise
# runs apt-get update once and installs only the missing ones.  Needs root
# (or sudo) and a Debian/Ubuntu system with apt-get.
#
# Usage: scripts/install-ci-system-deps.sh [--help]
set -euo pipefail

PACKAGES=(slurm-wlm munge shellcheck)

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-ci-system-deps: already installed: ${PACKAGES[*]}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-ci-system-deps: error: apt-get not found; install ${missing[*]} by hand" >&2
    exit 1
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-ci-system-deps: error: need root (or sudo) to install ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-ci-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
