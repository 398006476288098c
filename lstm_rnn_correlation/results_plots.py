"""Figures of ``lstm-rnn-correlation results``; each is written as PNG and PDF (atomically)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lstm_rnn_correlation.fileio import save_figure_atomic  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def safe_name(text: str) -> str:
    """``text`` reduced to characters safe in a file name.

    Parameters
    ----------
    text : a method or data set name.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)) or "_"


def _save(fig, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    save_figure_atomic(fig, paths[0], dpi=110, bbox_inches="tight")
    save_figure_atomic(fig, paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def plot_imr_arf(selected: pd.DataFrame, stem) -> list[Path]:
    """IMR against ARF, one point per method and cut at the point chosen on training data
    (filled) and by looking at validation (hollow); colour per method, marker per data set.

    Parameters
    ----------
    selected : combined selected.csv rows (method, dataset, IMR, ARF, by_validation_IMR/ARF).
    stem : output path without suffix.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    methods = sorted(selected["method"].unique())
    datasets = sorted(selected["dataset"].unique())
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    markers = {d: MARKERS[i % len(MARKERS)] for i, d in enumerate(datasets)}
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for (method, dataset), group in selected.groupby(["method", "dataset"]):
        c, mk = colours[method], markers[dataset]
        ax.scatter(group["ARF"], group["IMR"], color=c, marker=mk, s=45, alpha=0.85)
        ax.scatter(group["by_validation_ARF"], group["by_validation_IMR"], facecolors="none", edgecolors=[c],
                   marker=mk, s=45, alpha=0.85)
    arf = pd.concat([selected["ARF"], selected["by_validation_ARF"]]).astype(float)
    if (arf > 0).all() and arf.max() / max(arf.min(), 1e-12) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("alert reduction factor (ARF, higher is better)")
    ax.set_ylabel("incident miss rate (IMR, lower is better)")
    ax.set_title("IMR against ARF, one point per method and cut (validation metrics)")
    ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=colours[m], marker="s", linestyle="", label=f"method: {m}") for m in methods]
    handles += [Line2D([], [], color="grey", marker=markers[d], linestyle="", label=f"data set: {d}")
                for d in datasets]
    handles += [Line2D([], [], color="black", marker="o", linestyle="", label="filled: chosen on training data"),
                Line2D([], [], color="black", marker="o", markerfacecolor="none", linestyle="",
                       label="hollow: chosen by looking at validation")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0, fontsize=9,
              title="colour: method, marker: data set", title_fontsize=9)
    return _save(fig, Path(stem))


def plot_per_class(per_class: pd.DataFrame, stem) -> list[Path]:
    """Per-class F1 bars (mean over runs, min-max error bars), at the point chosen on training
    data; one panel per data set, one bar colour per method.

    Parameters
    ----------
    per_class : the table of :func:`lstm_rnn_correlation.results.per_class_table`.
    stem : output path without suffix.
    """
    import matplotlib.pyplot as plt

    frame = per_class[per_class["operating point"] == "chosen on training data"]
    if frame.empty:
        frame = per_class
    datasets = sorted(frame["data set"].unique())
    methods = sorted(frame["method"].unique())
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    widest = max(frame.groupby("data set")["incident"].nunique())
    fig, axes = plt.subplots(len(datasets), 1, figsize=(max(7, 0.55 * widest * len(methods) + 2),
                                                          3.8 * len(datasets)), squeeze=False)
    width = 0.8 / max(len(methods), 1)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = frame[frame["data set"] == dataset]
        incidents = sorted(part["incident"].astype(str).unique())
        x = np.arange(len(incidents))
        for k, method in enumerate(methods):
            rows = part[part["method"] == method].assign(incident=lambda f: f["incident"].astype(str))
            rows = rows.set_index("incident").reindex(incidents)
            mean = rows["f1 mean"].to_numpy(dtype=float)
            err = np.vstack([mean - rows["f1 min"].to_numpy(dtype=float), rows["f1 max"].to_numpy(dtype=float) - mean])
            ax.bar(x + (k - (len(methods) - 1) / 2) * width, mean, width, yerr=np.nan_to_num(err), capsize=2,
                   color=colours[method], label=method)
        ax.set_xticks(x)
        ax.set_xticklabels(incidents, rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("F1 (min-max bars)")
        ax.set_xlabel("class (incident, or benign)")
        ax.set_title(f"{dataset}: per-class F1, operating point chosen on training data")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(stem))


def plot_grids(metrics: pd.DataFrame, out) -> list[Path]:
    """The parameter-grid plots (mean over cuts) per data set and method.

    Parameters
    ----------
    metrics : combined metrics.csv rows with a ``dataset`` column.
    out : the output folder.
    """
    from lstm_rnn_correlation.evaluation_plots import plot_grid

    paths = []
    for (dataset, method), group in metrics.groupby(["dataset", "method"], sort=True):
        stem = Path(out) / f"grid_{safe_name(dataset)}_{safe_name(method)}"
        title = f"{method} on {dataset}: mean over {group['cut'].nunique()} cut(s)"
        for suffix in (".png", ".pdf"):
            plot_grid(group, stem.with_name(stem.name + suffix), title=title)
            paths.append(stem.with_name(stem.name + suffix))
    return paths


def plot_similarity(paths, stem, title: str = "") -> list[Path]:
    """Histograms of the LSTM's output on correlated and uncorrelated pairs, summed over runs.

    Parameters
    ----------
    paths : ``histograms/epoch-NNN.csv`` files (split, bin_left, bin_right, correlated, uncorrelated).
    stem : output path without suffix.
    title : figure title.
    """
    import matplotlib.pyplot as plt

    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    summed = frame.groupby(["split", "bin_left", "bin_right"], sort=True)[["correlated", "uncorrelated"]].sum()
    splits = list(dict.fromkeys(summed.index.get_level_values("split")))
    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 3.8), squeeze=False)
    for ax, split in zip(axes[0], splits):
        part = summed.loc[split].reset_index()
        edges = np.append(part["bin_left"].to_numpy(), part["bin_right"].iloc[-1])
        ax.stairs(part["uncorrelated"].to_numpy(), edges, fill=True, alpha=0.6, color="tab:orange",
                  label="uncorrelated")
        ax.stairs(part["correlated"].to_numpy(), edges, fill=True, alpha=0.6, color="tab:blue", label="correlated")
        ax.set_xlim(0, 1)
        ax.set_xlabel("model output (pair probability)")
        ax.set_ylabel("pairs")
        ax.set_title(f"{split} pairs")
        ax.legend(loc="upper center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, Path(stem))


def plot_validation_similarity(table: pd.DataFrame, stem, title: str = "") -> list[Path]:
    """Cosine similarity of validation alert pairs, correlated against uncorrelated, one
    panel per method; each histogram is normalised to sum 1 (uncorrelated pairs far
    outnumber correlated ones), the pair counts are in the panel titles.

    Parameters
    ----------
    table : one data set's rows of :func:`lstm_rnn_correlation.results.similarity_table`
        (method, cuts, bin_left, bin_right, correlated, uncorrelated and their ``_fraction``).
    stem : output path without suffix.
    title : figure title.
    """
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(table.sort_values("method", kind="mergesort")["method"]))
    fig, axes = plt.subplots(1, len(methods), figsize=(max(6.5, 4.6 * len(methods)), 4.0), squeeze=False)
    colours = {"correlated": "tab:blue", "uncorrelated": "tab:orange"}
    for k, (ax, method) in enumerate(zip(axes[0], methods)):
        part = table[table["method"] == method].sort_values("bin_left")
        edges = np.append(part["bin_left"].to_numpy(dtype=float), float(part["bin_right"].iloc[-1]))
        for kind in ("uncorrelated", "correlated"):
            ax.stairs(part[f"{kind}_fraction"].to_numpy(dtype=float), edges, fill=True, alpha=0.45,
                      color=colours[kind])
            ax.stairs(part[f"{kind}_fraction"].to_numpy(dtype=float), edges, color=colours[kind], linewidth=1.2)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("cosine similarity of validation pairs")
        if k == 0:  # every panel has its own y scale, so a tall peak does not flatten the others
            ax.set_ylabel("fraction of pairs (each kind sums to 1)")
        ax.set_ylim(bottom=0)
        cuts = int(part["cuts"].iloc[0])
        ax.set_title(f"{method} ({cuts} cut{'s' if cuts != 1 else ''})\n"
                     f"{int(part['correlated'].sum()):,} correlated, {int(part['uncorrelated'].sum()):,} "
                     "uncorrelated pairs", fontsize=9)
        ax.grid(True, alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[k], edgecolor=colours[k], alpha=0.6, label=label) for k, label in
               (("correlated", "correlated pairs (same incident, not benign)"),
                ("uncorrelated", "uncorrelated pairs (all others)"))]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, Path(stem))
