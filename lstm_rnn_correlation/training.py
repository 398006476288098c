"""Training the siamese LSTM: data, the two schemes, the run folder, and the ``train`` command.

Read top to bottom: loading a data set CSV, the device and thread set-up, one
epoch of each scheme (:func:`train_epoch_inbatch`, :func:`train_epoch_paper`), the
per-epoch evaluation, and :func:`train`, which ties them together and writes the
run folder::

    RUNDIR/config.json               resolved configuration (flags > environment > defaults)
    RUNDIR/info.log, verbose.log     progress and details (appended when resumed)
    RUNDIR/checkpoints/epoch-NNN.pt  model, optimiser and history (torch weights_only format)
    RUNDIR/metrics.csv, metrics.png  per epoch: loss, pair accuracy, rates, wall time
    RUNDIR/histograms/epoch-NNN.csv  model output histograms, correlated vs uncorrelated pairs
    RUNDIR/histograms/epoch-NNN.png
    RUNDIR/pair_errors.csv, .png     TP/TN/FP/FN per incident on validation pairs (last epoch)

Same seed, same numbers on the CPU: the model is initialised from the seed, each
epoch's order comes from ``(seed, epoch)``, so a resumed run continues exactly as an
uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstm_rnn_correlation import diagnostics
from lstm_rnn_correlation.config import MIN_EPOCHS, SCHEME_DEFAULTS, RunConfig, build_config, merge_for_resume
from lstm_rnn_correlation.errors import AlertParseError, UserError
from lstm_rnn_correlation.losses import cosine_bce, make_loss, pair_targets
from lstm_rnn_correlation.model import POOLINGS, EncoderConfig, HeadConfig, SiameseModel
from lstm_rnn_correlation.pairs import incident_batches, paper_pair_batches
from lstm_rnn_correlation.text import EncodedAlerts, deduplicate, encode_alerts, length_sorted_batches

log = logging.getLogger("lstm_rnn_correlation.training")

CHECKPOINT_FORMAT = "lstm-rnn-correlation checkpoint"
CHECKPOINT_VERSION = 1
BENIGN = -1

# ---------------------------------------------------------------- data


def incident_labels(values) -> tuple[np.ndarray, dict]:
    """Integer labels (benign = -1) and display names from incident values.

    ``benign`` (any case) and -1 are benign; integers (or integer strings) keep their
    value; any other names are numbered 0, 1, ... in sorted order.

    Parameters
    ----------
    values : array-like of incidents.

    Returns ``(labels, names)`` with ``names`` mapping each label to its display name.
    """
    raw = list(values)
    benign = np.array([isinstance(v, str) and v.strip().lower() == "benign" for v in raw])
    ints = []
    all_int = True
    for v, b in zip(raw, benign):
        if b:
            ints.append(BENIGN)
            continue
        if isinstance(v, (bool, np.bool_)) or v is None or (isinstance(v, float) and math.isnan(v)):
            raise UserError(f"incident {v!r} is neither an integer id, a name, nor 'benign'")
        try:
            number = int(v)
            if isinstance(v, (float, np.floating)) and number != v:
                raise ValueError
            ints.append(number)
        except (TypeError, ValueError):
            all_int = False
            break
    if all_int:
        labels = np.asarray(ints, dtype=np.int64)
        if (labels < BENIGN).any():
            raise UserError(f"incident ids must be >= 0 (or -1/'benign'), got {int(labels.min())}")
        names = {int(k): ("benign" if k == BENIGN else str(int(k))) for k in np.unique(labels)}
        return labels, names
    text = [str(v).strip() for v in raw]
    distinct = sorted({t for t, b in zip(text, benign) if not b})
    index = {name: i for i, name in enumerate(distinct)}
    labels = np.array([BENIGN if b else index[t] for t, b in zip(text, benign)], dtype=np.int64)
    names = {i: name for name, i in index.items()}
    if benign.any():
        names[BENIGN] = "benign"
    return labels, names


def load_dataset(path: str | os.PathLike) -> pd.DataFrame:
    """Read a data set CSV (``incident``, ``alert``, ``cut``) and check every row.

    Returns a DataFrame with ``incident`` (as written), ``label`` (int, benign -1),
    ``alert`` (str) and ``cut`` (int 0-9).  A bad row raises :class:`AlertParseError`
    naming the file and line.

    Parameters
    ----------
    path : CSV file.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such data set file") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path}: not a data set CSV ({str(exc).strip()})") from None
    missing = [c for c in ("incident", "alert", "cut") if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} (need incident, alert, cut)")
    if frame.empty:
        raise UserError(f"{path}: no alerts")

    def row_error(i: int, reason: str):
        row = frame.iloc[i]
        return AlertParseError(path, i + 2, reason, f"{row.incident},{row.alert},{row.cut}")

    cuts = pd.to_numeric(frame.cut, errors="coerce")
    bad = np.flatnonzero(~cuts.isin(range(10)).to_numpy())
    if len(bad):
        raise row_error(bad[0], f"cut must be an integer 0-9, got {frame.cut.iloc[bad[0]]!r}")
    empty = np.flatnonzero((frame.incident.str.strip() == "").to_numpy())
    if len(empty):
        raise row_error(empty[0], "empty incident (use an integer id or 'benign')")
    try:
        labels, _ = incident_labels(frame.incident)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    return pd.DataFrame({"incident": frame.incident, "label": labels, "alert": frame.alert,
                         "cut": cuts.astype(np.int64)})


