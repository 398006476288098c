#!/usr/bin/env bash
# Bring a fresh Ubuntu GPU instance (for example AWS's "Deep Learning Base AMI",
# which comes with the NVIDIA driver) to a working state for lstm-rnn-correlation:
#
#   1. system packages     python3-venv, python3-dev, python3-pip, build-essential
#   2. NVIDIA driver       nvidia-smi must work; its CUDA version picks the wheel
#   3. virtual env         python3 -m venv VENV
#   4. pip                 upgrade pip inside the environment
#   5. PyTorch (CUDA)      torch==<version in requirements.txt> from the PyTorch
#                          CUDA wheel index
#   6. requirements        the rest of requirements.txt, torch held at the CUDA build
#   7. package             pip install --no-deps -e .
#   8. CUDA check          torch.cuda.is_available() must be true
#   9. GPU smoke run       generate a small data set, train one batch with
#                          --device cuda (removed afterwards)
#
# Every step checks first whether it is already done, so running the script again
# is safe and quick.  Run it from anywhere; it works on the repository it lies in.
#
# Usage: ./setup-for-cuda-on-aws.sh [--dry-run] [--venv DIR] [--cuda VARIANT]
#                                   [--skip-smoke] [--help]
#   --dry-run       print each step and its commands without running anything
#                   that changes the machine (read-only checks still run)
#   --venv DIR      the virtual environment (default: .venv in the repository;
#                   the VENV environment variable works too)
#   --cuda VARIANT  the PyTorch wheel variant, e.g. cu126, cu128, cu130 (default:
#                   the newest one the driver supports; TORCH_CUDA works too)
#   --skip-smoke    leave out step 9
#   --help          show this help
#
# Afterwards: source VENV/bin/activate, then for example
#   lstm-rnn-correlation train --csv alerts.csv --val-cut 0 --out runs/cut0 --device cuda
#
# Exit codes: 0 ok; 1 usage; 10 system packages; 11 no NVIDIA driver (nvidia-smi);
# 12 virtual environment; 13 PyTorch; 14 requirements; 15 package; 16 CUDA not
# available to PyTorch; 17 GPU smoke run failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
DRY_RUN=0
SKIP_SMOKE=0
VENV=${VENV:-$REPO/.venv}
TORCH_CUDA=${TORCH_CUDA:-}
SYSTEM_PACKAGES=(python3-venv python3-dev python3-pip build-essential)
# PyTorch CUDA wheel variants, newest first, with the driver CUDA version each needs.
CUDA_VARIANTS=("cu130 13.0" "cu128 12.8" "cu126 12.6")
TORCH_INDEX=https://download.pytorch.org/whl

