#!/usr/bin/env bash
# Slurm array job: one cross-validation cut per array task.
#
#   sbatch slurm-job.sl                        # cuts 0-9, data set alerts.csv
#   CSVIN=data/alerts.csv EPOCHS=10 sbatch slurm-job.sl
#   sbatch --array=3,7 slurm-job.sl            # only cuts 3 and 7
#
# and the results over all cuts once every task has succeeded:
#
#   jid=$(sbatch --parsable slurm-job.sl)
#   sbatch --dependency=afterok:"${jid%%;*}" slurm-results.sl
#
# Submit from the directory that holds the data set (or give CSVIN as an absolute
# path); paths are relative to the submit directory.  sbatch hands the submitting
# shell's environment to the job, so the training variables below can be set there.
#
# Each task:
#   1. configure  VAL_CUT and RAND_SEED default to SLURM_ARRAY_TASK_ID; checks
#                 the data set and finds the lstm-rnn-correlation command
#   2. run folder RUNS_DIR/<array job id>_<task id>, e.g. runs/4711_3; a pointer
#                 RUNS_DIR/cut-<VAL_CUT>-seed-<RAND_SEED>.run names the newest run
#                 folder of this cut and seed
#   3. train      lstm-rnn-correlation train --csv CSVIN --val-cut VAL_CUT
#                 --seed RAND_SEED --out RUN [--resume RUN] --quiet
#                 [--threads SLURM_CPUS_PER_TASK]
#   4. evaluate   lstm-rnn-correlation evaluate RUN --quiet
#   5. finish     writes RUN/slurm-job.done
#
# A run folder that continues an older one names it in slurm-job.resumed-from.
# Outside Slurm, `VAL_CUT=3 bash slurm-job.sl` runs one cut the same way.
#
# Resuming: a task that was preempted, timed out or failed is continued from its
# last checkpoint when it runs again.  Requeued by Slurm (same job id), it finds
# its own run folder and continues it; resubmitted with sbatch (new job id), it
# follows the pointer to the unfinished run folder, copies it to its own run
# folder (the old one stays as it was) and continues there.  A cut whose run had
# finished is not recomputed (the task logs so and exits 0); remove its pointer
# file to compute it again.  Ten minutes before the time limit Slurm sends USR1
# (--signal below): the task stops training and requeues itself.  Resuming needs
# the same training settings (train refuses to change, say, NN_UNITS midway);
# EPOCHS may grow.
#
# Environment (all optional):
#   CSVIN             data set CSV (default alerts.csv)
#   VAL_CUT           validation cut (default: SLURM_ARRAY_TASK_ID)
#   RAND_SEED         seed (default: SLURM_ARRAY_TASK_ID, else VAL_CUT)
#   RUNS_DIR          where run folders go (default runs)
#   EPOCHS BATCH_SIZE MAX_PAIRS NN_UNITS NN_LEARNING_RATE MAX_HOURS OLD_JOB
#                     read by `lstm-rnn-correlation train` itself; with OLD_JOB a
#                     fresh task continues that run (not the pointer's)
#   TRAIN_ARGS        more train flags, e.g. "--device cuda --scheme paper"
#   EVALUATE_ARGS     more evaluate flags, e.g. "--selection reuse --no-plots"
#   LSTM_RNN_CORRELATION  the command (default: lstm-rnn-correlation on PATH,
#                     else .venv/bin/lstm-rnn-correlation in the submit directory)
#
# Exit codes (sacct/scontrol show ExitCode=<code>:0):
#   0   the cut finished, or had finished before
#   10  configuration: VAL_CUT or RAND_SEED not set or not an integer, CSVIN missing
#   11  the lstm-rnn-correlation command was not found
#   12  the run folder or its bookkeeping files could not be written
#   20  train failed
#   30  evaluate failed
#   40  stopped by a signal (time limit, preemption, scancel); after USR1 the task
#       has requeued itself and resumes when it runs again
#   41  training stopped at the MAX_HOURS budget before its last epoch; the task
#       has requeued itself (or, outside Slurm, continues when run again)
#
# Site settings (partition, account, GPUs, CPUs) go on the sbatch command line,
# e.g. sbatch --partition=gpu --gres=gpu:1 --cpus-per-task=8 slurm-job.sl
#
#SBATCH --job-name=lstm-rnn-correlation
#SBATCH --array=0-9
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --time=24:00:00
#SBATCH --output=slurm-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@600

set -euo pipefail

readonly EXIT_CONFIG=10 EXIT_NO_COMMAND=11 EXIT_RUN_FOLDER=12
readonly EXIT_TRAIN=20 EXIT_EVALUATE=30 EXIT_SIGNAL=40 EXIT_BUDGET=41
readonly DONE_MARKER=slurm-job.done RESUMED_FROM=slurm-job.resumed-from

TASK_LABEL="${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-local}}_${SLURM_ARRAY_TASK_ID:-}"
STEP=start
CHILD=""