# ---------------------------------------------------------------- device, threads, seeds


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else the CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but PyTorch sees no CUDA device")
    return torch.device(name)


def default_threads() -> int:
    """Half the usable CPU cores (at least 1, at most 8).

    Measured on a 2-core machine shared with other jobs: one torch thread ran the
    LSTM 3-5x faster than two, because two threads on busy cores wait on each
    other at every one of the ~200 time steps; leaving half the cores free keeps
    that from happening, and small LSTM matrices gain little beyond 8 threads.
    """
    if _THREADS_OVERRIDE:
        return _THREADS_OVERRIDE[0]
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores // 2))


# Set by a worker process of ``crossval --jobs`` to its share of the cores.
_THREADS_OVERRIDE: list[int] = []


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)``, restoring the old value after."""
    old = torch.get_num_threads()
    torch.set_num_threads(int(n) if n else default_threads())
    try:
        yield
    finally:
        torch.set_num_threads(old)


def build_model(config: RunConfig) -> SiameseModel:
    """The siamese model a resolved configuration describes (initialised from the global torch seed)."""
    encoder = EncoderConfig(units=config.units, input=config.input, embedding_dim=config.embedding_dim,
                            pooling=config.pooling, bidirectional=config.bidirectional,
                            max_chars=config.max_chars)
    if config.loss == "sigmoid":
        # Learnable scale and bias (as in SigLIP): the paper's fixed sigmoid(cos) can only
        # reach [0.27, 0.73], so its loss never gets small and its gradient never stops.
        head = HeadConfig(scale=10.0, bias=-5.0, learnable=True)
    else:
        head = HeadConfig()
    return SiameseModel(encoder, head)


def build_optimizer(config: RunConfig, model: SiameseModel) -> torch.optim.Optimizer:
    """SGD (the paper) or AdamW (the default), at the configured learning rate."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    rest = [p for n, p in model.named_parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr)


# ---------------------------------------------------------------- prepared alerts


@dataclass
class AlertSet:
    """Alerts ready for the model: distinct strings, their labels, counts and codes."""

    alerts: list
    labels: np.ndarray
    counts: np.ndarray
    encoded: EncodedAlerts
    max_chars: int | None = None

    @classmethod
    def build(cls, alerts, labels, max_chars: int | None, deduplicate_alerts: bool = True) -> "AlertSet":
        """Encode ``alerts`` (with integer ``labels``), collapsing identical (alert, label) pairs."""
        alerts = list(alerts)
        labels = np.array(labels, dtype=np.int64)  # a writable copy
        if len(alerts) != len(labels):
            raise UserError(f"{len(alerts)} alerts but {len(labels)} incidents")
        if deduplicate_alerts:
            unique = deduplicate(alerts, labels)
            alerts, labels, counts = unique.alerts, unique.labels, unique.counts
        else:
            counts = np.ones(len(alerts), dtype=np.int64)
        return cls(alerts, labels, counts, encode_alerts(alerts, max_chars=max_chars), max_chars)

    def __len__(self) -> int:
        return len(self.alerts)

    def subset(self, size: int, seed: int) -> "AlertSet":
        """At most ``size`` distinct alerts, drawn once from ``seed`` (all of them when fewer)."""
        if len(self) <= size:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self), size=size, replace=False))
        alerts = [self.alerts[i] for i in keep]
        encoded = encode_alerts(alerts, max_chars=self.max_chars)
        return AlertSet(alerts, self.labels[keep], self.counts[keep], encoded, self.max_chars)


