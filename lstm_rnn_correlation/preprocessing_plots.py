"""Plots of the preprocessing step: when each incident and the benign recording happened.

Kept apart from :mod:`lstm_rnn_correlation.preprocessing` so that the data steps never
import matplotlib.  Figures are written with :func:`fileio.save_figure_atomic`.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lstm_rnn_correlation.fileio import save_figure_atomic  # noqa: E402

BENIGN = "benign"

# Fixed metadata so that the same data gives the same PNG bytes.
_PNG_METADATA = {"Software": None}


def _group_label(key, names: dict | None) -> str:
    if key == BENIGN:
        return BENIGN
    name = (names or {}).get(key)
    return f"{key}: {name}" if name else str(key)


def _group_order(keys) -> list:
    ints = sorted(k for k in keys if k != BENIGN)
    return ([BENIGN] if BENIGN in set(keys) else []) + ints


def plot_time_spans(frame: pd.DataFrame, title: str, *, names: dict | None = None,
                    max_points: int = 500, seed: int = 0):
    """Draw one row per incident (and one for benign): its span as a bar, its alerts as ticks.

    Parameters
    ----------
    frame : DataFrame with columns ``incident`` (int id or ``"benign"``) and ``timestamp``.
    title : figure title.
    names : optional map incident id -> name, shown in the row labels.
    max_points : at most this many alert ticks per row (a seeded sample) to keep files small.
    seed : seed of that sample.

    Returns
    -------
    The matplotlib Figure (not shown, not saved).
    """
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    keys = _group_order(frame["incident"].unique())
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(len(keys), 2) + 1.6))
    rng = np.random.default_rng(seed)
    # tab10 without its grey, which is benign's colour
    palette = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7]
    has_benign = bool(keys) and keys[0] == BENIGN
    for row, key in enumerate(keys):
        times = frame.loc[frame["incident"] == key, "timestamp"].dropna().sort_values()
        if times.empty:
            continue
        nums = mdates.date2num(times.to_numpy())
        color = "0.55" if key == BENIGN else palette[(row - (1 if has_benign else 0)) % len(palette)]
        ax.barh(row, max(nums[-1] - nums[0], 0.0), left=nums[0], height=0.6, color=color,
                alpha=0.35, edgecolor=color)
        if len(nums) > max_points:
            nums = nums[np.sort(rng.choice(len(nums), size=max_points, replace=False))]
        ax.plot(nums, np.full(len(nums), row), linestyle="none", marker="|", markersize=9, color=color)
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([_group_label(k, names) for k in keys])
    ax.invert_yaxis()
    ax.margins(x=0.03)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("alert time")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return fig


def save_time_span_plot(frame: pd.DataFrame, path: str | Path, title: str, *,
                        names: dict | None = None, seed: int = 0) -> Path:
    """Plot :func:`plot_time_spans` and save it atomically as PNG; returns the path.

    Parameters
    ----------
    frame, title, names, seed : as for :func:`plot_time_spans`.
    path : target file (PNG).
    """
    import matplotlib.pyplot as plt

    fig = plot_time_spans(frame, title, names=names, seed=seed)
    try:
        save_figure_atomic(fig, path, dpi=100, metadata=_PNG_METADATA)
    finally:
        plt.close(fig)
    return Path(path)
