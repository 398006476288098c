"""slurm-job.sl and slurm-results.sl on a real single-node Slurm cluster.

The module starts its own cluster (Debian's slurm-wlm and munge, no systemd) with
scripts/slurm-local-cluster.sh in a temporary directory, submits the real scripts
with a tiny configuration, and shuts the daemons down by their pid files at the
end, whatever happened.  It skips, saying why, where Slurm is not installed or the
tests do not run as root (slurmd must start jobs); CI installs Slurm with
scripts/install-ci-system-deps.sh and runs as root, so there it always runs.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lstm_rnn_correlation.cli import COMMANDS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
JOB = REPO / "slurm-job.sl"
RESULTS = REPO / "slurm-results.sl"
CLUSTER = REPO / "scripts" / "slurm-local-cluster.sh"
VENV_BIN = Path(sys.executable).parent
SCRIPTS = [JOB, RESULTS, CLUSTER, REPO / "scripts" / "install-ci-system-deps.sh"]

# Job states after which a job no longer changes (a requeued job is PENDING again).
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
         "PREEMPTED", "BOOT_FAIL", "DEADLINE"}
TRAINING_VARIABLES = ("CSVIN", "VAL_CUT", "RAND_SEED", "EPOCHS", "BATCH_SIZE", "MAX_PAIRS",
                      "NN_UNITS", "NN_LEARNING_RATE", "OLD_JOB", "MAX_HOURS")
WAIT = 300  # seconds: generous for a loaded 2-core CI machine; normally far less


def has_command(name: str) -> bool:
    """Whether this checkout's `lstm-rnn-correlation NAME` exists (its module is present)."""
    return name in COMMANDS and importlib.util.find_spec(COMMANDS[name][0]) is not None


def needs(*names: str) -> None:
    missing = [n for n in names if not has_command(n)]
    if missing:
        pytest.skip(f"`lstm-rnn-correlation {' / '.join(missing)}` is not in this checkout yet; "
                    "this Slurm test needs it")


def slurm_missing_reason() -> str | None:
    """Why the cluster cannot run here, or None."""
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel")
               if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]
    if missing:
        return (f"Slurm/munge not installed (missing {', '.join(missing)}); "
                "install with scripts/install-ci-system-deps.sh (as root)")
    if os.geteuid() != 0:
        return "the local Slurm cluster needs root (slurmd starts jobs as their user)"
    return None


def write_tiny_dataset(path: Path, seed: int = 0) -> None:
    """A small incident/alert/cut CSV: three incidents with distinct signatures plus benign, every cut."""
    rng = random.Random(seed)
    templates = {
        "1": "[**] [1:200{n}:1] ET TROJAN Bot checkin [**] {{TCP}} 10.0.0.{h}:{p} -> 192.0.2.1:80",
        "2": "[**] [1:210{n}:2] GPL SCAN nmap probe [**] {{UDP}} 10.0.1.{h}:{p} -> 198.51.100.7:53",
        "3": "[**] [1:220{n}:1] ET POLICY curl user agent [**] {{TCP}} 10.0.2.{h}:{p} -> 203.0.113.9:443",
    }
    rows = []
    for cut in range(10):
        for incident, template in templates.items():
            for _ in range(3):
                rows.append((incident, template.format(n=rng.randrange(10), h=rng.randrange(1, 250),
                                                       p=rng.randrange(1024, 65535)), cut))
        for _ in range(2):
            rows.append(("benign", f"[**] [1:{rng.randrange(100, 999)}:1] misc activity [**] {{ICMP}} "
                                   f"10.9.9.{rng.randrange(250)} -> 10.8.8.8", cut))
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["incident", "alert", "cut"])
        writer.writerows(rows)