def default_epochs(config: RunConfig, train_set: "AlertSet") -> int:
    """Epochs of an ``inbatch`` run without ``epochs``: enough for ``steps`` optimiser steps
    when given, else for reading ``chars`` characters; at least ``MIN_EPOCHS``."""
    if config.steps is not None:
        per_epoch = max(1, math.ceil(len(train_set) / config.batch_size))
        epochs = max(MIN_EPOCHS, math.ceil(config.steps / per_epoch))
        log.info("%d epochs: about %d steps of %d alerts at %d steps per epoch (at least %d epochs)",
                 epochs, config.steps, config.batch_size, per_epoch, MIN_EPOCHS)
        return epochs
    if config.chars is None:
        raise UserError("the training length needs epochs, steps or chars")
    per_epoch = max(1, int(train_set.encoded.lengths.sum()))
    epochs = max(MIN_EPOCHS, math.ceil(config.chars / per_epoch))
    log.info("%d epochs: about %d characters read at %d per epoch (at least %d epochs)",
             epochs, config.chars, per_epoch, MIN_EPOCHS)
    return epochs


def embed_alert_set(model: SiameseModel, alerts: AlertSet, device: torch.device, batch_size: int = 512,
                    amp: bool = False) -> torch.Tensor:
    """Unit vectors of every alert in ``alerts`` (float32, on ``device``), length-bucketed batches."""
    out = torch.empty(len(alerts), model.encoder.output_dim, dtype=torch.float32, device=device)
    was_training = model.training
    model.eval()
    with torch.no_grad(), _autocast(device, amp):
        for idx in length_sorted_batches(alerts.encoded.lengths, batch_size):
            codes, lengths = alerts.encoded.batch(idx)
            out[torch.from_numpy(idx).to(device)] = model.embed(codes.to(device), lengths.to(device)).float()
    model.train(was_training)
    return out


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device_type=device.type, dtype=torch.float16, enabled=bool(amp and device.type == "cuda"))


# ---------------------------------------------------------------- one epoch of each scheme


@dataclass
class EpochStats:
    """Running totals of one training epoch."""

    loss_sum: float = 0.0
    steps: int = 0
    pairs: int = 0

    @property
    def loss(self) -> float:
        """Mean step loss."""
        return self.loss_sum / self.steps if self.steps else float("nan")


def train_epoch_inbatch(model, optimizer, scaler, loss_fn, data: AlertSet, config: RunConfig, epoch: int,
                        device: torch.device, progress) -> EpochStats:
    """One pass over the distinct training alerts: each step encodes a batch once and scores all its pairs."""
    rng = np.random.default_rng([config.seed, epoch])
    batches = incident_batches(data.labels, config.batch_size, config.group_size, rng)
    labels = torch.from_numpy(data.labels).to(device)
    weights = torch.from_numpy(data.counts.astype(np.float32) ** config.count_power).to(device)
    stats = EpochStats()
    model.train()
    for idx in progress(batches, desc=f"epoch {epoch + 1} batches"):
        if config.max_pairs is not None and stats.pairs >= config.max_pairs:
            break
        if len(idx) < 2:
            continue  # a lone alert has no pair to score
        codes, lengths = data.encoded.batch(idx)
        with _autocast(device, config.amp):
            z = model.embed(codes.to(device), lengths.to(device))
        cos = z.float() @ z.float().T
        idx_t = torch.from_numpy(idx).to(device)
        loss = loss_fn(cos, labels[idx_t], weights[idx_t], model.head)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        stats.loss_sum += float(loss.detach())
        stats.steps += 1
        stats.pairs += len(idx) * (len(idx) - 1)
    return stats


