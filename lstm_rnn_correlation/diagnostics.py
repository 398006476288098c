"""What a training run reports about its pairs: accuracy, output histograms, errors per incident.

Everything here works on a matrix of pair probabilities between *distinct* alert
strings, with the count of each string, so a data set with many identical alerts
costs no more than its distinct alerts.  Pair ``(i, j)`` stands for
``count[i] * count[j]`` ordered pairs of original alerts (``count[i] * (count[i] - 1)``
when ``i == j``: identical copies paired with each other; an alert is never paired
with itself).  A pair is *correlated* when both alerts share an incident that is
not benign (label ``-1``).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np
import pandas as pd

BENIGN = -1


def pair_weight_matrix(counts: np.ndarray) -> np.ndarray:
    """Ordered pairs of original alerts behind each entry of the distinct-alert matrix."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.outer(counts, counts)
    np.fill_diagonal(weights, counts * (counts - 1))
    return weights


def target_matrix(labels: np.ndarray) -> np.ndarray:
    """Boolean matrix: both alerts in the same incident, and that incident is not benign."""
    labels = np.asarray(labels)
    return (labels[:, None] == labels[None, :]) & (labels[:, None] != BENIGN)


def pair_metrics(prob: np.ndarray, labels: np.ndarray, counts: np.ndarray, threshold: float = 0.5) -> dict:
    """Pair accuracy and rates at ``threshold`` over all ordered pairs of original alerts.

    Parameters
    ----------
    prob : ``[n, n]`` pair probabilities between distinct alerts.
    labels : incident per distinct alert (-1 benign).
    counts : occurrences of each distinct alert.
    threshold : output above which a pair is predicted correlated.

    Returns a dict with ``accuracy``, ``tpr`` (correlated pairs found), ``tnr``,
    ``balanced_accuracy``, ``margin`` (mean output on correlated minus uncorrelated
    pairs), ``mean_correlated``, ``mean_uncorrelated`` and ``pairs``.
    """
    w = pair_weight_matrix(counts)
    target = target_matrix(labels)
    predicted = prob > threshold
    total = w.sum()
    pos_w, neg_w = (w * target).sum(), (w * ~target).sum()
    correct = (w * (predicted == target)).sum()
    tp = (w * (predicted & target)).sum()
    tn = (w * (~predicted & ~target)).sum()
    mean_pos = (w * target * prob).sum() / pos_w if pos_w else float("nan")
    mean_neg = (w * ~target * prob).sum() / neg_w if neg_w else float("nan")
    tpr = tp / pos_w if pos_w else float("nan")
    tnr = tn / neg_w if neg_w else float("nan")
    return {
        "accuracy": float(correct / total) if total else float("nan"),
        "tpr": float(tpr),
        "tnr": float(tnr),
        "balanced_accuracy": float(np.nanmean([tpr, tnr])),
        "margin": float(mean_pos - mean_neg),
        "mean_correlated": float(mean_pos),
        "mean_uncorrelated": float(mean_neg),
        "pairs": int(total),
    }


def sample_pairs(labels: np.ndarray, counts: np.ndarray, correlated: bool, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``size`` random ordered pairs of original alerts of one kind, as distinct-alert indices.

    Pairs are drawn with replacement, each distinct-alert pair in proportion to the
    original pairs it stands for; when fewer original pairs exist than ``size``,
    that many are drawn.
    """
    w = pair_weight_matrix(counts) * (target_matrix(labels) == correlated)
    flat = w.ravel()
    total = flat.sum()
    if total <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n = int(min(size, total))
    picks = rng.choice(flat.size, size=n, replace=True, p=flat / total)
    return np.divmod(picks, len(counts))


def output_histogram(prob: np.ndarray, labels: np.ndarray, counts: np.ndarray, rng: np.random.Generator,
                     max_pairs: int = 1000, bins: int = 100) -> pd.DataFrame:
    """Histogram of the model output for up to ``max_pairs`` correlated and uncorrelated pairs.

    Returns a DataFrame with ``bin_left``, ``bin_right``, ``correlated``, ``uncorrelated``
    (counts per bin; ``bins`` equal bins on [0, 1]).
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    frame = pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:]})
    for kind, flag in (("correlated", True), ("uncorrelated", False)):
        i, j = sample_pairs(labels, counts, flag, max_pairs, rng)
        values = np.clip(prob[i, j], 0.0, 1.0)
        frame[kind] = np.histogram(values, bins=edges)[0]
    return frame


