"""The paper's tables and figures over many runs: ``lstm-rnn-correlation results DIR... --out FIGDIR``.

Each ``DIR`` is one of

- a ``crossval --out`` folder (``DIR/selected.csv``, ``DIR/metrics.csv``, ...),
- an ``evaluate --out`` folder (the same files and ``done.json``),
- a run folder of ``train`` that ``evaluate`` has finished (``DIR/evaluation/selected.csv``),
  as ``slurm-results.sl`` passes them.

The data set of a folder is named by ``--label`` or else by the stem of its data set
CSV (from ``done.json``, ``config.json`` or the ``- data set:`` line of ``summary.md``).

Every number comes from one of two operating points (eps, min_samples), stated in
every table:

``chosen on training data``  the honest point: chosen on an inner held-out training cut
                             (see :mod:`lstm_rnn_correlation.evaluation`), metrics of the
                             validation cut at that point.
``chosen by looking at validation``  the point the original paper reported: the same rule
                             applied to the validation metrics themselves (optimistic).

Outputs in ``FIGDIR`` (tables as ``.md`` and ``.tex``, figures as ``.png`` and ``.pdf``,
all written atomically):

``summary.md``                every table below, with the inputs
``selected.csv``              every input folder's chosen points, with a ``dataset`` column
``table_rates.*``             IMR, ARF, NARF (min/mean/max) per method, data set, operating point
``table_classification.*``    accuracy, precision, recall, F1 (min/mean/max) likewise
``table_per_class.*``         per-class precision, recall, F1 (min/mean/max over runs)
``per_class_f1.*``            per-class F1 bars with min-max error bars
``imr_arf.*``                 IMR against ARF per run (colour per method, marker per data set)
``grid_<dataset>_<method>.*`` parameter-grid plots (mean over cuts)
``similarity_<dataset>.*``    per data set: the cosine similarity of validation alert pairs,
                              correlated against uncorrelated, one panel per method, summed over
                              cuts and folders (each histogram normalised to sum 1), from the
                              folders' ``similarity.csv`` (``crossval``/``evaluate`` output).
                              A data set without any ``similarity.csv`` (older outputs) gets the
                              LSTM run folders' model output histograms instead (last epoch of
                              ``histograms/epoch-NNN.csv``, summed); when both exist the
                              ``similarity.csv`` figure is drawn and the run histograms are not.
``similarity_<dataset>.csv``  the numbers of that figure (pair counts and fractions per bin)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.fileio import write_csv_atomic, write_text_atomic

#: Operating points: (column prefix in selected.csv, label used in every table).
POINTS = (("", "chosen on training data"), ("by_validation_", "chosen by looking at validation"))
RATE_METRICS = ("IMR", "ARF", "NARF")
CLASS_METRICS = ("accuracy", "precision", "recall", "f1")
SIMILARITY_COLUMNS = ("method", "bin_left", "bin_right", "correlated", "uncorrelated")


@dataclass
class RunResults:
    """The results read from one input folder.

    Parameters
    ----------
    source : the folder given.
    dataset : the data set's name.
    selected : its selected.csv (with a ``dataset`` column).
    metrics : its metrics.csv (every grid point), or None.
    per_class : its selected_per_class.csv, or None.
    histograms : last-epoch histogram CSVs of LSTM runs found inside it.
    similarity : its similarity.csv (method, cut, bin_left, bin_right, correlated,
        uncorrelated), or None.
    """

    source: Path
    dataset: str
    selected: pd.DataFrame
    metrics: pd.DataFrame | None = None
    per_class: pd.DataFrame | None = None
    histograms: list = field(default_factory=list)
    similarity: pd.DataFrame | None = None


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _dataset_name(source: Path, results_dir: Path) -> str:
    """The stem of the data set CSV named by the folder's own records, else ``unknown``."""
    csv = None
    settings = _read_json(results_dir / "done.json").get("settings", {})
    if isinstance(settings, dict):
        csv = settings.get("data set")
    if not csv:
        csv = _read_json(source / "config.json").get("csv")
    summary = results_dir / "summary.md"
    if not csv and summary.is_file():
        match = re.search(r"^- data set: (.+)$", summary.read_text(encoding="utf-8"), re.MULTILINE)
        csv = match.group(1).strip() if match else None
    return Path(str(csv)).stem if csv else "unknown"


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable CSV ({exc})") from None