def train_epoch_paper(model, optimizer, scaler, data: AlertSet, config: RunConfig, epoch: int,
                      device: torch.device, progress, micro_batch: int = 1024) -> EpochStats:
    """One pass of the original scheme: all ordered pairs, shuffled, ``batch_size`` pairs per SGD step.

    Each step's pairs go through the encoder in micro-batches whose gradients add up
    to the step's mean loss (the same gradient, in bounded memory).
    """
    n = len(data)
    total = n * n if config.max_pairs is None else min(n * n, config.max_pairs)
    steps = math.ceil(total / config.batch_size)
    key = int(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0])
    labels = torch.from_numpy(data.labels)
    stats = EpochStats()
    model.train()
    batches = paper_pair_batches(n, config.batch_size, key, config.max_pairs)
    for left, right in progress(batches, desc=f"epoch {epoch + 1} steps", total=steps):
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for m in range(0, len(left), micro_batch):
            li, ri = left[m : m + micro_batch], right[m : m + micro_batch]
            a, a_len = data.encoded.batch(li)
            b, b_len = data.encoded.batch(ri)
            targets = ((labels[li] == labels[ri]) & (labels[li] >= 0)).to(device)
            with _autocast(device, config.amp):
                logits = model.pair_logits(a.to(device), a_len.to(device), b.to(device), b_len.to(device))
            loss = cosine_bce(logits.float(), targets) * (len(li) / len(left))
            scaler.scale(loss).backward()
            step_loss += float(loss.detach())
        scaler.step(optimizer)
        scaler.update()
        stats.loss_sum += step_loss
        stats.steps += 1
        stats.pairs += len(left)
    return stats


# ---------------------------------------------------------------- evaluation


def evaluate(model, loss_fn, data: AlertSet, config: RunConfig, device: torch.device,
             threshold: float = 0.5) -> tuple[dict, np.ndarray]:
    """Pair metrics over all ordered pairs of ``data`` (see :func:`diagnostics.pair_metrics`) and the loss.

    ``threshold``: the output above which a pair counts as predicted correlated.

    Returns ``(metrics, prob)`` where ``prob`` is the ``[n, n]`` pair-output matrix.
    """
    z = embed_alert_set(model, data, device, amp=config.amp)
    with torch.no_grad():
        cos = z @ z.T
        prob = loss_fn.probability(cos, model.head) if loss_fn is not None else torch.sigmoid(model.head(cos))
        labels = torch.from_numpy(data.labels).to(device)
        if loss_fn is None:  # the paper's loss: mean BCE over all ordered pairs of original alerts
            w = torch.from_numpy(diagnostics.pair_weight_matrix(data.counts)).to(device=device, dtype=torch.float64)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                model.head(cos), pair_targets(labels, labels).float(), reduction="none").double()
            loss = float((bce * w).sum() / w.sum().clamp_min(1))
        else:
            weights = torch.from_numpy(data.counts.astype(np.float32) ** config.count_power).to(device)
            loss = float(loss_fn(cos, labels, weights, model.head))
    prob = prob.double().cpu().numpy()
    metrics = diagnostics.pair_metrics(prob, data.labels, data.counts, threshold=threshold)
    metrics["loss"] = loss
    return metrics, prob


def _calibrates_threshold(loss_fn) -> bool:
    """Losses whose output ``(1 + cos) / 2`` has no meaningful 0.5 (see diagnostics.balanced_threshold)."""
    return loss_fn is not None and loss_fn.name in ("supcon", "contrastive")


# ---------------------------------------------------------------- run folder, checkpoints


def checkpoint_path(run_dir: Path, epoch: int) -> Path:
    """``RUNDIR/checkpoints/epoch-NNN.pt`` (``epoch`` counted from 1)."""
    return Path(run_dir) / "checkpoints" / f"epoch-{epoch:03d}.pt"


def last_checkpoint(path: str | os.PathLike) -> Path:
    """The newest checkpoint of a run folder (or ``path`` itself when it is a file)."""
    path = Path(path)
    if path.is_file():
        return path
    found = sorted((path / "checkpoints").glob("epoch-*.pt"),
                   key=lambda p: int(re.search(r"(\d+)", p.stem).group(1)))
    if not found:
        raise UserError(f"{path}: no checkpoints (expected {path / 'checkpoints' / 'epoch-NNN.pt'})")
    return found[-1]


