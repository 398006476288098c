"""Model speed, measured side by side in one run (medians of repeats).

1. Embedding throughput (alerts/s): ``LSTMEmbedder.transform`` with the default
   encoder (text in, unit vectors out: encoding, de-duplication, length bucketing,
   embedding, LSTM, pooling) against a bare ``torch.nn.LSTM`` forward pass over
   the same batch shapes, pre-padded and already on the model's input form.
   Target: at least 80% of the bare pass.
2. Training pairs scored per second: the default in-batch scheme against the
   ``paper`` scheme, each with its own defaults.  Target: at least 50x.
3. Wall time to train the default model on the bundled data set (cut 0 held out)
   until its validation loss plateaus.  Target: under 2 minutes on 2 cores.

Usage::

    python benchmarks/bench_model.py [--csv alerts.csv] [--threads N] [--repeats 5] [--skip-plateau]

Without ``--csv`` the bundled data set is generated and preprocessed (seed 0) into a
temporary folder.  Other work on the same cores makes every number noisy; the
ratios are measured side by side, interleaved, so they suffer least.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lstm_rnn_correlation.config import RunConfig  # noqa: E402
from lstm_rnn_correlation.embedding import LSTMEmbedder  # noqa: E402
from lstm_rnn_correlation import training  # noqa: E402
from lstm_rnn_correlation.text import encode_alerts, length_sorted_batches  # noqa: E402


def bundled_csv(folder: Path) -> Path:
    """Generate and preprocess the bundled data set (seed 0) into ``folder``."""
    from lstm_rnn_correlation import preprocessing as pp

    os.environ["LRC_DATA_DIR"] = str(folder / "data")
    config = pp.load_data_config(REPO / "data_cfg.py")
    return Path(pp.preprocess_mcfp(config, folder / "alerts.csv", seed=0).paths["data"])


def untrained_embedder(threads: int) -> LSTMEmbedder:
    """A default-configuration embedder with initial weights (speed does not depend on the weights)."""
    emb = LSTMEmbedder(threads=threads, device="cpu")
    config = emb._run_config().resolved()
    torch.manual_seed(0)
    emb.model_ = training.build_model(config).eval()
    emb.config_ = config
    emb.history_ = []
    emb.n_features_out_ = emb.model_.encoder.output_dim
    return emb


def bench_embedding(alerts: list[str], threads: int, repeats: int) -> dict:
    """Alerts/s of ``transform`` and of a bare nn.LSTM forward over the same padded batch shapes."""
    emb = untrained_embedder(threads)
    encoder = emb.model_.encoder
    enc_cfg = emb.model_.encoder_config
    batch = emb.transform_batch_size
    encoded = encode_alerts(alerts, max_chars=enc_cfg.max_chars)
    shapes = [(len(idx), int(encoded.lengths[idx].max())) for idx in length_sorted_batches(encoded.lengths, batch)]
    in_size = encoder.layers[0].input_size
    # The bare pass gets the faster time-major layout [T, B, D] too (the encoder uses it).
    bare = torch.nn.LSTM(in_size, enc_cfg.units[0]).eval()
    inputs = [torch.randn(t, b, in_size) for b, t in shapes]
    longest = int(encoded.lengths.max())
    padded_global = [torch.randn(longest, b, in_size) for b, _ in shapes]

    def run_transform():
        emb.transform(alerts)

    def run_bare():
        with torch.inference_mode():
            for x in inputs:
                bare(x)

    def run_bare_global():
        with torch.inference_mode():
            for x in padded_global:
                bare(x)

    times = {"transform": [], "bare": [], "bare_global": []}
    with training.torch_threads(threads):
        run_transform(), run_bare()  # warm-up
        for _ in range(repeats):
            for name, fn in (("transform", run_transform), ("bare", run_bare), ("bare_global", run_bare_global)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    n = len(alerts)
    return {"alerts": n, "transform_per_s": n / med["transform"], "bare_per_s": n / med["bare"],
            "bare_global_per_s": n / med["bare_global"], "ratio": med["bare"] / med["transform"],
            "shape": f"{len(shapes)} batches of <= {batch}, {enc_cfg.input} {in_size} -> LSTM {enc_cfg.units}"}


def bench_pairs(frame, threads: int, repeats: int, paper_pairs: int) -> dict:
    """Training pairs scored per second (training time only) of both schemes, interleaved."""
    train = frame[frame.cut != 0]
    alerts, labels = train.alert.tolist(), train.label.to_numpy()
    rates = {"inbatch": [], "paper": []}
    for r in range(repeats):
        for scheme in ("inbatch", "paper"):
            config = RunConfig(scheme=scheme, epochs=1, threads=threads, quiet=True, device="cpu", seed=r,
                               max_eval_alerts=50, max_pairs=paper_pairs if scheme == "paper" else None)
            result = training.train(config, alerts, labels)
            rates[scheme].append(result.history[0]["pairs_per_second"])
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"inbatch_per_s": med["inbatch"], "paper_per_s": med["paper"], "ratio": med["inbatch"] / med["paper"],
            "alerts": len(alerts)}


def bench_plateau(frame, threads: int, epochs: int, tolerance: float = 0.05) -> dict:
    """Train the default model with cut 0 as validation; report when its validation loss plateaus.

    The plateau epoch is the first epoch whose validation loss is within ``tolerance``
    of the whole run's improvement above its lowest validation loss, i.e.
    ``loss - best <= tolerance * (first - best)``.  Both the wall time and the
    process CPU time up to it are reported: with one thread on an otherwise idle
    machine the two are about equal, so the CPU time estimates the wall time that
    other jobs on the same cores inflate.
    """
    train, val = frame[frame.cut != 0], frame[frame.cut == 0]
    config = RunConfig(epochs=epochs, threads=threads, quiet=True, device="cpu", seed=0)
    start = time.perf_counter()
    result = training.train(config, train.alert.tolist(), train.label.to_numpy(), val.alert.tolist(),
                            val.label.to_numpy())
    total = time.perf_counter() - start
    losses = [h["val_loss"] for h in result.history]
    best = min(losses)
    plateau = next(i for i, v in enumerate(losses) if v - best <= tolerance * (losses[0] - best))
    upto = result.history[: plateau + 1]
    return {"epochs_run": len(losses), "plateau_epoch": plateau + 1,
            "seconds_to_plateau": sum(h["seconds"] for h in upto),
            "cpu_seconds_to_plateau": sum(h["cpu_seconds"] for h in upto),
            "seconds_total": total, "val_loss": losses, "val_margin": [h["val_margin"] for h in result.history],
            "val_balanced_accuracy": [h["val_balanced_accuracy"] for h in result.history]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="data set CSV (default: the bundled data set, generated)")
    parser.add_argument("--threads", type=int, default=training.default_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--paper-pairs", type=int, default=20000, help="pairs per paper-scheme measurement")
    parser.add_argument("--plateau-epochs", type=int, default=12)
    parser.add_argument("--skip-plateau", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(args.csv) if args.csv else bundled_csv(Path(tmp))
        frame = training.load_dataset(csv)
    print(f"data: {csv if args.csv else 'bundled data set (seed 0)'}, {len(frame)} alerts, "
          f"mean length {frame.alert.str.len().mean():.0f}; torch {torch.__version__}, {args.threads} thread(s), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print()
    e = bench_embedding(frame.alert.tolist(), args.threads, args.repeats)
    print("| embedding (all alerts, median of %d) | alerts/s |" % args.repeats)
    print("|---|---|")
    print(f"| LSTMEmbedder.transform (text -> unit vectors) | {e['transform_per_s']:,.0f} |")
    print(f"| bare nn.LSTM forward, same batch shapes, pre-padded | {e['bare_per_s']:,.0f} |")
    print(f"| bare nn.LSTM forward, padded to the longest alert (the original) | {e['bare_global_per_s']:,.0f} |")
    print(f"| **ratio transform / bare (target >= 0.80)** | **{e['ratio']:.2f}** |")
    print(f"\n({e['shape']})\n")
    p = bench_pairs(frame, args.threads, max(1, args.repeats // 2), args.paper_pairs)
    print(f"| training pairs scored ({p['alerts']} training alerts, median) | pairs/s |")
    print("|---|---|")
    print(f"| default in-batch scheme | {p['inbatch_per_s']:,.0f} |")
    print(f"| paper scheme | {p['paper_per_s']:,.0f} |")
    print(f"| **ratio (target >= 50)** | **{p['ratio']:.0f}x** |")
    if not args.skip_plateau:
        q = bench_plateau(frame, args.threads, args.plateau_epochs)
        print(f"\n| default model to its validation-loss plateau | value |")
        print("|---|---|")
        print(f"| plateau epoch (val loss within 5% of its total drop from the best of {q['epochs_run']}) "
              f"| {q['plateau_epoch']} |")
        print(f"| **wall time to the plateau (target < 120 s)** | **{q['seconds_to_plateau']:.0f} s** |")
        print(f"| process CPU time to the plateau ({args.threads} thread(s)) | {q['cpu_seconds_to_plateau']:.0f} s |")
        print(f"| wall time of all {q['epochs_run']} epochs | {q['seconds_total']:.0f} s |")
        print("\nper epoch: val loss " + ", ".join(f"{v:.3f}" for v in q["val_loss"]))
        print("per epoch: val margin " + ", ".join(f"{v:.2f}" for v in q["val_margin"]))
        print("per epoch: val balanced pair accuracy " + ", ".join(f"{v:.3f}" for v in q["val_balanced_accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
