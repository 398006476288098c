"""One configuration object for a training run, from flags and the original's environment.

Values come, in order of precedence, from command-line flags, then the original
prototype's environment variables (``CSVIN``, ``VAL_CUT``, ``RAND_SEED``, ``EPOCHS``,
``BATCH_SIZE``, ``MAX_PAIRS``, ``NN_UNITS``, ``NN_LEARNING_RATE``, ``OLD_JOB``,
``MAX_HOURS``), then the defaults of the chosen training scheme:

==============  =====================  ===========================================
value           ``paper``              ``inbatch`` (default)
==============  =====================  ===========================================
units           10                     96
input           one-hot (fixed)        learned 32-d embedding
pooling         last character         mean and max over the characters
epochs          10                     enough to read ~5M characters (at least 10)
batch_size      10000 pairs per step   64 alerts per step
learning rate   0.1 (SGD)              0.01 (AdamW)
loss            cosine-sigmoid BCE     ``supcon`` (+ benign spreading)
==============  =====================  ===========================================

Why these ``inbatch`` defaults (``benchmarks/compare_models.py``; 10-fold ``crossval``
on the AIT-ADS russellmitchell scenario, operating point chosen on an inner training
cut, mean IMR / ARF over the cuts for data and model seeds 0 and 1; LSA: 0.168 / 2.59
and 0.183 / 2.40):

* 64 units, mean pooling, 360 steps (the previous default): 0.192 / 6.5 and 0.182 / 8.8,
  a miss rate no better than LSA's.  Most of its misses are tiny incidents whose alerts
  differ from benign ones only in the hour of the timestamp (``ClamAV database update``
  at 03:32 is an attack phase, at 05:32 it is benign) and which the mean over ~80
  characters washes out.
* mean and max pooling keeps such single characters: 128 units, 360 steps: 0.115 / 4.0
  and 0.166 / 5.0 (a lower miss rate, but less than twice LSA's ARF); 1,000 steps (77
  epochs of the ~800 distinct training lines) bring the ARF back up: 128 units 0.115 /
  5.5 and 0.125 / 4.8; 96 units 0.112 / 6.2 and 0.114 / 5.0; 64 units 0.177 / 4.6
  (too narrow).  Neither more steps alone (64 units, mean: 0.189 / 9.4 and 0.138 / 9.3),
  nor 128 units with mean pooling (0.152 / 7.2 and 0.182 / 10.5), nor an ensemble of
  three seeds (0.189 / 7.5 and 0.150 / 10.0), nor the temperature (0.05, 0.2) held on
  both seeds.
* The length is a character budget rather than a number of steps because the LSTM's
  cost is per character: the bundled data set's lines are twice as long and four times
  as many, so 1,000 steps would be 21 epochs of it (~2 minutes a cut) where 10 suffice.

The resolved configuration is written to ``config.json`` in the run folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Mapping

from lstm_rnn_correlation.errors import UserError

SCHEMES = ("inbatch", "paper")

# Original environment variable -> RunConfig field.
ENVIRONMENT = {
    "CSVIN": "csv",
    "VAL_CUT": "val_cut",
    "RAND_SEED": "seed",
    "EPOCHS": "epochs",
    "BATCH_SIZE": "batch_size",
    "MAX_PAIRS": "max_pairs",
    "NN_UNITS": "units",
    "NN_LEARNING_RATE": "lr",
    "OLD_JOB": "resume",
    "MAX_HOURS": "max_hours",
}

SCHEME_DEFAULTS = {
    "paper": dict(units=(10,), input="onehot", epochs=10, batch_size=10000, lr=0.1,
                  optimizer="sgd", weight_decay=0.0, loss="cosine-bce", pooling="last"),
    "inbatch": dict(units=(96,), input="embedding", chars=5_000_000, batch_size=64, lr=0.01,
                    optimizer="adamw", weight_decay=0.01, loss="supcon", pooling="meanmax"),
}

# Without EPOCHS, the inbatch scheme trains for about ``steps`` optimiser steps (when
# given) or until it has read about ``chars`` characters, but never fewer passes than this.
MIN_EPOCHS = 10

# Values a resumed run may change (budgets and where it runs); everything else must match.
RESUMABLE = {"epochs", "steps", "chars", "max_hours", "quiet", "device", "amp", "threads", "resume", "out", "csv"}


@dataclass
class RunConfig:
    """All values of one training run.  ``None`` means "the scheme's default".

    Parameters
    ----------
    csv : data set CSV (columns incident, alert, cut); ``CSVIN``.
    val_cut : cut (0-9) held out for validation; ``VAL_CUT``.
    seed : seed for everything random; ``RAND_SEED``.
    epochs : passes over the training data; ``EPOCHS``.  The ``inbatch`` default is
        measured in steps instead (see ``steps``); ``train`` writes the number of epochs
        it chose into the run's ``config.json``.
    steps : without ``epochs``: train for ``max(MIN_EPOCHS, ceil(steps / batches per epoch))``
        epochs.
    chars : without ``epochs`` and ``steps`` (the ``inbatch`` default, 5,000,000): train for
        ``max(MIN_EPOCHS, ceil(chars / characters per epoch))`` epochs, the characters of
        an epoch being those of its distinct alerts (cut to ``max_chars``).  The LSTM's cost
        is per character, and what a small data set lacks is passes: 5 million characters
        are 10 epochs (the minimum) of the bundled data set, whose lines are long, and
        about 77 epochs (1,000 steps) of AIT-ADS, whose ~800 distinct training lines are short.
    batch_size : pairs per step (``paper``) or alerts per step (``inbatch``); ``BATCH_SIZE``.
    max_pairs : pairs scored per epoch at most (None: all); ``MAX_PAIRS``.
    units : LSTM layer sizes; ``NN_UNITS`` (``"10"`` or ``"64,64"``).
    lr : learning rate; ``NN_LEARNING_RATE``.
    resume : run folder to continue from its last checkpoint; ``OLD_JOB``.
    max_hours : wall-clock budget; stop after the last epoch that fits; ``MAX_HOURS``.
    out : run folder to write.
    scheme : ``inbatch`` (default) or ``paper`` (the original exactly).
    loss : ``cosine-bce`` (paper), ``sigmoid``, ``contrastive`` or ``supcon``.
    optimizer : ``sgd`` or ``adamw``.
    weight_decay : AdamW weight decay.
    input : ``onehot`` or ``embedding``; embedding_dim its size.
    pooling : ``last``, ``mean``, ``max`` or ``meanmax``; bidirectional: two-way LSTM layers.
    max_chars : alerts are cut to this many leading characters.
    group_size : ``inbatch``: alerts of one incident kept together in a batch.
    count_power : ``inbatch``: a de-duplicated alert weighs ``count ** count_power``.
    temperature : ``supcon``: softmax temperature of the contrastive part.
    max_eval_alerts : distinct alerts (a fixed random sample) used for the per-epoch pair
        metrics of each split; 0 turns the per-epoch pair metrics off.
    patience : stop when the validation loss has not improved for this many epochs.
    device : ``auto``, ``cpu`` or ``cuda``; amp: mixed precision on CUDA.
    threads : CPU threads for torch (None: half the usable cores, at least 1, at most 8).
    quiet : no progress bars.
    """

    csv: str | None = None
    val_cut: int = 0
    seed: int = 0
    epochs: int | None = None
    steps: int | None = None
    chars: int | None = None
    batch_size: int | None = None
    max_pairs: int | None = None
    units: tuple[int, ...] | None = None
    lr: float | None = None
    resume: str | None = None
    max_hours: float | None = None
    out: str | None = None
    scheme: str = "inbatch"
    loss: str | None = None
    optimizer: str | None = None
    weight_decay: float | None = None
    input: str | None = None
    embedding_dim: int = 32
    pooling: str | None = None
    bidirectional: bool = False
    max_chars: int | None = 1024
    group_size: int = 8
    count_power: float = 0.5
    temperature: float = 0.1
    max_eval_alerts: int = 1000
    patience: int | None = None
    device: str = "auto"
    amp: bool = False
    threads: int | None = None
    quiet: bool = False

    def resolved(self) -> "RunConfig":
        """A copy with every ``None`` scheme default filled in, and values checked."""
        if self.scheme not in SCHEMES:
            raise UserError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        values = asdict(self)
        for key, default in SCHEME_DEFAULTS[self.scheme].items():
            if values.get(key) is None:
                values[key] = default
        values["units"] = tuple(int(u) for u in values["units"])
        config = RunConfig(**values)
        config.check()
        return config

    def check(self) -> None:
        """Raise :class:`UserError` for values that cannot work."""
        if not 0 <= int(self.val_cut) <= 9:
            raise UserError(f"val_cut must be a cut 0-9, got {self.val_cut}")
        if self.max_eval_alerts < 0:
            raise UserError(f"max_eval_alerts must be 0 (off) or more, got {self.max_eval_alerts}")
        for name in ("epochs", "steps", "chars", "batch_size", "embedding_dim", "group_size"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise UserError(f"{name} must be at least 1, got {value}")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise UserError(f"max_pairs must be at least 1, got {self.max_pairs}")
        if self.units is not None and (not self.units or min(self.units) < 1):
            raise UserError(f"units must be positive LSTM sizes, got {self.units}")
        if self.lr is not None and not self.lr > 0:
            raise UserError(f"learning rate must be positive, got {self.lr}")
        if self.max_hours is not None and not self.max_hours > 0:
            raise UserError(f"max_hours must be positive, got {self.max_hours}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise UserError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.optimizer not in (None, "sgd", "adamw"):
            raise UserError(f"optimizer must be sgd or adamw, got {self.optimizer!r}")
        if not self.temperature > 0:
            raise UserError(f"temperature must be positive, got {self.temperature}")
        if self.loss not in (None, "cosine-bce", "sigmoid", "contrastive", "supcon"):
            raise UserError(f"unknown loss {self.loss!r}")
        if self.scheme == "paper" and self.loss not in (None, "cosine-bce"):
            raise UserError("the paper scheme uses the paper's loss (cosine-bce) only")
        if self.scheme == "inbatch" and self.loss == "cosine-bce":
            raise UserError("loss cosine-bce is the paper scheme's; use --loss sigmoid for the in-batch scheme")

    def to_dict(self) -> dict:
        """Plain JSON values."""
        d = asdict(self)
        if d["units"] is not None:
            d["units"] = list(d["units"])
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunConfig":
        """Inverse of :meth:`to_dict`; keys this version does not know are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        d = dict(d)
        if d.get("units") is not None:
            d["units"] = tuple(d["units"])
        return cls(**d)

    def write(self, path: str | os.PathLike) -> None:
        """Write as indented JSON, atomically."""
        from lstm_rnn_correlation.fileio import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike) -> "RunConfig":
        """Read a ``config.json`` written by :meth:`write`."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise UserError(f"{path}: no such configuration file") from None
        except (json.JSONDecodeError, TypeError) as exc:
            raise UserError(f"{path}: not a run configuration ({exc})") from None


def parse_units(text: str) -> tuple[int, ...]:
    """``"10"`` -> ``(10,)``, ``"64,64"`` -> ``(64, 64)``."""
    try:
        units = tuple(int(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(f"expected comma-separated layer sizes such as 10 or 64,64, got {text!r}") from None
    if not units or min(units) < 1:
        raise ValueError(f"expected positive layer sizes, got {text!r}")
    return units


_PARSERS = {
    "csv": str, "resume": str, "val_cut": int, "seed": int, "epochs": int, "steps": int, "batch_size": int,
    "max_pairs": int, "units": parse_units, "lr": float, "max_hours": float,
}


def from_environment(environ: Mapping[str, str] | None = None) -> dict:
    """Field values set through the original's environment variables (empty ones ignored)."""
    environ = os.environ if environ is None else environ
    values = {}
    for variable, name in ENVIRONMENT.items():
        text = environ.get(variable)
        if text is None or text.strip() == "" or text.strip().lower() == "none":
            continue
        try:
            values[name] = _PARSERS[name](text.strip())
        except ValueError as exc:
            raise UserError(f"environment variable {variable}={text!r}: {exc}") from None
    return values