def save_checkpoint(path: Path, model: SiameseModel, optimizer, config: RunConfig, epoch: int,
                    history: list[dict]) -> None:
    """Write a checkpoint of plain tensors and values (loadable with ``weights_only=True``), atomically."""
    from lstm_rnn_correlation.fileio import atomic_open

    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": model.describe(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "config": config.to_dict(),
        "epoch": int(epoch),
        "history": [dict(h) for h in history],
        "torch_version": str(torch.__version__),
    }
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint with ``weights_only=True`` (no code can run) and check its format.

    Parameters
    ----------
    path : a checkpoint file or a run folder (its newest checkpoint).
    """
    path = last_checkpoint(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure means "not a usable checkpoint"
        raise UserError(f"{path}: not a loadable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path}: not an lstm-rnn-correlation checkpoint")
    if payload.get("version", 0) > CHECKPOINT_VERSION:
        raise UserError(f"{path}: checkpoint version {payload['version']} is newer than this program understands")
    payload["path"] = str(path)
    return payload


def model_from_checkpoint(payload: dict) -> SiameseModel:
    """Rebuild the trained model stored in a loaded checkpoint."""
    model = SiameseModel.from_description(payload["model"])
    model.load_state_dict(payload["state_dict"])
    return model


@contextlib.contextmanager
def run_logging(run_dir: Path | None):
    """Log INFO to ``info.log`` and everything to ``verbose.log`` in the run folder (appending)."""
    if run_dir is None:
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers = []
    for name, level in (("info.log", logging.INFO), ("verbose.log", logging.DEBUG)):
        handler = logging.FileHandler(run_dir / name, mode="a", encoding="utf-8")
        handler.setLevel(level)
        handler.setFormatter(fmt)
        log.addHandler(handler)
        handlers.append(handler)
    old_level = log.level
    log.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()
        log.setLevel(old_level)


def write_epoch_outputs(run_dir: Path, history: list[dict], histograms: dict, epoch: int) -> None:
    """metrics.csv/png and this epoch's histogram CSV/PNG, each written atomically."""
    from lstm_rnn_correlation.fileio import write_csv_atomic

    frame = pd.DataFrame(history)
    write_csv_atomic(frame, run_dir / "metrics.csv")
    diagnostics.plot_training_curves(frame, run_dir / "metrics.png", title=run_dir.name)
    parts = [h.assign(split=split) for split, h in histograms.items()]
    if parts:
        hist = pd.concat(parts, ignore_index=True)
        stem = run_dir / "histograms" / f"epoch-{epoch:03d}"
        write_csv_atomic(hist[["split", "bin_left", "bin_right", "correlated", "uncorrelated"]], stem.with_suffix(".csv"))
        diagnostics.plot_histograms(histograms, stem.with_suffix(".png"), title=f"epoch {epoch}")


# ---------------------------------------------------------------- the training run


@dataclass
class TrainingResult:
    """What :func:`train` returns."""

    model: SiameseModel
    config: RunConfig
    history: list[dict]
    stopped: str
    run_dir: Path | None


def _progress(quiet: bool):
    from tqdm.auto import tqdm

    def wrap(iterable, desc: str = "", total: int | None = None):
        return tqdm(iterable, desc=desc, total=total, leave=desc == "epochs", disable=quiet, dynamic_ncols=True)

    return wrap


