"""Parameter-grid plots: each metric against eps, one line per min_samples.

Solid lines are the validation split, dashed lines the training clusters; a black
ring marks the operating point chosen on training data.  With several cuts the
lines are means over the cuts.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lstm_rnn_correlation.fileio import save_figure_atomic  # noqa: E402

#: Metrics drawn, as (column of the metrics table, panel title).
GRID_PLOTS = (
    ("n_clusters", "Cluster count"),
    ("homogeneity", "Cluster homogeneity"),
    ("n_noise", "Outliers (noise alerts)"),
    ("accuracy", "Incident prediction accuracy"),
    ("precision", "Incident prediction precision"),
    ("recall", "Incident prediction recall"),
    ("f1", "Incident prediction F1"),
    ("ARF", "Alert reduction factor"),
    ("IMR", "Incident miss rate"),
)


def plot_grid(metrics: pd.DataFrame, path, title: str = "", chosen=None, panels=None) -> None:
    """Draw the parameter-grid plots of one method into one PNG.

    Parameters
    ----------
    metrics : tidy rows (split, eps, min_samples and metric columns), one or more cuts.
    path : output file (PNG; written atomically).
    title : figure title.
    chosen : optional (eps, min_samples) to mark.
    panels : (column, title) pairs (default :data:`GRID_PLOTS`).
    """
    import matplotlib.pyplot as plt

    panels = list(panels or GRID_PLOTS)
    splits = [s for s in ("validation", "train") if s in set(metrics["split"])]
    columns = [c for c, _ in panels]
    mean = metrics[metrics["split"].isin(splits)].groupby(["split", "min_samples", "eps"])[columns].mean()
    min_samples = sorted(metrics["min_samples"].unique())
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.85, max(len(min_samples), 1)))
    ncols = 3
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.1 * nrows), squeeze=False)
    for ax, (col, label) in zip(axes.ravel(), panels):
        for split in splits:
            style = "-" if split == "validation" else "--"
            for colour, ms in zip(colours, min_samples):
                try:
                    series = mean.loc[(split, ms), col]
                except KeyError:
                    continue
                ax.plot(series.index, series.to_numpy(dtype=float), style, color=colour, marker=".",
                        label=f"min_samples={ms}" if split == splits[0] else None)
        if chosen is not None and "validation" in splits:
            try:
                value = mean.loc[("validation", chosen[1], chosen[0]), col]
                ax.plot([chosen[0]], [value], "o", markersize=10, markerfacecolor="none", markeredgecolor="black")
            except KeyError:
                pass
        ax.set_xscale("log")
        if col == "ARF":
            ax.set_yscale("log")
        elif col in ("n_clusters", "n_noise"):
            ax.set_yscale("symlog", linthresh=1)  # counts: log-like, and 0 stays visible
            ax.set_ylim(bottom=0)  # counts are never negative: no "-1" tick below the zero line
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("eps (cosine distance)")
        ax.grid(True, alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="grey", linestyle="-"), plt.Line2D([], [], color="grey", linestyle="--")]
    labels += ["validation", "train"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(title)
    # fixed margins: tight_layout measures every tick label and costs seconds per figure
    fig.subplots_adjust(left=0.06, right=0.98, top=0.92, bottom=0.12, wspace=0.28, hspace=0.55)
    try:
        save_figure_atomic(fig, path, dpi=90)
    finally:
        plt.close(fig)