def balanced_threshold(prob: np.ndarray, labels: np.ndarray, counts: np.ndarray, bins: int = 400) -> float:
    """The output threshold with the best balanced pair accuracy (mean of TPR and TNR).

    For losses without a calibrated head (``supcon``, ``contrastive``) the output is
    ``(1 + cos) / 2`` and 0.5 (cosine 0) means nothing; training then picks this
    threshold on its own training sample each epoch and applies it to validation.

    Parameters
    ----------
    prob : ``[n, n]`` pair outputs in [0, 1]; labels, counts : as in :func:`pair_metrics`.
    bins : candidate thresholds are the edges of this many equal bins of [0, 1].
    """
    w = pair_weight_matrix(counts)
    target = target_matrix(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    pos, _ = np.histogram(prob[target], bins=edges, weights=w[target])
    neg, _ = np.histogram(prob[~target], bins=edges, weights=w[~target])
    if pos.sum() == 0 or neg.sum() == 0:
        return 0.5
    # threshold at edges[k]: pairs in bins >= k predicted correlated
    tpr = np.concatenate([np.cumsum(pos[::-1])[::-1], [0.0]]) / pos.sum()
    tnr = np.concatenate([[0.0], np.cumsum(neg)]) / neg.sum()
    k = int(np.argmax(tpr + tnr))
    return float(edges[k])


def pair_error_analysis(prob: np.ndarray, labels: np.ndarray, counts: np.ndarray,
                        names: dict | None = None, threshold: float = 0.5) -> pd.DataFrame:
    """TP/TN/FP/FN per incident over all ordered pairs; a pair counts for both its incidents.

    A pair of two alerts of the same incident counts once for it.  Normalised counts
    divide by the incident's number of pairs; rates are TPR = TP/(TP+FN),
    TNR = TN/(TN+FP), FPR = FP/(FP+TN), FNR = FN/(FN+TP).

    Parameters
    ----------
    prob, labels, counts : as for :func:`pair_metrics`.
    names : label -> display name (default: the label; ``benign`` for -1).
    threshold : output above which a pair is predicted correlated.
    """
    labels = np.asarray(labels)
    w = pair_weight_matrix(counts)
    target = target_matrix(labels)
    predicted = prob > threshold
    classes = np.unique(labels)
    onehot = (labels[:, None] == classes[None, :]).astype(np.float64)  # [n, k]
    rows = {}
    for kind, mask in (("TP", predicted & target), ("TN", ~predicted & ~target),
                       ("FP", predicted & ~target), ("FN", ~predicted & target)):
        m = w * mask
        by_pair = onehot.T @ m @ onehot  # [k, k]: pairs between incident a and b
        rows[kind] = by_pair.sum(axis=1) + by_pair.sum(axis=0) - np.diag(by_pair)
    frame = pd.DataFrame(rows)
    names = names or {}
    frame.insert(0, "incident", [names.get(int(c), "benign" if c == BENIGN else str(int(c))) for c in classes])
    total = frame[["TP", "TN", "FP", "FN"]].sum(axis=1)
    frame["pairs"] = total
    for kind in ("TP", "TN", "FP", "FN"):
        frame[f"{kind}_normalised"] = frame[kind] / total.where(total > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["TPR"] = frame.TP / (frame.TP + frame.FN)
        frame["TNR"] = frame.TN / (frame.TN + frame.FP)
        frame["FPR"] = frame.FP / (frame.FP + frame.TN)
        frame["FNR"] = frame.FN / (frame.FN + frame.TP)
    for kind in ("TP", "TN", "FP", "FN", "pairs"):
        frame[kind] = frame[kind].round().astype(np.int64)
    return frame


# ---------------------------------------------------------------- plots


def _figure(nrows: int, ncols: int, size):
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size, squeeze=False)


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def plot_histograms(frames: dict, path, title: str = "") -> None:
    """Plot output histograms (one panel per split, e.g. ``{"train": df, "validation": df}``)."""
    from lstm_rnn_correlation.fileio import save_figure_atomic

    fig, axes = _figure(1, len(frames), (5.5 * len(frames), 3.6))
    for ax, (split, frame) in zip(axes[0], frames.items()):
        edges = np.append(frame.bin_left.to_numpy(), frame.bin_right.iloc[-1])
        ax.stairs(frame.uncorrelated.to_numpy(), edges, fill=True, alpha=0.6, label="uncorrelated", color="tab:orange")
        ax.stairs(frame.correlated.to_numpy(), edges, fill=True, alpha=0.6, label="correlated", color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_xlabel("model output (pair probability)")
        ax.set_ylabel("pairs")
        ax.set_title(f"{split} pairs")
        ax.legend(loc="upper center")
    if title:
        fig.suptitle(title)
    save_figure_atomic(fig, path, dpi=80)
    _close(fig)


def plot_pair_errors(frame: pd.DataFrame, path, title: str = "") -> None:
    """Bar plots of the pair error analysis: normalised TP/TN/FP/FN and the four rates per incident."""
    from lstm_rnn_correlation.fileio import save_figure_atomic

    fig, axes = _figure(1, 2, (12, 4.2))
    x = np.arange(len(frame))
    width = 0.2
    for k, (cols, ax, ylabel) in enumerate(
        ((["TP_normalised", "TN_normalised", "FP_normalised", "FN_normalised"], axes[0][0], "share of the incident's pairs"),
         (["TPR", "TNR", "FPR", "FNR"], axes[0][1], "rate"))
    ):
        for c, col in enumerate(cols):
            ax.bar(x + (c - 1.5) * width, frame[col].fillna(0.0), width=width, label=col.split("_")[0])
        ax.set_xticks(x)
        ax.set_xticklabels(frame.incident.astype(str), rotation=45, ha="right")
        ax.set_xlabel("incident")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.05)
        ax.legend(ncol=4, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.3))
    axes[0][0].set_title("pair outcomes, normalised")
    axes[0][1].set_title("pair rates")
    if title:
        fig.suptitle(title)
    save_figure_atomic(fig, path, dpi=80)
    _close(fig)


def plot_training_curves(history: pd.DataFrame, path, title: str = "") -> None:
    """Loss and pair accuracy per epoch, training and validation."""
    from lstm_rnn_correlation.fileio import save_figure_atomic

    fig, axes = _figure(1, 2, (11, 3.6))
    for ax, metric, label in ((axes[0][0], "loss", "loss"), (axes[0][1], "balanced_accuracy", "balanced pair accuracy")):
        for split in ("train", "val"):
            col = f"{split}_{metric}"
            if col in history and history[col].notna().any():
                ax.plot(history.epoch, history[col], marker="o", label="training" if split == "train" else "validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not measured\n(per-epoch pair metrics off: max_eval_alerts=0)",
                    ha="center", va="center", transform=ax.transAxes, fontsize="small", color="0.4")
    if title:
        fig.suptitle(title)
    save_figure_atomic(fig, path, dpi=80)
    _close(fig)
