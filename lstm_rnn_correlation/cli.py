"""The ``lstm-rnn-correlation`` command-line tool.

Each subcommand lives in its own module, which provides ``add_arguments(parser)``
and ``run(args) -> int``.  Modules are imported only when their subcommand runs,
so ``--help`` and light commands such as ``parse`` never pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lstm_rnn_correlation import __version__
from lstm_rnn_correlation.errors import UserError

# name -> (module, one-line help).  Order is the workflow order shown by --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("lstm_rnn_correlation.formats", "parse Snort/Suricata/EVE/AIT-ADS alert logs into normalised records"),
    "generate": ("lstm_rnn_correlation.generate", "write the bundled default data set (synthetic Snort logs)"),
    "preprocess": ("lstm_rnn_correlation.preprocessing", "merge raw alert logs into a data set CSV (incident, alert, cut)"),
    "train": ("lstm_rnn_correlation.training", "train the siamese tied-weight LSTM on one cross-validation cut"),
    "evaluate": ("lstm_rnn_correlation.evaluation", "cluster a trained run's vectors over the DBSCAN grid; metrics, honest operating point, plots"),
    "crossval": ("lstm_rnn_correlation.evaluation", "train and evaluate methods (lstm, lsa, signature) on every cut; metrics.csv, selected.csv, summary.md"),
    "results": ("lstm_rnn_correlation.results", "the paper's tables and figures over many crossval/evaluate runs (IMR/ARF, per class, IMR-ARF scatter)"),
    "fit-clusters": ("lstm_rnn_correlation.operator", "save the production clustering (core samples, mapped incidents) for a trained model"),
    "correlate": ("lstm_rnn_correlation.operator", "group today's alert log with a trained model: groups.csv, groups.json, report.html"),
}


def _chosen_command(argv: list[str]) -> str | None:
    for token in argv:
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; only the chosen subcommand's module is imported."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="lstm-rnn-correlation",
        description="Correlate IDS alerts with a learned mapping function (siamese LSTM) and DBSCAN.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    chosen = _chosen_command(argv)
    for name, (module_name, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(cmd)
            cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"lstm-rnn-correlation {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
