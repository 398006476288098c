"""The trained mapping function as a scikit-learn-style embedder: ``fit`` then ``transform``.

>>> emb = LSTMEmbedder(epochs=20, seed=1).fit(train_alerts, train_incidents)
>>> vectors = emb.transform(new_alerts)            # float32, one unit vector per alert
>>> emb = LSTMEmbedder.load("runs/cut3-seed3")     # a run folder or a checkpoint file

``transform`` embeds each distinct alert string once, in length-sorted batches, and
copies the vector to its duplicates, so a log with many repeated alerts costs only
its distinct lines.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from lstm_rnn_correlation.config import RunConfig
from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.text import deduplicate, encode_alerts, length_sorted_batches


# Distinct alerts from which ``transform`` uses its ``workers`` processes: starting one
# costs about a second (importing torch), the time to embed some 3,000 alerts.
PARALLEL_MIN_ALERTS = 20_000


class LSTMEmbedder(TransformerMixin, BaseEstimator):
    """Alert lines -> unit vectors, learned by the siamese tied-weight LSTM.

    Parameters (``None`` takes the training scheme's default, see :mod:`~lstm_rnn_correlation.config`)
    ----------
    scheme : ``inbatch`` (default) or ``paper`` (the original's training exactly).
    units : LSTM layer sizes, e.g. ``(128,)`` or ``(64, 64)``.
    epochs, steps, chars, batch_size, lr, max_pairs : training length (``inbatch`` default:
        enough epochs to read about 5 million characters, see :mod:`~lstm_rnn_correlation.config`),
        step size and budget.
    loss : ``supcon`` (default), ``sigmoid`` or ``contrastive`` (``inbatch``); the paper's ``cosine-bce``.
    input, embedding_dim, pooling, bidirectional, max_chars : encoder options.
    group_size, count_power : ``inbatch`` batch composition and duplicate weighting.
    temperature : ``supcon`` softmax temperature.
    patience : early stopping on the validation loss (needs validation alerts).
    max_eval_alerts : alerts sampled per split for the per-epoch pair metrics (0: none, faster).
    seed : seed for everything random.
    device : ``auto``, ``cpu`` or ``cuda``; amp: mixed precision on CUDA.
    threads : CPU threads for torch (None: a default from the core count).
    quiet : no progress bars.
    transform_batch_size : alerts per batch in :meth:`transform`.
    workers : CPU processes for :meth:`transform` on large inputs (at least
        :data:`PARALLEL_MIN_ALERTS` distinct alerts): each runs one torch thread over
        its share of the batches (:mod:`~lstm_rnn_correlation.parallel`); 1 (default)
        embeds in this process with ``threads`` threads; 0 means one per usable core.

    Attributes (after ``fit`` or ``load``)
    ----------
    model_ : the trained :class:`~lstm_rnn_correlation.model.SiameseModel` (on the CPU).
    config_ : the resolved :class:`~lstm_rnn_correlation.config.RunConfig`.
    history_ : per-epoch metrics (list of dicts).
    n_features_out_ : vector size.
    """

    def __init__(self, scheme="inbatch", units=None, epochs=None, steps=None, chars=None, batch_size=None, lr=None, max_pairs=None,
                 loss=None, input=None, embedding_dim=32, pooling=None, bidirectional=False, max_chars=1024,
                 group_size=8, count_power=0.5, temperature=0.1, patience=None, max_eval_alerts=1000, seed=0, device="auto",
                 amp=False, threads=None, quiet=True, transform_batch_size=512, workers=1):
        self.scheme = scheme
        self.units = units
        self.epochs = epochs
        self.steps = steps
        self.chars = chars
        self.batch_size = batch_size
        self.lr = lr
        self.max_pairs = max_pairs
        self.loss = loss
        self.input = input
        self.embedding_dim = embedding_dim
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.max_chars = max_chars
        self.group_size = group_size
        self.count_power = count_power
        self.temperature = temperature
        self.patience = patience
        self.max_eval_alerts = max_eval_alerts
        self.seed = seed
        self.device = device
        self.amp = amp
        self.threads = threads
        self.quiet = quiet
        self.transform_batch_size = transform_batch_size
        self.workers = workers

    def _run_config(self) -> RunConfig:
        units = self.units
        if isinstance(units, (int, np.integer)):
            units = (int(units),)
        elif isinstance(units, str):
            from lstm_rnn_correlation.config import parse_units

            units = parse_units(units)
        return RunConfig(scheme=self.scheme, units=units, epochs=self.epochs, steps=self.steps, chars=self.chars,
                         batch_size=self.batch_size,
                         lr=self.lr, max_pairs=self.max_pairs, loss=self.loss, input=self.input,
                         embedding_dim=self.embedding_dim, pooling=self.pooling, bidirectional=self.bidirectional,
                         max_chars=self.max_chars, group_size=self.group_size, count_power=self.count_power,
                         temperature=self.temperature,
                         patience=self.patience, max_eval_alerts=self.max_eval_alerts, seed=self.seed,
                         device=self.device, amp=self.amp, threads=self.threads, quiet=self.quiet)

    def fit(self, alerts, incidents, val_alerts=None, val_incidents=None, run_dir=None):
        """Train on labelled alerts.

        Parameters
        ----------
        alerts : list of alert lines.
        incidents : incident per alert: integer ids or names; ``"benign"`` (or -1) for false alerts.
        val_alerts, val_incidents : optional validation alerts, for per-epoch metrics and ``patience``.
        run_dir : optional run folder for logs, checkpoints, metrics and plots.

        Returns ``self``.
        """
        from lstm_rnn_correlation.training import incident_labels, train

        alerts = list(alerts)
        if len(alerts) == 0:
            raise UserError("no training alerts")
        # Label both sets together so that one incident gets one number in both.
        all_incidents = list(incidents) + (list(val_incidents) if val_incidents is not None else [])
        labels, names = incident_labels(all_incidents)
        train_labels, val_labels = labels[: len(alerts)], labels[len(alerts):]
        if val_alerts is not None:
            val_alerts = list(val_alerts)
            if val_incidents is None or len(val_alerts) != len(val_labels):
                raise UserError("val_alerts needs val_incidents of the same length")
        result = train(self._run_config(), alerts, train_labels, val_alerts, val_labels if val_alerts else None,
                       run_dir=run_dir, names=names)
        self.model_ = result.model
        self.config_ = result.config
        self.history_ = result.history
        self.n_features_out_ = result.model.encoder.output_dim
        return self

    def transform(self, alerts) -> np.ndarray:
        """Unit vectors (float32, ``[n, d]``) of alert lines, in input order.

        Parameters
        ----------
        alerts : list of alert lines (str; bytes are read as ASCII with other bytes substituted).
        """
        if not hasattr(self, "model_"):
            raise UserError("this LSTMEmbedder is not fitted yet: call fit() or LSTMEmbedder.load()")
        from lstm_rnn_correlation.training import select_device, torch_threads

        alerts = list(alerts)
        out = np.zeros((len(alerts), self.n_features_out_), dtype=np.float32)
        if not alerts:
            return out
        unique = deduplicate(alerts)
        encoded = encode_alerts(unique.alerts, max_chars=self.model_.encoder_config.max_chars)
        device = select_device(self.device)
        vectors = np.empty((len(unique.alerts), self.n_features_out_), dtype=np.float32)
        batches = length_sorted_batches(encoded.lengths, self.transform_batch_size)
        workers = self._workers()
        bar = None
        if not self.quiet and len(unique.alerts) >= PARALLEL_MIN_ALERTS:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(unique.alerts), desc="embedding", unit=" alerts", mininterval=1.0)
        try:
            if device.type == "cpu" and workers > 1 and len(unique.alerts) >= PARALLEL_MIN_ALERTS:
                from lstm_rnn_correlation.parallel import embed_batches

                embed_batches(self.model_.cpu().eval(), encoded, batches, vectors, workers,
                              progress=bar.update if bar is not None else None)
            else:
                model = self.model_.to(device).eval()
                amp = bool(self.amp and device.type == "cuda")
                with torch_threads(self.threads), torch.inference_mode(), \
                        torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
                    for idx in batches:
                        codes, lengths = encoded.batch(idx)
                        z = model.embed(codes.to(device), lengths.to(device))
                        vectors[idx] = z.float().cpu().numpy()
                        if bar is not None:
                            bar.update(len(idx))
                self.model_.cpu()
        finally:
            if bar is not None:
                bar.close()
        out[:] = vectors[unique.inverse]
        return out

    def _workers(self) -> int:
        """Processes for a large ``transform`` (``workers``; 0: one per usable core)."""
        from lstm_rnn_correlation.parallel import usable_cores

        if self.workers is None:
            return 1
        workers = int(self.workers)
        if workers < 0:
            raise UserError(f"workers must be 0 (one per core) or more, got {workers}")
        return usable_cores() if workers == 0 else workers

    def fit_transform(self, alerts, incidents, **fit_params) -> np.ndarray:
        """``fit`` then ``transform`` the training alerts."""
        return self.fit(alerts, incidents, **fit_params).transform(alerts)

    def pair_probability(self, alerts_a, alerts_b) -> np.ndarray:
        """The siamese model's output for the pairs ``(alerts_a[i], alerts_b[i])``."""
        a, b = self.transform(alerts_a), self.transform(alerts_b)
        cos = torch.from_numpy((a * b).sum(axis=1))
        with torch.no_grad():
            return torch.sigmoid(self.model_.head(cos)).numpy()

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model as a checkpoint file (``weights_only`` loadable)."""
        from lstm_rnn_correlation.training import save_checkpoint

        if not hasattr(self, "model_"):
            raise UserError("nothing to save: the embedder is not fitted")
        save_checkpoint(path, self.model_, None, self.config_, len(self.history_), self.history_)

    @classmethod
    def load(cls, path: str | os.PathLike, **overrides) -> "LSTMEmbedder":
        """A fitted embedder from a run folder (its newest checkpoint) or a checkpoint file.

        Loading uses ``torch.load(weights_only=True)``: a model file cannot run code.

        Parameters
        ----------
        path : run folder or ``.pt`` checkpoint.
        overrides : constructor parameters to change (e.g. ``device="cpu"``, ``quiet=True``).
        """
        from lstm_rnn_correlation.training import load_checkpoint, model_from_checkpoint

        payload = load_checkpoint(path)
        config = RunConfig.from_dict(payload["config"])
        params = {name: getattr(config, name) for name in cls._get_param_names() if hasattr(config, name)}
        params.update(overrides)
        embedder = cls(**params)
        embedder.model_ = model_from_checkpoint(payload).eval()
        embedder.config_ = config
        embedder.history_ = list(payload["history"])
        embedder.n_features_out_ = embedder.model_.encoder.output_dim
        return embedder