def _last_histograms(root: Path) -> list[Path]:
    """The newest ``histograms/epoch-NNN.csv`` of every run folder under ``root``."""
    found = []
    for folder in sorted({p.parent for p in root.rglob("histograms/epoch-*.csv")}):
        epochs = sorted(folder.glob("epoch-*.csv"))
        if epochs:
            found.append(epochs[-1])
    return found


def load_run(source, label: str | None = None) -> RunResults:
    """Read one input folder (crossval, evaluate or finished run folder).

    Parameters
    ----------
    source : the folder.
    label : the data set's name (default: from the folder's records).

    Raises UserError for a folder without results.
    """
    source = Path(source)
    if not source.is_dir():
        raise UserError(f"{source}: no such folder")
    if (source / "selected.csv").is_file():
        results_dir = source
    elif (source / "evaluation" / "selected.csv").is_file():
        results_dir = source / "evaluation"
    else:
        raise UserError(f"{source}: no results (neither selected.csv nor evaluation/selected.csv); "
                        "run `lstm-rnn-correlation crossval --out` or `evaluate` on it first")
    selected = _read_csv(results_dir / "selected.csv")
    needed = {"method", "cut", "eps", "min_samples", *RATE_METRICS, *CLASS_METRICS,
              *(f"by_validation_{m}" for m in RATE_METRICS + CLASS_METRICS)}
    missing = sorted(needed - set(selected.columns))
    if selected.empty or missing:
        raise UserError(f"{results_dir / 'selected.csv'}: no rows or missing columns {', '.join(missing)}")
    dataset = label or _dataset_name(source, results_dir)
    selected = selected.assign(dataset=dataset, source=str(source))
    metrics = _read_csv(results_dir / "metrics.csv")
    per_class = _read_csv(results_dir / "selected_per_class.csv")
    similarity = _read_csv(results_dir / "similarity.csv")
    if similarity is not None:
        missing = sorted(set(SIMILARITY_COLUMNS) - set(similarity.columns))
        if missing:
            raise UserError(f"{results_dir / 'similarity.csv'}: missing columns {', '.join(missing)}")
    return RunResults(source, dataset, selected, metrics, per_class, _last_histograms(source), similarity)


def load_runs(sources, labels=None) -> list[RunResults]:
    """Read every input folder.

    Parameters
    ----------
    sources : the folders.
    labels : None, one name for all, or one name per folder.
    """
    sources = list(sources)
    if not sources:
        raise UserError("give at least one results folder")
    labels = list(labels or [])
    if len(labels) not in (0, 1, len(sources)):
        raise UserError(f"--label: give it once (for every folder) or once per folder "
                        f"({len(sources)}), not {len(labels)} times")
    if len(labels) == 1:
        labels = labels * len(sources)
    return [load_run(s, labels[i] if labels else None) for i, s in enumerate(sources)]


# --------------------------------------------------------------------------- tables


def stats_table(selected: pd.DataFrame, metrics) -> pd.DataFrame:
    """Min, mean and max of ``metrics`` per method, data set and operating point.

    Parameters
    ----------
    selected : combined selected.csv rows (columns method, dataset, metrics, by_validation_ metrics).
    metrics : metric names.
    """
    rows = []
    for (method, dataset), group in selected.groupby(["method", "dataset"], sort=True):
        for prefix, label in POINTS:
            row = {"method": method, "data set": dataset, "operating point": label, "runs": len(group)}
            for m in metrics:
                values = pd.to_numeric(group[f"{prefix}{m}"], errors="coerce")
                row[f"{m} min"] = values.min()
                row[f"{m} mean"] = values.mean()
                row[f"{m} max"] = values.max()
            rows.append(row)
    return pd.DataFrame(rows)