def train(config: RunConfig, train_alerts, train_labels, val_alerts=None, val_labels=None,
          run_dir: str | os.PathLike | None = None, names: dict | None = None,
          resume: str | os.PathLike | None = None) -> TrainingResult:
    """Train the siamese model; optionally write a run folder and continue an earlier run.

    Parameters
    ----------
    config : a :class:`RunConfig` (``None`` fields take the scheme's defaults).
    train_alerts, train_labels : training alert lines and integer incidents (-1 benign).
    val_alerts, val_labels : validation alerts (optional; metrics are then training-only).
    run_dir : folder for the run's files (None: train in memory, write nothing).
    names : label -> incident name for the reports.
    resume : checkpoint or run folder to continue from (its model, optimiser and history).
    """
    job_start = time.monotonic()
    config = config.resolved()
    device = select_device(config.device)
    run_dir = Path(run_dir) if run_dir is not None else None
    progress = _progress(config.quiet)
    with torch_threads(config.threads), torch.random.fork_rng(devices=[]), run_logging(run_dir):
        torch.manual_seed(config.seed)
        paper = config.scheme == "paper"
        train_set = AlertSet.build(train_alerts, train_labels, config.max_chars, deduplicate_alerts=not paper)
        if config.scheme == "inbatch" and config.batch_size > 4096:
            log.warning("batch size %d: in the inbatch scheme BATCH_SIZE counts alerts per step (all their "
                        "pairs are scored), not pairs; a few hundred is typical", config.batch_size)
        val_set = None
        if val_alerts is not None and len(val_alerts):
            if val_labels is None:
                raise UserError("validation alerts need their incidents")
            val_set = AlertSet.build(val_alerts, val_labels, config.max_chars)
            val_eval = val_set.subset(config.max_eval_alerts, config.seed + 1)
        # Per-epoch training metrics use a fixed sample of distinct training alerts.
        distinct_train = AlertSet.build(train_alerts, train_labels, config.max_chars) if paper else train_set
        train_eval = distinct_train.subset(config.max_eval_alerts, config.seed + 2)
        if len(train_set) < 2:
            raise UserError("need at least two training alerts")
        if config.epochs is None:
            config = replace(config, epochs=default_epochs(config, train_set))

        model = build_model(config).to(device)
        optimizer = build_optimizer(config, model)
        scaler = torch.amp.GradScaler(device.type, enabled=bool(config.amp and device.type == "cuda"))
        loss_fn = None if paper else make_loss(config.loss, config.temperature)
        history: list[dict] = []
        if resume is not None:
            payload = load_checkpoint(resume)
            model.load_state_dict(payload["state_dict"])
            if payload.get("optimizer") is not None:
                optimizer.load_state_dict(payload["optimizer"])
            history = list(payload["history"])
            log.info("resumed from %s after epoch %d", payload["path"], payload["epoch"])
        if run_dir is not None:
            config.write(run_dir / "config.json")
        log.info("training %s scheme on %d alerts (%d distinct), validating on %d; device %s, %d threads",
                 config.scheme, int(train_set.counts.sum()), len(train_set),
                 0 if val_set is None else int(val_set.counts.sum()), device, torch.get_num_threads())
        log.debug("configuration: %s", config.to_dict())
        log.debug("model: %s", model)

        stopped = "epochs"
        best, since_best = math.inf, 0
        epochs = progress(range(len(history), config.epochs), desc="epochs", total=config.epochs - len(history))
        for epoch in epochs:
            if config.max_hours is not None and history:
                estimate = max(h["seconds"] for h in history)
                elapsed = time.monotonic() - job_start
                if elapsed + estimate > config.max_hours * 3600:
                    log.info("stopping before epoch %d: %.0f s used, an epoch takes about %.0f s, "
                             "MAX_HOURS=%g", epoch + 1, elapsed, estimate, config.max_hours)
                    stopped = "max_hours"
                    break
            start, cpu_start = time.monotonic(), time.process_time()
            if paper:
                stats = train_epoch_paper(model, optimizer, scaler, train_set, config, epoch, device, progress)
            else:
                stats = train_epoch_inbatch(model, optimizer, scaler, loss_fn, train_set, config, epoch, device, progress)
            train_seconds = time.monotonic() - start
            record = {"epoch": epoch + 1, "train_loss": stats.loss, "pairs": stats.pairs,
                      "pairs_per_second": stats.pairs / max(train_seconds, 1e-9)}
            rng = np.random.default_rng([config.seed, epoch, 7])
            histograms = {}
            splits = [("train", train_eval)] + ([("val", val_eval)] if val_set is not None else [])
            if config.max_eval_alerts == 0:
                splits = []
            threshold = 0.5
            for split, data in splits:
                metrics, prob = evaluate(model, loss_fn, data, config, device, threshold)
                if split == "train" and _calibrates_threshold(loss_fn):
                    # chosen on the training sample, then applied to both splits
                    threshold = diagnostics.balanced_threshold(prob, data.labels, data.counts)
                    metrics = diagnostics.pair_metrics(prob, data.labels, data.counts, threshold=threshold) | {
                        "loss": metrics["loss"]}
                    record["pair_threshold"] = threshold
                # train_loss is the running mean over the epoch's steps; the same objective
                # on the fixed training sample after the epoch is train_eval_loss.
                record["train_eval_loss" if split == "train" else "val_loss"] = metrics["loss"]
                for key in ("accuracy", "balanced_accuracy", "tpr", "tnr", "margin"):
                    record[f"{split}_{key}"] = metrics[key]
                if run_dir is not None:
                    histograms["validation" if split == "val" else "training"] = diagnostics.output_histogram(
                        prob, data.labels, data.counts, rng)
            record["seconds"] = time.monotonic() - start
            record["cpu_seconds"] = time.process_time() - cpu_start  # below "seconds" when cores are shared
            record = {k: (float(v) if isinstance(v, (float, np.floating)) else int(v)) for k, v in record.items()}
            history.append(record)
            log.info("epoch %d: train loss %.4f, val loss %s, val balanced pair accuracy %s, %.1f s",
                     epoch + 1, record["train_loss"], _fmt(record.get("val_loss")),
                     _fmt(record.get("val_balanced_accuracy")), record["seconds"])
            log.debug("epoch %d metrics: %s", epoch + 1, record)
            if not paper:
                log.debug("epoch %d head: scale %.3f, bias %.3f", epoch + 1,
                          float(model.head.log_scale.detach().exp()), float(model.head.bias.detach()))
            if run_dir is not None:
                save_checkpoint(checkpoint_path(run_dir, epoch + 1), model, optimizer, config, epoch + 1, history)
                write_epoch_outputs(run_dir, history, histograms, epoch + 1)
                record["seconds"] = time.monotonic() - start
            if config.patience is not None and "val_loss" in record:
                if record["val_loss"] < best - 1e-6:
                    best, since_best = record["val_loss"], 0
                else:
                    since_best += 1
                    if since_best >= config.patience:
                        log.info("stopping after epoch %d: validation loss has not improved for %d epochs",
                                 epoch + 1, config.patience)
                        stopped = "patience"
                        break

        if run_dir is not None and val_set is not None and history and config.max_eval_alerts:
            write_pair_error_analysis(run_dir, model, loss_fn, val_eval, config, device, names,
                                      threshold=history[-1].get("pair_threshold", 0.5))
        log.info("finished after %d epochs (%s)", len(history), stopped)
    model.eval()
    return TrainingResult(model=model.cpu(), config=config, history=history, stopped=stopped, run_dir=run_dir)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def write_pair_error_analysis(run_dir: Path, model, loss_fn, data: AlertSet, config: RunConfig,
                              device: torch.device, names: dict | None, threshold: float = 0.5) -> pd.DataFrame:
    """Pair error analysis per incident on validation pairs: ``pair_errors.csv`` and ``pair_errors.png``.

    ``threshold``: output above which a pair is predicted correlated (0.5, or the one
    the last epoch chose on training pairs for losses without a calibrated head).
    """
    from lstm_rnn_correlation.fileio import write_csv_atomic

    _, prob = evaluate(model, loss_fn, data, config, device, threshold)
    frame = diagnostics.pair_error_analysis(prob, data.labels, data.counts, names=names, threshold=threshold)
    write_csv_atomic(frame, run_dir / "pair_errors.csv")
    diagnostics.plot_pair_errors(frame, run_dir / "pair_errors.png", title=f"validation pairs, cut {config.val_cut}")
    return frame


