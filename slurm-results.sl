#!/usr/bin/env bash
# Slurm job: the results step (tables and figures) over the finished runs of
# slurm-job.sl.  Submit it to start once every array task has succeeded:
#
#   jid=$(sbatch --parsable slurm-job.sl)
#   sbatch --dependency=afterok:"${jid%%;*}" slurm-results.sl
#
# (afterok on an array job waits for all of its tasks; if one fails, this job
# never starts: squeue shows it pending with reason DependencyNeverSatisfied, and
# `scancel` removes it.)  It can also be submitted on its own once the runs exist.
#
# It runs `lstm-rnn-correlation results RUN... --out FIGDIR` over the run folder
# of every cut and seed in RUNS_DIR (named by RUNS_DIR/cut-*-seed-*.run, written
# by slurm-job.sl), and fails when one of them has not finished.
#
# Environment (all optional):
#   RUNS_DIR        run folders and pointers of slurm-job.sl (default runs)
#   FIGDIR          where tables and figures go (default results)
#   RESULTS_ARGS    more flags for `lstm-rnn-correlation results`
#   LSTM_RNN_CORRELATION  the command (as in slurm-job.sl)
#
# Exit codes: 0 ok; 10 RUNS_DIR missing; 11 lstm-rnn-correlation not found;
# 50 results failed; 51 no runs, or a run that has not finished.
#
#SBATCH --job-name=lstm-rnn-correlation-results
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --time=02:00:00
#SBATCH --output=slurm-results-%j.out

set -euo pipefail

log() { printf '%s slurm-results %s: %s\n' "$(date +'%F %T')" "${SLURM_JOB_ID:-local}" "$*"; }

fail() {
    local code=$1
    shift
    log "ERROR: $* (exit code $code)"
    echo "slurm-results: error: $*" >&2
    exit "$code"
}

cd "${SLURM_SUBMIT_DIR:-$PWD}"
RUNS_DIR=${RUNS_DIR:-runs}
FIGDIR=${FIGDIR:-results}
read -r -a RESULTS_EXTRA <<<"${RESULTS_ARGS:-}"

[[ -d "$RUNS_DIR" ]] || fail 10 "RUNS_DIR=$RUNS_DIR not found (in $PWD)"
TOOL=${LSTM_RNN_CORRELATION:-}
if [[ -z "$TOOL" ]]; then
    TOOL=$(command -v lstm-rnn-correlation || true)
    [[ -n "$TOOL" ]] || TOOL="$PWD/.venv/bin/lstm-rnn-correlation"
fi
[[ -x "$TOOL" ]] || command -v "$TOOL" >/dev/null 2>&1 \
    || fail 11 "command '$TOOL' not found: activate the virtual environment before sbatch, or set LSTM_RNN_CORRELATION"

runs=()
unfinished=()
shopt -s nullglob
for pointer in "$RUNS_DIR"/cut-*-seed-*.run; do
    run="$RUNS_DIR/$(<"$pointer")"
    if [[ -e "$run/slurm-job.done" ]]; then
        runs+=("$run")
    else
        unfinished+=("$run")
    fi
done
shopt -u nullglob
[[ ${#unfinished[@]} -eq 0 ]] || fail 51 "runs not finished: ${unfinished[*]} (resubmit slurm-job.sl for their cuts)"
[[ ${#runs[@]} -gt 0 ]] || fail 51 "no runs of slurm-job.sl in $RUNS_DIR"

log "results over ${#runs[@]} runs: ${runs[*]}"
status=0
"$TOOL" results "${runs[@]}" --out "$FIGDIR" "${RESULTS_EXTRA[@]}" || status=$?
((status == 0)) || fail 50 "'$TOOL results' exited with status $status"
log "tables and figures in $FIGDIR"
