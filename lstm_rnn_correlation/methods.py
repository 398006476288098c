"""Ways of turning alert lines into vectors, behind one small interface.

Every method is a scikit-learn style estimator::

    method = make_method("lsa", seed=0)
    method.fit(train_alerts, train_incidents)      # -> self
    vectors = method.transform(alerts)             # (n, d) float, unit rows

Clustering, operating-point selection and metrics only ever see the vectors, so a
new method is one class registered with :func:`register`:

``lstm``
    The siamese tied-weight LSTM (:class:`~lstm_rnn_correlation.embedding.LSTMEmbedder`),
    imported only when used (it needs torch).
``lsa``
    The original's baseline, latent semantic analysis: TF-IDF over character 1-3 grams
    (``max_df`` 0.5, ``min_df`` 2, at most 10,000 features), truncated SVD to 100
    components, L2 normalisation.
``signature``
    What a SOC does without any learning: alerts with the same signature form one
    group.  The signature of a line is its rule id ``gid:sid`` (Snort and Suricata fast
    lines, EVE JSON); a line without a rule id (the AIT-ADS lines
    ``<date> <time> <host> <ip> <detector>: <message>``) is keyed by its detector
    message, and any other line by the whole line; in both, IP addresses, hex strings
    and digit runs are masked, so that only the rule's text is left.  Each signature
    seen in training gets its own axis (a one-hot vector): identical signatures are
    identical vectors, different ones are orthogonal (cosine distance 1).  Signatures
    never seen in training share 64 extra axes by a stable hash of their key.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Callable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from lstm_rnn_correlation.errors import UserError

#: name -> method class
METHODS: dict[str, type] = {}


def register(cls):
    """Class decorator: make a method available under ``cls.name``."""
    METHODS[cls.name] = cls
    return cls


def method_names() -> list[str]:
    """Names of the registered methods, in registration order."""
    return list(METHODS)


def make_method(name: str, **params) -> "AlertMethod":
    """A new, unfitted method by name, with constructor parameters.

    Parameters
    ----------
    name : a registered method name (see :func:`method_names`).
    params : constructor parameters of that method (e.g. ``seed``).
    """
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    cls = METHODS[name]
    allowed = set(cls._get_param_names())
    unknown = set(params) - allowed
    if unknown:
        raise UserError(f"method {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                        f"it takes {', '.join(sorted(allowed))}")
    return cls(**params)


def _one_blas_thread():
    """BLAS on one thread: the SVD's products are thin (n x ~110), and on a shared machine
    BLAS threads made the whole fit 5x slower (measured on 2 loaded cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


class AlertMethod(TransformerMixin, BaseEstimator):
    """Base class: fit on labelled training alerts, transform alerts into unit vectors.

    Subclasses set ``name`` and implement :meth:`fit` and :meth:`transform`.
    """

    name = "base"

    def fit(self, alerts, incidents):  # pragma: no cover - interface
        """Learn from training alert lines and their incidents (benign -1); returns self."""
        raise NotImplementedError

    def transform(self, alerts) -> np.ndarray:  # pragma: no cover - interface
        """(n, d) float array of unit rows, one per alert line."""
        raise NotImplementedError

    @classmethod
    def from_options(cls, options: dict | None = None, *, seed: int = 0, quiet: bool = True, work_dir=None):
        """A new method from user options (a dict of constructor parameters) plus the run's seed.

        Parameters
        ----------
        options : constructor parameters given by the user.
        seed : the run's seed (used where the method has a ``seed`` parameter).
        quiet : no progress bars (where the method has a ``quiet`` parameter).
        work_dir : a folder the method may write to (unused by default).
        """
        params = dict(options or {})
        names = set(cls._get_param_names())
        unknown = set(params) - names
        if unknown:
            raise UserError(f"method {cls.name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                            f"it takes {', '.join(sorted(names))}")
        if "seed" in names:
            params.setdefault("seed", seed)
        if "quiet" in names:
            params.setdefault("quiet", quiet)
        return cls(**params)

    @classmethod
    def defaults(cls) -> dict:
        """What the method runs with where an option is not given (by default its
        constructor's defaults); ``crossval`` recomputes a finished cut when these change."""
        return cls().get_params()

    def _check_fitted(self, attr: str) -> None:
        if not hasattr(self, attr):
            raise UserError(f"the {self.name} method is not fitted yet: call fit() first")


@register
class LSAMethod(AlertMethod):
    """Latent semantic analysis over character n-grams (the original's baseline).

    Parameters
    ----------
    n_components : SVD components (100 in the original; fewer when the vocabulary is smaller).
    max_df, min_df, max_features, ngram_range : the TF-IDF vocabulary, as the original.
    seed : seed of the randomised SVD.
    """

    name = "lsa"

    def __init__(self, n_components: int = 100, max_df: float = 0.5, min_df: int = 2,
                 max_features: int = 10000, ngram_range=(1, 3), seed: int = 0):
        self.n_components = n_components
        self.max_df = max_df
        self.min_df = min_df
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.seed = seed

    def fit(self, alerts, incidents=None):
        """Fit the TF-IDF vocabulary and the SVD on the training alerts (incidents are not used)."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        alerts = [str(a) for a in alerts]
        if not alerts:
            raise UserError("no training alerts for the lsa method")
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=tuple(self.ngram_range),
                                           max_df=self.max_df, min_df=self.min_df,
                                           max_features=self.max_features, dtype=np.float64)
        try:
            tfidf = self.vectorizer_.fit_transform(alerts)
        except ValueError as exc:  # an empty vocabulary after max_df/min_df pruning
            raise UserError(f"lsa: no usable character n-grams in {len(alerts)} training alerts ({exc})") from None
        k = int(min(self.n_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1))
        if k < 1:
            raise UserError(f"lsa: too few training alerts or n-grams for an SVD ({tfidf.shape})")
        with _one_blas_thread():
            self.svd_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(tfidf)
        self.n_features_out_ = k
        return self

    def transform(self, alerts) -> np.ndarray:
        """Unit vectors of the alerts (an alert with no known n-gram gives a zero row)."""
        self._check_fitted("svd_")
        alerts = [str(a) for a in alerts]
        if not alerts:
            return np.zeros((0, self.n_features_out_), dtype=np.float32)
        tfidf = self.vectorizer_.transform(alerts)
        with _one_blas_thread():
            return _unit_rows(self.svd_.transform(tfidf))


# --------------------------------------------------------------------------- signatures

_RULE_ID = re.compile(r"\[(\d+):(\d+):\d+\]")
_AIT_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+\S+\s+\S+\s+(?P<message>.+)$")
_MASKS = (
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
                r"|(?:[0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{0,4}::(?:[0-9A-Fa-f]{1,4}:)*[0-9A-Fa-f]{0,4})(?![\w:])"), "<addr>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\d+"), "#"),
    (re.compile(r"\s+"), " "),
)


def _mask(text: str) -> str:
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text.strip()


def signature_key(line: str) -> str:
    """The signature an alert line belongs to (see the module docstring).

    ``sid:1:2013028`` for rule ids, ``msg:<masked detector message>`` for AIT-ADS-style
    lines, ``line:<masked line>`` otherwise.

    Parameters
    ----------
    line : one alert line.
    """
    line = str(line)
    match = _RULE_ID.search(line)
    if match:
        return f"sid:{int(match.group(1))}:{int(match.group(2))}"
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
            alert = obj.get("alert") if isinstance(obj, dict) else None
            if isinstance(alert, dict) and "signature_id" in alert:
                return f"sid:{int(alert.get('gid', 1))}:{int(alert['signature_id'])}"
        except (ValueError, TypeError):
            pass
    match = _AIT_LINE.match(stripped)
    if match:
        return "msg:" + _mask(match.group("message"))
    return "line:" + _mask(stripped)


def _stable_bucket(key: str, buckets: int) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") % buckets


@register
class SignatureMethod(AlertMethod):
    """Group alerts by signature (rule id, else masked detector message): one axis per signature.

    Parameters
    ----------
    unseen_buckets : extra axes shared, by a stable hash, by signatures not seen in training.
    key : function line -> signature key (default :func:`signature_key`).
    """

    name = "signature"

    def __init__(self, unseen_buckets: int = 64, key: Callable[[str], str] | None = None, seed: int = 0):
        self.unseen_buckets = unseen_buckets
        self.key = key
        self.seed = seed

    def _keys(self, alerts) -> list[str]:
        key = self.key or signature_key
        return [key(a) for a in alerts]

    def fit(self, alerts, incidents=None):
        """Number the training signatures (incidents are not used; ``seed`` has no effect)."""
        keys = self._keys(alerts)
        if not keys:
            raise UserError("no training alerts for the signature method")
        self.vocabulary_ = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        self.n_features_out_ = len(self.vocabulary_) + int(self.unseen_buckets)
        return self

    def transform(self, alerts) -> np.ndarray:
        """One-hot unit vectors of the alerts' signatures."""
        self._check_fitted("vocabulary_")
        keys = self._keys(alerts)
        n_known = len(self.vocabulary_)
        cols = np.array([self.vocabulary_[k] if k in self.vocabulary_
                         else n_known + _stable_bucket(k, max(1, int(self.unseen_buckets))) for k in keys],
                        dtype=np.int64)
        out = np.zeros((len(keys), max(self.n_features_out_, n_known + 1)), dtype=np.float32)
        out[np.arange(len(keys)), cols] = 1.0
        return out

    def signatures(self, alerts) -> list[str]:
        """The signature key of each alert (for reports)."""
        return self._keys(alerts)


@register
class LSTMMethod(AlertMethod):
    """The siamese tied-weight LSTM, through :class:`~lstm_rnn_correlation.embedding.LSTMEmbedder`.

    Parameters
    ----------
    params : constructor parameters of ``LSTMEmbedder`` (e.g. ``{"epochs": 20}``).
    seed : its seed (overrides ``params["seed"]``).
    run_dir : where training writes its run folder (None: nowhere).
    quiet : no progress bars.
    """

    name = "lstm"

    def __init__(self, params: dict | None = None, seed: int = 0, run_dir=None, quiet: bool = True):
        self.params = params
        self.seed = seed
        self.run_dir = run_dir
        self.quiet = quiet

    def fit(self, alerts, incidents):
        """Train the LSTM on the labelled training alerts."""
        from lstm_rnn_correlation.embedding import LSTMEmbedder

        params = dict(self.params or {})
        params["seed"] = self.seed
        params.setdefault("quiet", self.quiet)
        try:
            self.embedder_ = LSTMEmbedder(**params)
        except TypeError as exc:
            raise UserError(f"lstm: bad parameter ({exc})") from None
        run_dir = None if self.run_dir is None else str(self.run_dir)
        self.embedder_.fit(list(alerts), list(incidents), run_dir=run_dir)
        return self

    @classmethod
    def from_options(cls, options: dict | None = None, *, seed: int = 0, quiet: bool = True, work_dir=None):
        """Options are ``LSTMEmbedder`` parameters; training writes its run folder into ``work_dir``.

        Unless the options say otherwise, ``max_eval_alerts`` is 0: the per-epoch pair
        diagnostics cost about a fifth of the training time and are not used here
        (``lstm.max_eval_alerts=2000`` brings them back).
        """
        params = dict(options or {})
        params.setdefault("max_eval_alerts", 0)
        return cls(params=params, seed=seed, run_dir=work_dir, quiet=quiet)

    @classmethod
    def defaults(cls) -> dict:
        """The training configuration's defaults: its fields' and every scheme's (the
        constructor only holds ``params``, whose ``None`` means "the scheme's default")."""
        from dataclasses import asdict

        from lstm_rnn_correlation.config import MIN_EPOCHS, SCHEME_DEFAULTS, RunConfig

        return {"run_config": asdict(RunConfig()), "schemes": SCHEME_DEFAULTS, "min_epochs": MIN_EPOCHS}

    @classmethod
    def from_run(cls, run_dir, **overrides) -> "LSTMMethod":
        """A fitted method from a training run folder (its newest checkpoint)."""
        from lstm_rnn_correlation.embedding import LSTMEmbedder

        method = cls(run_dir=run_dir, quiet=overrides.get("quiet", True))
        method.embedder_ = LSTMEmbedder.load(run_dir, **overrides)
        return method

    def transform(self, alerts) -> np.ndarray:
        """Unit vectors from the trained encoder."""
        self._check_fitted("embedder_")
        return _unit_rows(self.embedder_.transform(list(alerts)))