# ---------------------------------------------------------------- the command


def add_arguments(parser) -> None:
    """Options of ``lstm-rnn-correlation train`` (each also settable by the original's environment variable)."""
    p = parser
    p.add_argument("--csv", help="data set CSV with columns incident, alert, cut (env CSVIN)")
    p.add_argument("--val-cut", type=int, help="cut 0-9 held out for validation (env VAL_CUT; default 0)")
    p.add_argument("--out", help="run folder to write (default: runs/cut<K>-seed<S>; the resumed folder with --resume)")
    p.add_argument("--resume", metavar="RUNDIR", help="continue a run from its last checkpoint (env OLD_JOB)")
    p.add_argument("--scheme", choices=["inbatch", "paper"],
                   help="inbatch (default): score all pairs of a batch per encoder pass; paper: the original exactly")
    p.add_argument("--seed", type=int, help="seed for everything random (env RAND_SEED; default 0)")
    p.add_argument("--epochs", type=int,
                   help="passes over the training data (env EPOCHS; paper 10; inbatch: enough for --steps or --chars)")
    p.add_argument("--steps", type=int,
                   help=f"inbatch without --epochs: about this many optimiser steps, at least {MIN_EPOCHS} epochs "
                        "(default: --chars decides)")
    p.add_argument("--chars", type=int,
                   help=f"inbatch without --epochs and --steps: epochs enough to read about this many characters, "
                        f"at least {MIN_EPOCHS} (default {SCHEME_DEFAULTS['inbatch']['chars']})")
    p.add_argument("--batch-size", type=int,
                   help="pairs per step (paper, 10000) or alerts per step (inbatch, 64) (env BATCH_SIZE)")
    p.add_argument("--max-pairs", type=int, help="at most this many pairs per epoch (env MAX_PAIRS)")
    p.add_argument("--units", help="LSTM layer sizes, e.g. 10 or 64,64 (env NN_UNITS; paper 10, inbatch 96)")
    p.add_argument("--lr", type=float, help="learning rate (env NN_LEARNING_RATE; paper 0.1 SGD, inbatch 0.01 AdamW)")
    p.add_argument("--max-hours", type=float, help="wall-clock budget: stop after the last epoch that fits (env MAX_HOURS)")
    p.add_argument("--loss", choices=["cosine-bce", "sigmoid", "contrastive", "supcon"],
                   help="pair loss (paper: cosine-bce; inbatch default: supcon)")
    p.add_argument("--input", choices=["onehot", "embedding"], help="character input (paper: onehot; inbatch: embedding)")
    p.add_argument("--pooling", choices=list(POOLINGS),
                   help="alert vector: state at the last character, mean or max over the characters, or mean and max "
                        "(paper: last; inbatch: meanmax)")
    p.add_argument("--bidirectional", action="store_true", default=None, help="two-way LSTM layers")
    p.add_argument("--patience", type=int, help="stop when the validation loss has not improved for this many epochs")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (default auto: CUDA when available)")
    p.add_argument("--amp", action="store_true", default=None, help="mixed precision (CUDA only)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: half the usable cores, 1 to 8)")
    p.add_argument("--quiet", action="store_true", default=None, help="no progress bars (for batch jobs)")