log() { printf '%s slurm-job %s: %s\n' "$(date +'%F %T')" "$TASK_LABEL" "$*"; }

fail() {
    local code=$1
    shift
    log "ERROR in step $STEP: $* (exit code $code)"
    echo "slurm-job: error: step $STEP: $*" >&2
    exit "$code"
}

# Run one step's command in the background, so that signals reach this shell's
# traps at once; a non-zero status ends the job with the step's exit code.
run_step() {
    local code=$1
    shift
    log "step $STEP: $(printf '%q ' "$@")"
    local status=0
    "$@" &
    CHILD=$!
    wait "$CHILD" || status=$?
    CHILD=""
    ((status == 0)) || fail "$code" "'$1 ${2:-}' exited with status $status"
    log "step $STEP: done"
}

on_signal() {
    local signal=$1
    trap '' USR1 TERM INT
    log "received SIG$signal during step $STEP"
    if [[ -n "$CHILD" ]] && kill -0 "$CHILD" 2>/dev/null; then
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    [[ "$signal" != USR1 ]] || requeue_self || true
    log "stopped (exit code $EXIT_SIGNAL)"
    exit "$EXIT_SIGNAL"
}

trap 'on_signal USR1' USR1
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT

is_integer() { [[ "$1" =~ ^[0-9]+$ ]]; }

# Write TEXT to FILE atomically (a reader never sees half a file).
write_atomic() {
    local file=$1 text=$2
    printf '%s\n' "$text" >"$file.tmp.$$" && mv -f "$file.tmp.$$" "$file"
}

# The number of checkpoints train has written in run folder DIR
# (DIR/checkpoints/epoch-NNN.pt, one per finished epoch).
count_checkpoints() {
    local files=()
    shopt -s nullglob
    files=("$1"/checkpoints/epoch-*.pt)
    shopt -u nullglob
    echo "${#files[@]}"
}

has_checkpoint() { (($(count_checkpoints "$1") > 0)); }

# How train's last run in RUN ended: epochs, patience or max_hours, read from
# the last "finished after N epochs (REASON)" line of RUN/info.log.
train_stop_reason() {
    sed -n 's/.*finished after [0-9]* epochs (\([a-z_]*\)).*/\1/p' "$RUN/info.log" 2>/dev/null | tail -n 1
}

# Put this job back in the queue (it resumes when it runs again); true on success.
requeue_self() {
    [[ -n "${SLURM_JOB_ID:-}" ]] || return 1
    trap '' USR1 TERM INT  # requeueing signals this script; it is ending anyway
    if scontrol requeue "$SLURM_JOB_ID"; then
        log "requeued job $SLURM_JOB_ID: it resumes from the last checkpoint when it runs again"
        return 0
    fi
    log "could not requeue job $SLURM_JOB_ID: resubmit it to resume from the last checkpoint"
    return 1
}

step_configure() {
    STEP=configure
    cd "${SLURM_SUBMIT_DIR:-$PWD}"
    VAL_CUT=${VAL_CUT:-${SLURM_ARRAY_TASK_ID:-}}
    RAND_SEED=${RAND_SEED:-${SLURM_ARRAY_TASK_ID:-$VAL_CUT}}
    CSVIN=${CSVIN:-alerts.csv}
    RUNS_DIR=${RUNS_DIR:-runs}
    [[ -n "$VAL_CUT" ]] || fail $EXIT_CONFIG "VAL_CUT is not set and this is not an array task (submit with --array, or set VAL_CUT)"
    is_integer "$VAL_CUT" || fail $EXIT_CONFIG "VAL_CUT must be a cut number, got '$VAL_CUT'"
    is_integer "$RAND_SEED" || fail $EXIT_CONFIG "RAND_SEED must be a non-negative integer, got '$RAND_SEED'"
    [[ -f "$CSVIN" ]] || fail $EXIT_CONFIG "data set CSVIN=$CSVIN not found (in $PWD)"
    [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]] || TASK_LABEL="${TASK_LABEL}${VAL_CUT}"
    export VAL_CUT RAND_SEED CSVIN
    # numpy/scikit-learn in evaluate: the CPUs Slurm gave this task.
    [[ -z "${SLURM_CPUS_PER_TASK:-}" ]] || export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$SLURM_CPUS_PER_TASK}

    read -r -a TRAIN_EXTRA <<<"${TRAIN_ARGS:-}"
    read -r -a EVALUATE_EXTRA <<<"${EVALUATE_ARGS:-}"

    TOOL=${LSTM_RNN_CORRELATION:-}
    if [[ -z "$TOOL" ]]; then
        TOOL=$(command -v lstm-rnn-correlation || true)
        [[ -n "$TOOL" ]] || TOOL="$PWD/.venv/bin/lstm-rnn-correlation"
    fi
    [[ -x "$TOOL" ]] || command -v "$TOOL" >/dev/null 2>&1 \
        || fail $EXIT_NO_COMMAND "command '$TOOL' not found: activate the virtual environment before sbatch, or set LSTM_RNN_CORRELATION"
    log "cut $VAL_CUT, seed $RAND_SEED, data set $CSVIN, host $(hostname), restart ${SLURM_RESTART_COUNT:-0}"
}