def per_class_table(runs: list[RunResults]) -> pd.DataFrame:
    """Per-class precision, recall and F1 (min/mean/max over runs) per method, data set, point.

    Parameters
    ----------
    runs : the loaded folders.
    """
    parts = [r.per_class.assign(dataset=r.dataset) for r in runs if r.per_class is not None and not r.per_class.empty]
    columns = ["method", "data set", "operating point", "incident", "runs"]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True)
    names = dict(POINTS)
    frame["operating point"] = frame["chosen"].map({"training": names[""], "by_validation": names["by_validation_"]})
    if "incident_name" in frame.columns:
        frame["incident"] = frame["incident_name"].where(frame["incident_name"].notna(), frame["incident"])
    frame["incident"] = frame["incident"].astype(str)
    rows = []
    keys = ["method", "dataset", "operating point", "incident"]
    for key, group in frame.groupby(keys, sort=True):
        row = dict(zip(["method", "data set", "operating point", "incident"], key))
        row["runs"] = len(group)
        for m in ("precision", "recall", "f1"):
            values = pd.to_numeric(group[m], errors="coerce")
            row[f"{m} min"], row[f"{m} mean"], row[f"{m} max"] = values.min(), values.mean(), values.max()
        rows.append(row)
    return pd.DataFrame(rows)


def similarity_table(runs: list[RunResults]) -> pd.DataFrame:
    """Pair counts per data set, method and bin, summed over cuts and folders, with each
    histogram normalised to sum 1 (``correlated_fraction``, ``uncorrelated_fraction``).

    Parameters
    ----------
    runs : the loaded folders.
    """
    columns = ["dataset", "method", "cuts", "bin_left", "bin_right", "correlated", "uncorrelated",
               "correlated_fraction", "uncorrelated_fraction"]
    parts = [r.similarity.assign(dataset=r.dataset, source=str(r.source))
             for r in runs if r.similarity is not None and not r.similarity.empty]
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True)
    if "cut" not in frame.columns:
        frame["cut"] = 0
    frame["cut_key"] = frame["source"] + "/" + frame["cut"].astype(str)
    keys = ["dataset", "method", "bin_left", "bin_right"]
    # the bin edges of every cut are the same numbers; round away CSV float noise before grouping
    frame["bin_left"], frame["bin_right"] = frame["bin_left"].round(9), frame["bin_right"].round(9)
    summed = frame.groupby(keys, sort=True)[["correlated", "uncorrelated"]].sum().reset_index()
    cuts = frame.groupby(["dataset", "method"])["cut_key"].nunique().rename("cuts").reset_index()
    summed = summed.merge(cuts, on=["dataset", "method"])
    for kind in ("correlated", "uncorrelated"):
        total = summed.groupby(["dataset", "method"])[kind].transform("sum")
        summed[f"{kind}_fraction"] = np.where(total > 0, summed[kind] / total.where(total > 0, 1), 0.0)
    return summed[columns]


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table (numbers to 4 significant digits).

    Parameters
    ----------
    frame : the table.
    """
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", str(text)).replace("~", r"\textasciitilde{}")


def to_latex(frame: pd.DataFrame, caption: str) -> str:
    """A LaTeX ``table`` with a booktabs ``tabular`` (numbers to 4 significant digits).

    Parameters
    ----------
    frame : the table.
    caption : the caption (escaped here).
    """
    cols = list(frame.columns)
    spec = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in cols)
    lines = [r"\begin{table}", r"\centering", rf"\caption{{{_latex_escape(caption)}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(_latex_escape(c) for c in cols) + r" \\",
             r"\midrule"]
    lines += [" & ".join(_latex_escape(_fmt(v)) for v in row) + r" \\" for row in frame.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


POINT_NOTE = ("Operating point: 'chosen on training data' = (eps, min_samples) chosen on an inner held-out "
              "training cut, validation metrics at that point (honest); 'chosen by looking at validation' = "
              "the same rule applied to the validation metrics (what the original paper reported; optimistic).")


def _write_table(frame: pd.DataFrame, out: Path, name: str, caption: str) -> None:
    write_text_atomic(out / f"{name}.md", f"{caption}\n\n{POINT_NOTE}\n\n" + to_markdown(frame))
    write_text_atomic(out / f"{name}.tex", to_latex(frame, f"{caption} {POINT_NOTE}"))


# --------------------------------------------------------------------------- command


def write_all(runs: list[RunResults], out, plots: bool = True) -> dict:
    """Write every table and figure into ``out``; returns name -> path of the main outputs.

    Parameters
    ----------
    runs : the loaded folders (:func:`load_runs`).
    out : the output folder.
    plots : draw the figures.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    selected = pd.concat([r.selected for r in runs], ignore_index=True)
    write_csv_atomic(selected, out / "selected.csv")
    rates = stats_table(selected, RATE_METRICS)
    classification = stats_table(selected, CLASS_METRICS)
    per_class = per_class_table(runs)
    tables = (
        (rates, "table_rates", "IMR, ARF and NARF (min/mean/max over cuts) per method and data set."),
        (classification, "table_classification",
         "Incident prediction accuracy, precision, recall and F1 (min/mean/max over cuts)."),
        (per_class, "table_per_class", "Per-class precision, recall and F1 (min/mean/max over cuts)."),
    )
    for frame, name, caption in tables:
        _write_table(frame, out, name, caption)
    written = {"summary": out / "summary.md", "selected": out / "selected.csv"}
    figures = []
    if plots:
        from lstm_rnn_correlation import results_plots as rp

        figures += rp.plot_imr_arf(selected, out / "imr_arf")
        if not per_class.empty:
            figures += rp.plot_per_class(per_class, out / "per_class_f1")
        grids = [r.metrics.assign(dataset=r.dataset) for r in runs if r.metrics is not None and not r.metrics.empty]
        if grids:
            figures += rp.plot_grids(pd.concat(grids, ignore_index=True), out)
        similarity = similarity_table(runs)
        for dataset, part in similarity.groupby("dataset", sort=True):
            stem = out / f"similarity_{rp.safe_name(dataset)}"
            write_csv_atomic(part, stem.with_name(stem.name + ".csv"))
            figures += rp.plot_validation_similarity(part, stem, title=f"{dataset}: cosine similarity of "
                                                     "validation alert pairs, summed over cuts")
        by_dataset: dict[str, list[Path]] = {}
        for r in runs:
            by_dataset.setdefault(r.dataset, []).extend(r.histograms)
        for dataset, paths in sorted(by_dataset.items()):
            if paths and dataset not in set(similarity["dataset"]):
                figures += rp.plot_similarity(paths, out / f"similarity_{rp.safe_name(dataset)}",
                                              title=f"{dataset}: LSTM output on pairs, last epoch, {len(paths)} run(s)")
    lines = ["# Results", "", POINT_NOTE, "", "## Inputs", ""]
    lines += [f"- {r.source} (data set {r.dataset}, {len(r.selected)} method/cut rows)" for r in runs]
    for frame, name, caption in tables:
        lines += ["", f"## {caption}", "", to_markdown(frame)]
    lines += ["", "## Figures", ""] + [f"- {p.name}" for p in figures if p.suffix == ".png"] + [""]
    write_text_atomic(out / "summary.md", "\n".join(lines))
    written["figures"] = figures
    return written