_FLAG_FIELDS = ("csv", "val_cut", "out", "resume", "scheme", "seed", "epochs", "steps", "chars", "batch_size", "max_pairs",
                "units", "lr", "max_hours", "loss", "input", "pooling", "bidirectional", "patience",
                "device", "amp", "threads", "quiet")


def config_from_args(args, environ=None) -> tuple[RunConfig, set[str]]:
    """The run configuration from parsed flags and the environment, and the names that were set."""
    from lstm_rnn_correlation.config import from_environment, parse_units

    flags = {name: getattr(args, name, None) for name in _FLAG_FIELDS}
    if flags["units"] is not None:
        try:
            flags["units"] = parse_units(flags["units"])
        except ValueError as exc:
            raise UserError(f"--units: {exc}") from None
    explicit = {k for k, v in flags.items() if v is not None} | set(from_environment(environ))
    return build_config(flags, environ), explicit


def run(args) -> int:
    """Run ``lstm-rnn-correlation train``."""
    config, explicit = config_from_args(args)
    if config.resume:
        saved = RunConfig.read(Path(config.resume) / "config.json")
        config = merge_for_resume(saved, config, explicit)
        run_dir = Path(config.out) if "out" in explicit and config.out else Path(config.resume)
        config.out = str(run_dir)
    else:
        if not config.csv:
            raise UserError("no data set: give --csv FILE (or set CSVIN)")
        run_dir = Path(config.out or f"runs/cut{config.val_cut}-seed{config.seed}")
        config.out = str(run_dir)
        if (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").glob("epoch-*.pt")):
            raise UserError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --out")
    if not config.csv:
        raise UserError("the run to resume names no data set; give --csv FILE")
    config = config.resolved()
    frame = load_dataset(config.csv)
    _, names = incident_labels(frame.incident)
    train_rows = frame[frame.cut != config.val_cut]
    val_rows = frame[frame.cut == config.val_cut]
    if train_rows.empty:
        raise UserError(f"{config.csv}: no training alerts outside cut {config.val_cut}")
    handler = None
    if not config.quiet:
        handler = logging.StreamHandler()
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    try:
        result = train(config, train_rows.alert.tolist(), train_rows.label.to_numpy(),
                       val_rows.alert.tolist(), val_rows.label.to_numpy(), run_dir=run_dir,
                       names=names, resume=config.resume)
    finally:
        if handler is not None:
            log.removeHandler(handler)
    print(f"run folder: {run_dir} ({len(result.history)} epochs, stopped: {result.stopped})")
    return 0