@dataclass
class Cluster:
    """A running local cluster and the helpers the tests use on it."""

    dir: Path
    env: dict

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60, **kwargs)

    def sbatch(self, script: Path, *options: str, cwd: Path, env: dict | None = None) -> str:
        """Submit SCRIPT from CWD with extra environment ENV; returns the job id."""
        job_env = dict(self.env, **(env or {}))
        proc = subprocess.run(["sbatch", "--parsable", *options, str(script)], cwd=cwd, env=job_env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"sbatch failed: {proc.stderr}"
        return proc.stdout.strip().split(";")[0]

    def records(self, job: str) -> list[dict]:
        """`scontrol show job` for JOB (all its array tasks; "" = every job), one dict per record."""
        proc = self.run("scontrol", "-o", "show", "job", *([job] if job else []))
        assert proc.returncode == 0, proc.stderr
        return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in proc.stdout.splitlines() if line.strip()]

    def tasks(self, job: str) -> dict[str, dict]:
        """Array task id -> its record (pending tasks may still be grouped, e.g. '0-1')."""
        return {r.get("ArrayTaskId", r["JobId"]): r for r in self.records(job)}

    def diagnostics(self) -> str:
        """Job states and the daemons' last log lines, for failure messages."""
        lines = [f"{r['JobId']} task {r.get('ArrayTaskId', '-')}: {r['JobState']} {r.get('Reason')} "
                 f"exit {r.get('ExitCode')} restarts {r.get('Restarts')}" for r in self.records("")]
        for name in ("slurmctld", "slurmd"):
            log = self.dir / "log" / f"{name}.log"
            if log.exists():
                lines += [f"---- {name}.log (end) ----", *log.read_text().splitlines()[-25:]]
        return "\n".join(lines)

    def wait(self, job: str, timeout: float = WAIT) -> dict[str, dict]:
        """Wait until every task of JOB has ended (COMPLETING, while processes exit, is not an end)."""
        def ended():
            tasks = self.tasks(job)
            return tasks if all(r["JobState"] in FINAL for r in tasks.values()) else None

        return self.wait_until(ended, f"job {job} to end", timeout)

    def wait_until(self, condition, what: str, timeout: float = WAIT):
        """Poll CONDITION until it returns something true."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}\n{self.diagnostics()}")
            time.sleep(0.5)


def exit_code(record: dict) -> int:
    """The job script's exit status from ExitCode=STATUS:SIGNAL."""
    return int(record["ExitCode"].split(":")[0])