# Decide RUN (this task's run folder) and whether train resumes it (RESUME=1).
step_run_folder() {
    STEP=run-folder
    local job=${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-local}}
    local task=${SLURM_ARRAY_TASK_ID:-$VAL_CUT}
    mkdir -p "$RUNS_DIR" || fail $EXIT_RUN_FOLDER "cannot create RUNS_DIR=$RUNS_DIR"
    RUN_NAME="${job}_${task}"
    RUN="$RUNS_DIR/$RUN_NAME"
    POINTER="$RUNS_DIR/cut-${VAL_CUT}-seed-${RAND_SEED}.run"
    RESUME=0

    if [[ -d "$RUN" ]]; then
        # Requeued (preempted, USR1 before the time limit, scontrol requeue).
        if [[ -e "$RUN/$DONE_MARKER" ]]; then
            log "$RUN has finished already; nothing to do"
            exit 0
        fi
        if has_checkpoint "$RUN"; then
            RESUME=1
            log "resuming $RUN from its last checkpoint"
        else
            log "$RUN holds no checkpoint yet: training from the start"
        fi
    elif [[ -n "${OLD_JOB:-}" ]]; then
        log "OLD_JOB=$OLD_JOB is set: train continues that run into $RUN"
    elif [[ -s "$POINTER" ]]; then
        # Resubmitted: the newest run of this cut and seed.
        local previous
        previous="$RUNS_DIR/$(<"$POINTER")"
        if [[ -e "$previous/$DONE_MARKER" ]]; then
            log "cut $VAL_CUT seed $RAND_SEED finished already in $previous; nothing to do (remove $POINTER to compute it again)"
            exit 0
        elif has_checkpoint "$previous"; then
            # Continue in a copy, so the earlier run folder stays as it was; the
            # copy appears under its final name only once complete.
            local partial="$RUNS_DIR/.$RUN_NAME.partial"
            rm -rf "$partial"
            if ! { cp -a "$previous" "$partial" && mv "$partial" "$RUN"; }; then
                fail $EXIT_RUN_FOLDER "cannot copy $previous to $RUN"
            fi
            write_atomic "$RUN/$RESUMED_FROM" "${previous##*/}" || fail $EXIT_RUN_FOLDER "cannot write $RUN/$RESUMED_FROM"
            RESUME=1
            log "resuming from the last checkpoint of $previous (copied to $RUN)"
        else
            log "the previous run $previous holds no checkpoint: training from the start"
        fi
    fi
    mkdir -p "$RUN" || fail $EXIT_RUN_FOLDER "cannot create run folder $RUN"
    write_atomic "$POINTER" "$RUN_NAME" || fail $EXIT_RUN_FOLDER "cannot write $POINTER"
    log "run folder $RUN"
}

step_train() {
    STEP=train
    local args=(train --csv "$CSVIN" --val-cut "$VAL_CUT" --seed "$RAND_SEED" --out "$RUN" --quiet)
    ((RESUME == 0)) || args+=(--resume "$RUN")
    [[ -z "${SLURM_CPUS_PER_TASK:-}" ]] || args+=(--threads "$SLURM_CPUS_PER_TASK")
    local before
    before=$(count_checkpoints "$RUN")
    run_step $EXIT_TRAIN "$TOOL" "${args[@]}" "${TRAIN_EXTRA[@]}"
    # Stopped at the MAX_HOURS budget: not finished, so no evaluation yet.
    if [[ "$(train_stop_reason)" == max_hours ]]; then
        if (($(count_checkpoints "$RUN") == before)); then
            fail $EXIT_TRAIN "MAX_HOURS=${MAX_HOURS:-?} leaves no time for another epoch; raise it (or unset it and rely on the job's time limit)"
        fi
        log "training stopped at the MAX_HOURS budget before its last epoch"
        requeue_self || log "run this cut again to continue it"
        log "stopped (exit code $EXIT_BUDGET)"
        exit "$EXIT_BUDGET"
    fi
}

step_evaluate() {
    STEP=evaluate
    run_step $EXIT_EVALUATE "$TOOL" evaluate "$RUN" --quiet "${EVALUATE_EXTRA[@]}"
}

step_finish() {
    STEP=finish
    write_atomic "$RUN/$DONE_MARKER" "finished by job ${SLURM_JOB_ID:-local} on $(date +'%F %T')" \
        || fail $EXIT_RUN_FOLDER "cannot write $RUN/$DONE_MARKER"
    log "cut $VAL_CUT finished: $RUN"
}

step_configure
step_run_folder
step_train
step_evaluate
step_finish