def results(sources, out, labels=None, plots: bool = True) -> dict:
    """Read the results folders and write the tables and figures (``lstm-rnn-correlation results``).

    Parameters
    ----------
    sources : crossval, evaluate or finished run folders.
    out : the output folder.
    labels : None, one data set name for all, or one per folder.
    plots : draw the figures.
    """
    return write_all(load_runs(sources, labels), out, plots=plots)


def add_arguments(parser) -> None:
    """Options of ``results``.

    Parameters
    ----------
    parser : the subcommand's argparse parser.
    """
    parser.add_argument("dirs", nargs="+", metavar="DIR",
                        help="crossval/evaluate output folders or run folders with evaluation/")
    parser.add_argument("--out", required=True, metavar="FIGDIR", help="folder for tables and figures")
    parser.add_argument("--label", action="append", default=[],
                        help="data set name: once for all folders or once per folder, in order "
                             "(default: the stem of each folder's data set CSV)")
    parser.add_argument("--no-plots", action="store_true", help="tables only")


def run(args) -> int:
    """Run ``results``; returns the exit status.

    Parameters
    ----------
    args : parsed arguments.
    """
    written = results(args.dirs, args.out, labels=args.label, plots=not args.no_plots)
    print(f"summary: {written['summary']}")
    for path in written["figures"]:
        if path.suffix == ".png":
            print(f"figure: {path}")
    return 0