def daemon_pids(cluster_dir: Path) -> dict[str, int]:
    pids = {}
    for name in ("munged", "slurmctld", "slurmd"):
        f = cluster_dir / "run" / f"{name}.pid"
        if f.exists() and f.read_text().strip().isdigit():
            pids[name] = int(f.read_text())
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A single-node cluster for this module; always shut down by pid at the end."""
    reason = slurm_missing_reason()
    if reason:
        pytest.skip(reason)
    cluster_dir = tmp_path_factory.mktemp("slurm-cluster")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_")) and k not in TRAINING_VARIABLES}
    # More job slots than cores: the tests' jobs run side by side and their waits overlap.
    env["SLURM_LOCAL_CPUS"] = str(max(8, os.cpu_count() or 1))
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}:/usr/sbin"
    started = time.monotonic()
    try:
        proc = subprocess.run([str(CLUSTER), "up", str(cluster_dir)], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, f"cluster did not start:\n{proc.stdout}\n{proc.stderr}"
        assert set(daemon_pids(cluster_dir)) == {"munged", "slurmctld", "slurmd"}
        env["SLURM_CONF"] = str(cluster_dir / "etc" / "slurm.conf")
        print(f"local Slurm cluster up in {time.monotonic() - started:.1f} s")
        yield Cluster(cluster_dir, env)
    finally:
        pids = daemon_pids(cluster_dir)
        down = subprocess.run([str(CLUSTER), "down", str(cluster_dir)], env=env, capture_output=True,
                              text=True, timeout=120)
        still = {name: pid for name, pid in pids.items() if alive(pid)}
        assert down.returncode == 0 and not still, f"daemons left running: {still}\n{down.stderr}"


# What train and this script leave in a run folder (evaluate adds to it).
TRAIN_OUTPUTS = {"checkpoints", "config.json", "info.log", "verbose.log", "metrics.csv", "metrics.png",
                 "histograms", "pair_errors.csv", "pair_errors.png", "slurm-job.done"}

# Small and quick: one epoch, a tiny network, one CPU thread per task (--cpus-per-task=1),
# and evaluate's cheaper operating-point selection (one fit instead of two) without plots.
TINY = {"CSVIN": "alerts.csv", "EPOCHS": "1", "NN_UNITS": "8", "EVALUATE_ARGS": "--selection reuse --no-plots"}


def failure_cases() -> dict[str, tuple[dict, int, str]]:
    """name -> (environment, expected exit code, expected message in the job's log)."""
    cases = {
        "bad-cut": ({"VAL_CUT": "three"}, 10, "VAL_CUT must be a cut number, got 'three'"),
        "no-data": ({"CSVIN": "missing.csv"}, 10, "data set CSVIN=missing.csv not found"),
        "no-command": ({"LSTM_RNN_CORRELATION": "/nowhere/lstm-rnn-correlation"}, 11,
                       "not found: activate the virtual environment"),
        "runs-dir": ({"RUNS_DIR": "not-a-dir/runs"}, 12, "cannot create RUNS_DIR=not-a-dir/runs"),
        "bad-rows": ({"CSVIN": "bad.csv"}, 20, "ERROR in step train"),
        "bad-evaluate": ({"EVALUATE_ARGS": "--no-such-option"}, 30, "ERROR in step evaluate"),
    }
    if has_command("train"):
        # A MAX_HOURS budget that fits one epoch only: train stops after epoch 1 (it
        # never stops before its first), the task requeues itself, resumes, finds no
        # time for another epoch, and fails rather than requeueing forever.
        cases["budget"] = ({"EPOCHS": "3", "MAX_HOURS": "0.000001"}, 20, "leaves no time for another epoch")
    return cases


@dataclass
class Background:
    """Jobs submitted as soon as the cluster is up; later tests check them."""

    dir: Path
    array: str
    results: str
    results_first_record: dict
    failures: dict[str, str]


@pytest.fixture(scope="module")
def background(cluster, tmp_path_factory):
    """Submit the two-cut array with its dependent results job, and one job per failure case.

    They run while the (sequential) resume test runs, so the waits overlap.
    """
    work = tmp_path_factory.mktemp("slurm-work")
    write_tiny_dataset(work / "alerts.csv")
    (work / "bad.csv").write_text("incident,alert,cut\n1,an alert,3\n2,another alert,12\n")
    (work / "not-a-dir").write_text("")
    array = cluster.sbatch(JOB, "--array=0-1", "--cpus-per-task=1", cwd=work, env=dict(TINY))
    results = cluster.sbatch(RESULTS, f"--dependency=afterok:{array}", cwd=work, env={"FIGDIR": "figures"})
    (first,) = cluster.records(results)
    failures = {name: cluster.sbatch(JOB, "--array=5", "--cpus-per-task=1", cwd=work,
                                     env={**TINY, "RUNS_DIR": f"runs-{name}", **variables})
                for name, (variables, _, _) in failure_cases().items()}
    return Background(work, array, results, first, failures)


@pytest.fixture
def workdir(tmp_path):
    """A submit directory with a tiny data set alerts.csv."""
    write_tiny_dataset(tmp_path / "alerts.csv")
    return tmp_path


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_shellcheck_clean(script):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (scripts/install-ci-system-deps.sh installs it)")
    proc = subprocess.run(["shellcheck", "--shell=bash", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_job_script_declares_the_array_and_requeue():
    text = JOB.read_text()
    directives = re.findall(r"^#SBATCH\s+(\S+)", text, re.M)
    assert "--array=0-9" in directives and "--requeue" in directives
    assert any(d.startswith("--signal=B:USR1@") for d in directives)
    assert "set -euo pipefail" in text
    # every directive comes before the first command, or sbatch ignores it
    first_command = min(i for i, line in enumerate(text.splitlines())
                        if line.strip() and not line.startswith("#"))
    assert all(i < first_command for i, line in enumerate(text.splitlines()) if line.startswith("#SBATCH"))


def test_cluster_that_fails_to_start_leaves_no_daemon_running(tmp_path):
    reason = slurm_missing_reason()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ, SLURM_LOCAL_CPUS="not-a-number", PATH=f"{os.environ['PATH']}:/usr/sbin")
    proc = subprocess.run([str(CLUSTER), "up", str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 4 and "slurmctld did not start" in proc.stderr, proc.stderr
    assert daemon_pids(tmp_path) == {}, "pid files left behind"
    assert "CPUs" in proc.stderr, "the daemon's own complaint is not shown"


def checkpoints(run: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in (run / "checkpoints").glob("epoch-*.pt"))


# First, so that the background jobs (submitted by the fixture) run meanwhile.
@pytest.mark.usefixtures("background")
def test_interrupted_cut_resumes_when_requeued_and_when_resubmitted(cluster, workdir):
    needs("train")
    runs = workdir / "runs"
    long = {**TINY, "EPOCHS": "400"}
    # 1. USR1 (what --signal sends before the time limit) stops the task; it requeues
    #    itself and continues its own run folder from the last checkpoint.
    first = cluster.sbatch(JOB, "--array=2", "--cpus-per-task=1", cwd=workdir, env=long)
    run1 = runs / f"{first}_2"
    log1 = workdir / f"slurm-{first}_2.out"
    cluster.wait_until(lambda: checkpoints(run1) if run1.is_dir() else [], "the first checkpoint")
    proc = cluster.run("scancel", "--signal=USR1", "--batch", f"{first}_2")
    assert proc.returncode == 0, proc.stderr
    cluster.wait_until(lambda: "restart 1" in log1.read_text(), "the requeued task to start again")
    info = run1 / "info.log"
    resumed = cluster.wait_until(lambda: re.search(r"resumed from \S+ after epoch (\d+)", info.read_text()),
                                 "train to resume")
    text = log1.read_text()
    assert "received SIGUSR1 during step train" in text and "requeued job" in text, text
    assert f"resuming {run1.relative_to(workdir)} from its last checkpoint" in text, text
    assert f"{run1.name}/checkpoints/epoch-" in resumed.group(0)
    assert int(resumed.group(1)) >= 1

    # 2. Cancelled (as at a hard time limit), then resubmitted: a new job continues
    #    in a copy of the unfinished run; the old folder stays as it was.
    cluster.run("scancel", first)
    (record,) = cluster.wait(first).values()
    assert record["JobState"] == "CANCELLED", cluster.diagnostics()
    assert "received SIGTERM" in log1.read_text()
    done_epochs = checkpoints(run1)
    last = done_epochs[-1]
    second = cluster.sbatch(JOB, "--array=2", "--cpus-per-task=1", cwd=workdir,
                            env={**TINY, "EPOCHS": str(last + 1)})
    (record,) = cluster.wait(second).values()
    run2 = runs / f"{second}_2"
    text = (workdir / f"slurm-{second}_2.out").read_text()
    assert f"resuming from the last checkpoint of {run1.relative_to(workdir)}" in text, text
    assert checkpoints(run2) == done_epochs + [last + 1], "training did not continue where it stopped"
    assert checkpoints(run1) == done_epochs, "the earlier run folder was changed"
    assert (run2 / "slurm-job.resumed-from").read_text().strip() == run1.name
    assert f"after epoch {last}" in (run2 / "info.log").read_text()
    assert (runs / "cut-2-seed-2.run").read_text().strip() == run2.name
    needs("evaluate")
    assert (record["JobState"], exit_code(record)) == ("COMPLETED", 0), f"{text}\n{cluster.diagnostics()}"
    assert (run2 / "slurm-job.done").is_file() and not (run1 / "slurm-job.done").exists()

    # 3. A finished cut is not computed again.
    third = cluster.sbatch(JOB, "--array=2", "--cpus-per-task=1", cwd=workdir, env=dict(TINY))
    (record,) = cluster.wait(third).values()
    text = (workdir / f"slurm-{third}_2.out").read_text()
    assert (record["JobState"], exit_code(record)) == ("COMPLETED", 0), text
    assert f"finished already in {run2.relative_to(workdir)}" in text
    assert not (runs / f"{third}_2").exists()


def test_array_runs_one_cut_per_task_then_the_dependent_results_job(cluster, background):
    needs("train")
    workdir, job, results = background.dir, background.array, background.results
    # the results job waited for the whole array
    record = background.results_first_record
    assert record["JobState"] == "PENDING" and record["Reason"] == "Dependency", record

    tasks = cluster.wait(job)
    assert sorted(tasks) == ["0", "1"]
    evaluate_exists = has_command("evaluate")
    for task, rec in tasks.items():
        cut = int(task)
        run = workdir / "runs" / f"{job}_{task}"
        log = (workdir / f"slurm-{job}_{task}.out").read_text()
        assert run.is_dir(), f"no run folder {run}:\n{log}"
        config = json.loads((run / "config.json").read_text())
        assert (config["val_cut"], config["seed"]) == (cut, cut), "VAL_CUT/RAND_SEED not from the task id"
        assert config["epochs"] == 1 and config["units"] == [8] and config["threads"] == 1
        assert (run / "checkpoints" / "epoch-001.pt").is_file()
        assert (workdir / "runs" / f"cut-{cut}-seed-{cut}.run").read_text().strip() == f"{job}_{task}"
        assert "step train: done" in log
        if evaluate_exists:
            assert (rec["JobState"], exit_code(rec)) == ("COMPLETED", 0), log
            assert "step evaluate: done" in log and (run / "slurm-job.done").is_file()
            assert {p.name for p in run.iterdir()} - TRAIN_OUTPUTS, "evaluate wrote nothing into the run folder"
        else:
            assert exit_code(rec) == 30 and "ERROR in step evaluate" in log, log
            assert not (run / "slurm-job.done").exists()

    if not evaluate_exists:
        never = cluster.wait_until(
            lambda: [r for r in cluster.records(results) if r["Reason"] == "DependencyNeverSatisfied"],
            "Slurm to mark the results job's dependency as never satisfied", timeout=120)
        assert never[0]["JobState"] == "PENDING"
        cluster.run("scancel", results)
        pytest.skip("`lstm-rnn-correlation evaluate` is not in this checkout yet: the tasks failed at "
                    "that step with its exit code 30 and the afterok results job never started, as it should")

    (record,) = cluster.wait(results).values()
    ended = max(r["EndTime"] for r in tasks.values())
    assert record["StartTime"] >= ended, "the results job started before the array had finished"
    log = (workdir / f"slurm-results-{results}.out").read_text()
    if not has_command("results"):
        assert exit_code(record) == 50 and "results" in log, log
        pytest.skip("`lstm-rnn-correlation results` is not in this checkout yet: the dependent job ran "
                    "after the array and failed with its exit code 50; its outputs are unchecked")
    assert (record["JobState"], exit_code(record)) == ("COMPLETED", 0), log
    for task in ("0", "1"):
        assert f"runs/{job}_{task}" in log
    assert any((workdir / "figures").iterdir()), "the results job wrote no tables or figures"


def test_failing_steps_exit_with_their_own_codes(cluster, background):
    workdir = background.dir
    cases = failure_cases()
    assert set(cases) == set(background.failures)
    for name, (_, code, message) in cases.items():
        job = background.failures[name]
        (record,) = cluster.wait(job).values()
        log = (workdir / f"slurm-{job}_5.out").read_text()
        assert (record["JobState"], exit_code(record)) == ("FAILED", code), \
            f"{name}: {record['JobState']} {record['ExitCode']}\n{log}\n{cluster.diagnostics()}"
        assert message in log, f"{name}:\n{log}"
        assert not list(workdir.glob(f"runs-{name}/*/slurm-job.done")), f"{name}: a failed cut marked finished"
    if has_command("train"):
        # train's own error names the file and line of the bad row
        log = (workdir / f"slurm-{background.failures['bad-rows']}_5.out").read_text()
        assert re.search(r"bad\.csv\D{1,8}3\b", log), log
        job = background.failures["budget"]
        log = (workdir / f"slurm-{job}_5.out").read_text()
        assert "training stopped at the MAX_HOURS budget" in log and "requeued job" in log, log
        assert "restart 1" in log and "from its last checkpoint" in log, log
        assert checkpoints(workdir / "runs-budget" / f"{job}_5") == [1]
