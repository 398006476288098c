"""setup-for-cuda-on-aws.sh: lint, dry run, the driver -> wheel choice, idempotence checks.

A real run needs a GPU instance and the network; these tests run the script with
--dry-run (and one real run that must stop at the driver check), with fake
``apt-get``/``sudo``/``dpkg-query``/``nvidia-smi`` first on PATH so that nothing on
the machine can change and the outcome does not depend on the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "setup-for-cuda-on-aws.sh"

STEPS = [
    "system packages",
    "NVIDIA driver",
    "virtual environment",
    "pip",
    "PyTorch",
    "requirements.txt without replacing torch",
    "lstm-rnn-correlation (editable",
    "torch.cuda.is_available()",
    "GPU smoke run",
]


def torch_pin() -> str:
    """The torch version requirements.txt pins."""
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.match(r"\s*torch\s*==\s*([^\s;#]+)", line)
        if m:
            return m.group(1)
    raise AssertionError("requirements.txt pins no torch")


def write_tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def fake_system(tmp_path):
    """PATH with recording fakes for the tools that change the system or report on it.

    Returns a function ``run(*args, cuda="12.8", installed=False)`` that runs the
    script and returns (completed process, list of fake tools that were called).
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    for tool in ("apt-get", "sudo"):
        write_tool(bin_dir, tool, f'echo "{tool} $*" >> "{calls}"; exit 0')
    scratch = tmp_path / "scratch"  # TMPDIR: must stay empty
    scratch.mkdir()

    def run(*args, cuda: str | None = "12.8", installed: bool = False):
        if cuda is None:
            write_tool(bin_dir, "nvidia-smi", "echo 'NVIDIA-SMI has failed' >&2; exit 9")
        else:
            write_tool(bin_dir, "nvidia-smi",
                       f"echo '| NVIDIA-SMI 570.00   Driver Version: 570.00   CUDA Version: {cuda}  |'")
        status = "install ok installed" if installed else "unknown ok not-installed"
        write_tool(bin_dir, "dpkg-query", f"printf '{status}'; exit {0 if installed else 1}")
        env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", TMPDIR=str(scratch))
        env.pop("VENV", None)
        env.pop("TORCH_CUDA", None)
        proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60)
        called = calls.read_text().splitlines() if calls.exists() else []
        assert list(scratch.iterdir()) == [], "the script left files in TMPDIR"
        return proc, called

    return run