def build_config(flags: Mapping[str, object], environ: Mapping[str, str] | None = None) -> RunConfig:
    """A :class:`RunConfig` from flag values (None = not given), over environment values.

    Parameters
    ----------
    flags : field name -> value from the command line; ``None`` means the flag was not given.
    environ : environment (default ``os.environ``).
    """
    values = from_environment(environ)
    values.update({k: v for k, v in flags.items() if v is not None})
    known = {f.name for f in fields(RunConfig)}
    return RunConfig(**{k: v for k, v in values.items() if k in known})


def merge_for_resume(saved: RunConfig, given: RunConfig, explicit: set[str]) -> RunConfig:
    """The configuration of a resumed run: the saved one, with the explicitly given budget values.

    Parameters
    ----------
    saved : the run folder's configuration.
    given : the configuration built from this invocation's flags and environment.
    explicit : names of the fields this invocation set (flags or environment).
    """
    values = saved.to_dict()
    given_d = given.to_dict()
    for name in sorted(explicit):
        if name in RESUMABLE:
            values[name] = given_d[name]
        elif given_d[name] != values.get(name):
            raise UserError(
                f"cannot change {name} when resuming (run has {values.get(name)!r}, given {given_d[name]!r})"
            )
    return RunConfig.from_dict(values)