usage() { sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

die() {
    local code=$1
    shift
    echo "setup-for-cuda-on-aws: error: $*" >&2
    exit "$code"
}

STEP_CODE=1
step() {
    STEP_CODE=$1
    shift
    echo
    echo "==> step: $*"
}

note() { echo "    $*"; }

# Print a command; run it unless this is a dry run.  A failure stops the script
# with the current step's exit code.
run() {
    printf '    +'
    printf ' %q' "$@"
    printf '\n'
    ((DRY_RUN)) && return 0
    "$@" || die "$STEP_CODE" "command failed: $*"
}

# `version_ge A B`: true when version A >= version B (dotted numbers).
version_ge() {
    [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" == "$2" ]]
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dry-run) DRY_RUN=1 ;;
            --skip-smoke) SKIP_SMOKE=1 ;;
            --venv) [[ $# -ge 2 ]] || die 1 "--venv needs a directory"; VENV=$2; shift ;;
            --venv=*) VENV=${1#--venv=} ;;
            --cuda) [[ $# -ge 2 ]] || die 1 "--cuda needs a variant such as cu128"; TORCH_CUDA=$2; shift ;;
            --cuda=*) TORCH_CUDA=${1#--cuda=} ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die 1 "unknown argument: $1" ;;
        esac
        shift
    done
    [[ "$VENV" = /* ]] || VENV="$PWD/$VENV"
    if [[ -n "$TORCH_CUDA" && ! "$TORCH_CUDA" =~ ^cu[0-9]+$ ]]; then
        die 1 "--cuda must look like cu128, not '$TORCH_CUDA'"
    fi
}

step_system_packages() {
    step 10 "system packages (${SYSTEM_PACKAGES[*]})"
    local missing=() pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        note "already installed"
        return 0
    fi
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

step_driver() {
    step 11 "NVIDIA driver"
    local smi cuda="" entry name needs
    if smi=$(nvidia-smi 2>/dev/null); then
        cuda=$(sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' <<<"$smi" | head -n 1)
        note "nvidia-smi works; the driver supports CUDA ${cuda:-(unknown)}"
    elif ((DRY_RUN)); then
        note "nvidia-smi is missing or fails: a real run stops here (exit 11)"
    else
        die 11 "nvidia-smi is missing or fails: install the NVIDIA driver (the Deep Learning Base AMI has it) and retry"
    fi
    if [[ -z "$TORCH_CUDA" ]]; then
        for entry in "${CUDA_VARIANTS[@]}"; do
            read -r name needs <<<"$entry"
            # Unknown driver version (dry run without a driver): the newest.
            if [[ -z "$cuda" ]] || version_ge "$cuda" "$needs"; then
                TORCH_CUDA=$name
                break
            fi
        done
        [[ -n "$TORCH_CUDA" ]] || die 11 "the driver supports CUDA $cuda only; PyTorch wheels need ${CUDA_VARIANTS[-1]#* } or newer: update the driver, or pass --cuda"
    fi
    note "PyTorch wheel variant: $TORCH_CUDA ($TORCH_INDEX/$TORCH_CUDA)"
}

step_venv() {
    step 12 "virtual environment $VENV"
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c '' 2>/dev/null; then
        note "already exists"
    else
        run python3 -m venv "$VENV"
    fi
    step 12 "pip"
    run "$VENV/bin/python" -m pip install --quiet --upgrade pip
}

torch_version() {
    sed -n 's/^[[:space:]]*torch[[:space:]]*==[[:space:]]*\([^[:space:];#]*\).*/\1/p' "$REPO/requirements.txt" | head -n 1
}

step_torch() {
    local version
    version=$(torch_version)
    [[ -n "$version" ]] || die 13 "$REPO/requirements.txt pins no torch==VERSION"
    step 13 "PyTorch $version, CUDA build $TORCH_CUDA"
    # Already there when the installed torch has this version and a CUDA build
    # of the chosen variant ("2.13.0+cu128").
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" - "$version" "$TORCH_CUDA" 2>/dev/null <<'PY'
import sys
import torch
want, variant = sys.argv[1], sys.argv[2]
sys.exit(0 if torch.__version__ == f"{want}+{variant}" and torch.version.cuda else 1)
PY
    then
        note "already installed"
        return 0
    fi
    run "$VENV/bin/python" -m pip install --quiet "torch==$version" --index-url "$TORCH_INDEX/$TORCH_CUDA"
}

step_requirements() {
    step 14 "requirements.txt without replacing torch"
    # pip would keep a matching torch anyway; the constraint makes sure no
    # dependency swaps the CUDA build for the CPU one.
    local rest="$VENV/requirements-without-torch.txt" constraint="$VENV/torch-constraint.txt"
    note "write $rest (requirements.txt without torch) and $constraint (torch==<installed build>)"
    if ((!DRY_RUN)); then
        grep -v -E '^[[:space:]]*torch[[:space:]]*(==|$)' "$REPO/requirements.txt" >"$rest"
        "$VENV/bin/python" -c 'import torch; print(f"torch=={torch.__version__}")' >"$constraint" \
            || die 14 "cannot import torch from $VENV"
    fi
    run "$VENV/bin/python" -m pip install --quiet -r "$rest" -c "$constraint"
}

step_package() {
    step 15 "lstm-rnn-correlation (editable, from $REPO)"
    run "$VENV/bin/python" -m pip install --quiet --no-deps -e "$REPO"
    # The Makefile's stamp: `make test` / `make reproduce` then reuse this
    # environment instead of installing again.
    if [[ "$VENV" == "$REPO/.venv" ]]; then
        run touch "$VENV/.installed"
    fi
}

step_cuda_check() {
    step 16 "torch.cuda.is_available()"
    local check='import torch; ok = torch.cuda.is_available(); print("    torch", torch.__version__, "CUDA", torch.version.cuda, "->", torch.cuda.get_device_name(0) if ok else "no GPU visible"); raise SystemExit(0 if ok else 1)'
    printf "    + %q -c '%s'\n" "$VENV/bin/python" "$check"
    ((DRY_RUN)) && return 0
    "$VENV/bin/python" -c "$check" \
        || die 16 "PyTorch sees no CUDA device: check nvidia-smi, and that the wheel variant ($TORCH_CUDA) suits the driver"
}

step_smoke() {
    step 17 "GPU smoke run: one batch of training with --device cuda"
    if ((SKIP_SMOKE)); then
        note "skipped (--skip-smoke)"
        return 0
    fi
    local tmp=/tmp/tmp.XXXXXXXXXX tool="$VENV/bin/lstm-rnn-correlation"
    if ((!DRY_RUN)); then
        tmp=$(mktemp -d)
        # shellcheck disable=SC2064  # expand now: the trap must remove this directory
        trap "rm -rf '$tmp'" EXIT
    fi
    note "in $tmp (removed afterwards)"
    # The bundled synthetic data set; data_cfg.py reads it from LRC_DATA_DIR.
    run "$tool" generate --out "$tmp/raw" --seed 0 --quiet
    run env LRC_DATA_DIR="$tmp/raw" "$tool" preprocess --config "$REPO/data_cfg.py" \
        --out "$tmp/alerts.csv" --seed 0 --quiet
    # One batch: as many pairs as one batch holds, one epoch, a small network.
    run env MAX_PAIRS=512 BATCH_SIZE=512 NN_UNITS=16 \
        "$tool" train --csv "$tmp/alerts.csv" --val-cut 0 --seed 0 --epochs 1 \
        --device cuda --quiet --out "$tmp/run"
}

main() {
    parse_args "$@"
    if ((DRY_RUN)); then
        echo "setup-for-cuda-on-aws: dry run: printing the steps, changing nothing"
    fi
    echo "repository: $REPO"
    step_system_packages
    step_driver
    step_venv
    step_torch
    step_requirements
    step_package
    step_cuda_check
    step_smoke
    echo
    if ((DRY_RUN)); then
        echo "setup-for-cuda-on-aws: dry run done (nothing was changed)"
    else
        echo "setup-for-cuda-on-aws: done. Activate with: source $VENV/bin/activate"
    fi
}

main "$@"