def test_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (scripts/install-ci-system-deps.sh installs it)")
    proc = subprocess.run(["shellcheck", "--shell=bash", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_help_and_bad_arguments():
    help_ = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert help_.returncode == 0
    assert "--dry-run" in help_.stdout and "Exit codes" in help_.stdout
    bad = subprocess.run(["bash", str(SCRIPT), "--no-such-option"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "unknown argument: --no-such-option" in bad.stderr
    bad_cuda = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--cuda", "12.8"],
                              capture_output=True, text=True)
    assert bad_cuda.returncode == 1 and "cu128" in bad_cuda.stderr


def test_dry_run_prints_every_step_and_changes_nothing(fake_system, tmp_path):
    venv = tmp_path / "venv"
    proc, called = fake_system("--dry-run", "--venv", str(venv), cuda="12.8")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    headers = [line[len("==> step: "):] for line in out.splitlines() if line.startswith("==> step: ")]
    assert len(headers) == len(STEPS)
    for header, expected in zip(headers, STEPS):
        assert header.startswith(expected), (header, expected)

    py = f"{venv}/bin/python"
    expected_commands = [
        "apt-get install -y -q python3-venv python3-dev python3-pip build-essential",
        f"python3 -m venv {venv}",
        f"{py} -m pip install --quiet --upgrade pip",
        f"{py} -m pip install --quiet torch=={torch_pin()} --index-url https://download.pytorch.org/whl/cu128",
        f"{py} -m pip install --quiet -r {venv}/requirements-without-torch.txt -c {venv}/torch-constraint.txt",
        f"{py} -m pip install --quiet --no-deps -e {REPO}",
        "torch.cuda.is_available()",
        "lstm-rnn-correlation generate",
        "lstm-rnn-correlation preprocess",
        "lstm-rnn-correlation train",
    ]
    position = 0
    for command in expected_commands:
        found = out.find(command, position)
        assert found >= 0, f"dry run does not print {command!r} (in order):\n{out}"
        position = found
    train_line = next(line for line in out.splitlines() if "lstm-rnn-correlation train" in line)
    assert "--device cuda" in train_line and "--epochs 1" in train_line
    # One batch: the pair cap equals the batch size.
    assert re.search(r"MAX_PAIRS=(\d+) BATCH_SIZE=\1\b", train_line), train_line

    assert called == [], f"a dry run called {called}"
    assert not venv.exists(), "a dry run created the virtual environment"
    # A non-default venv is not the Makefile's: its stamp is not touched.
    assert "touch" not in out


def test_driver_cuda_version_picks_the_wheel_variant(fake_system, tmp_path):
    venv = str(tmp_path / "venv")
    for driver_cuda, variant in [("13.1", "cu130"), ("12.8", "cu128"), ("12.9", "cu128"), ("12.6", "cu126")]:
        proc, _ = fake_system("--dry-run", "--venv", venv, cuda=driver_cuda)
        assert proc.returncode == 0, proc.stderr
        assert f"--index-url https://download.pytorch.org/whl/{variant}" in proc.stdout, driver_cuda
    # --cuda wins over the driver's choice
    proc, _ = fake_system("--dry-run", "--venv", venv, "--cuda", "cu126", cuda="13.0")
    assert "whl/cu126" in proc.stdout
    # A driver too old for any wheel stops the script at step 2, even in a dry run.
    proc, called = fake_system("--dry-run", "--venv", venv, cuda="11.8")
    assert proc.returncode == 11
    assert "supports CUDA 11.8 only" in proc.stderr
    assert "virtual environment" not in proc.stdout and called == []


def test_real_run_without_a_driver_stops_before_changing_anything(fake_system, tmp_path):
    venv = tmp_path / "venv"
    proc, called = fake_system("--venv", str(venv), cuda=None, installed=True)
    assert proc.returncode == 11, proc.stdout + proc.stderr
    assert "nvidia-smi is missing or fails" in proc.stderr
    assert "==> step: system packages" in proc.stdout and "already installed" in proc.stdout
    assert called == [] and not venv.exists()


def _fake_venv(root: Path, torch_version: str, cuda: str | None) -> Path:
    """A real virtual environment (no pip) whose `torch` is a stub reporting these versions."""
    venv = root / "fakevenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text(
        f"__version__ = {torch_version!r}\n"
        f"class version:\n    cuda = {cuda!r}\n"
    )
    return venv


def test_existing_environment_and_cuda_torch_are_not_installed_again(fake_system, tmp_path):
    pin = torch_pin()
    venv = _fake_venv(tmp_path, f"{pin}+cu128", "12.8")
    proc, called = fake_system("--dry-run", "--venv", str(venv), cuda="12.8", installed=True)
    assert proc.returncode == 0, proc.stderr
    sections = proc.stdout.split("==> step: ")
    section = {s.split("\n", 1)[0].split(" ")[0]: s for s in sections[1:]}
    assert "already installed" in section["system"] and "apt-get" not in section["system"]
    assert "already exists" in section["virtual"] and "-m venv" not in section["virtual"]
    assert "already installed" in section["PyTorch"] and "--index-url" not in section["PyTorch"]
    assert called == []


@pytest.mark.parametrize("installed_torch, cuda", [("{pin}+cpu", None), ("{pin}+cu126", "12.6"),
                                                   ("2.0.0+cu128", "12.8")])
def test_cpu_or_other_torch_builds_are_replaced(fake_system, tmp_path, installed_torch, cuda):
    venv = _fake_venv(tmp_path, installed_torch.format(pin=torch_pin()), cuda)
    proc, _ = fake_system("--dry-run", "--venv", str(venv), cuda="12.8", installed=True)
    assert proc.returncode == 0, proc.stderr
    assert f"torch=={torch_pin()} --index-url https://download.pytorch.org/whl/cu128" in proc.stdout


def test_smoke_run_commands_are_accepted_by_the_cli(fake_system, tmp_path):
    """The smoke run's printed commands parse with this checkout's CLI (flags exist, values valid)."""
    import importlib.util
    import shlex

    from lstm_rnn_correlation.cli import COMMANDS, build_parser

    proc, _ = fake_system("--dry-run", "--venv", str(tmp_path / "venv"))
    smoke = proc.stdout.split("==> step: GPU smoke run", 1)[1]
    commands = [shlex.split(line.strip()[2:]) for line in smoke.splitlines() if line.strip().startswith("+ ")]
    assert [c for c in commands if any(t.endswith("lstm-rnn-correlation") for t in c)], smoke
    seen = []
    for argv in commands:
        tool = next(i for i, t in enumerate(argv) if t.endswith("lstm-rnn-correlation"))
        assert all(re.fullmatch(r"env|[A-Z_]+=\S+", t) for t in argv[:tool]), argv
        args = argv[tool + 1:]
        name = args[0]
        if importlib.util.find_spec(COMMANDS[name][0]) is None:
            continue
        build_parser(args).parse_args(args)  # exits (fails the test) on an unknown flag
        seen.append(name)
    assert "train" in seen or importlib.util.find_spec(COMMANDS["train"][0]) is None
    assert seen[:2] == ["generate", "preprocess"]
