"""Which LSTM configuration serves the clustering best?  The measurement behind the defaults.

Each configuration is a set of ``lstm`` options (or one of the baselines ``lsa`` and
``signature``).  For every configuration and seed this runs the project's own
cross-validation (:func:`lstm_rnn_correlation.evaluation.crossval`: the METHOD.md
grid, the operating point chosen on an inner training cut, validation metrics there)
into ``OUT/<config>/seed<S>/``, then prints one table, side by side: the mean over the
cuts of IMR and ARF at the honestly chosen point, the same at the point chosen by
looking at validation (labelled as such), and the training time per cut.  Finished cuts
are not recomputed, so an interrupted comparison resumes and a new configuration costs
only its own runs.

Usage::

    python benchmarks/compare_models.py --csv alerts.csv --out cmp --seeds 0,1 \\
        --config lsa --config default \\
        --config 'u128={"units": [128]}' --config 'sigmoid={"loss": "sigmoid"}'

``--config NAME`` alone is a baseline (``lsa``, ``signature``) or ``default`` (the LSTM
with its defaults); ``NAME=JSON`` is the LSTM with those options.  The table also goes
to ``OUT/comparison.csv`` and ``OUT/comparison.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_rnn_correlation.evaluation import crossval  # noqa: E402
from lstm_rnn_correlation.fileio import write_csv_atomic, write_text_atomic  # noqa: E402
from lstm_rnn_correlation.results import to_markdown  # noqa: E402

BASELINES = ("lsa", "signature")


def parse_config(text: str) -> tuple[str, str, dict]:
    """``NAME`` or ``NAME=JSON`` -> (name, method, lstm options)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not name:
        raise SystemExit(f"--config {text!r}: a configuration needs a name")
    if not sep:
        if name in BASELINES:
            return name, name, {}
        if name == "default":
            return name, "lstm", {}
        raise SystemExit(f"--config {text!r}: give options as NAME=JSON, or one of default, {', '.join(BASELINES)}")
    try:
        options = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--config {name}: options are not JSON ({exc})") from None
    if not isinstance(options, dict):
        raise SystemExit(f"--config {name}: options must be a JSON object")
    return name, "lstm", options


def summarise(selected: pd.DataFrame) -> dict:
    """Means over the cuts of the honest and the by-validation IMR and ARF."""
    return {"cuts": len(selected), "IMR": selected["IMR"].mean(), "ARF": selected["ARF"].mean(),
            "F1": selected["f1"].mean(), "feasible_cuts": int(selected["feasible"].sum()),
            "by_validation_IMR": selected["by_validation_IMR"].mean(),
            "by_validation_ARF": selected["by_validation_ARF"].mean()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", required=True, help="data set CSV (incident, alert, cut)")
    parser.add_argument("--out", required=True, help="folder for every crossval run and the table")
    parser.add_argument("--config", action="append", required=True, metavar="NAME[=JSON]",
                        help="a configuration to compare (repeat)")
    parser.add_argument("--seeds", default="0,1",
                        help="method seeds, comma-separated (default 0,1; the data set is the one --csv)")
    parser.add_argument("--cuts", default=None, help="validation cuts, e.g. 0-9 (default: all)")
    parser.add_argument("--imr-target", type=float, default=0.05)
    parser.add_argument("--jobs", type=int, default=0, help="cuts at once (0: one per core)")
    args = parser.parse_args(argv)

    configs = [parse_config(c) for c in args.config]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    out = Path(args.out)
    rows = []
    for name, method, options in configs:
        for seed in seeds:
            run_out = out / name / f"seed{seed}"
            start = time.perf_counter()
            selected = crossval(args.csv, [method], run_out, cuts=args.cuts, imr_target=args.imr_target, seed=seed,
                                options={method: options} if options else None, plots=False, quiet=True,
                                jobs=args.jobs)
            row = {"config": name, "seed": seed, **summarise(selected[selected["method"] == method])}
            row["wall_s"] = time.perf_counter() - start
            rows.append(row)
            print(f"{name} seed {seed}: IMR {row['IMR']:.4f} ARF {row['ARF']:.2f} "
                  f"(by validation {row['by_validation_IMR']:.4f} / {row['by_validation_ARF']:.2f}), "
                  f"{row['wall_s']:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    mean = table.groupby("config", sort=False)[["IMR", "ARF", "by_validation_IMR", "by_validation_ARF"]].mean()
    mean.columns = [f"mean_{c}" for c in mean.columns]
    out.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(table, out / "comparison.csv", index=False)
    text = ["Honest: operating point chosen on the inner training cut; by_validation: chosen by looking at "
            "validation (what the original paper did).", "",
            to_markdown(table.round(4)), "", "Mean over seeds:", "", to_markdown(mean.round(4).reset_index())]
    write_text_atomic(out / "comparison.md", "\n".join(text) + "\n")
    print()
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
