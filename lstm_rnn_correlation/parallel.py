"""Embedding large alert sets on several CPU cores: one process per core, one torch thread each.

PyTorch's CPU LSTM gains little from more intra-op threads at this model size (a
``[512, 64] x [64, 256]`` product per character is too small to split well), while
independent processes over different batches scale with the cores.  This module runs
:meth:`LSTMEmbedder.transform`'s batch loop in a pool of worker processes:

* on Linux workers are forked and set one torch thread before any work, as PyTorch's
  own ``DataLoader`` workers do (a forked child that ran several OpenMP threads could
  hang); elsewhere they are spawned, which re-imports the caller's main module, so a
  script there needs the ``if __name__ == "__main__":`` guard.  Each worker rebuilds
  the encoder from the model's plain description and weights (numpy arrays);
* the parent hands out chunks of length-sorted batches (already padded codes) and
  writes the unit vectors back in place, so the result equals the one-process
  result up to float rounding.

Starting a pool costs a fraction of a second (seconds where workers are spawned), so
:func:`embed_batches` is used only when the input is large (see ``LSTMEmbedder.transform``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

# Batches handed to a worker at a time: large enough to amortise the pipe, small
# enough to balance the load between workers at the end.
CHUNK_BATCHES = 8

_MODEL = None  # the worker's encoder (set by _init_worker)


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(description: dict, state: dict) -> None:
    """Build the worker's model from plain values, one torch thread."""
    global _MODEL
    import torch

    from lstm_rnn_correlation.model import SiameseModel

    torch.set_num_threads(1)
    model = SiameseModel.from_description(description)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    _MODEL = model.eval()


def _embed_chunk(chunk: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Unit vectors of each (padded codes, lengths) batch of a chunk."""
    import torch

    out = []
    with torch.inference_mode():
        for codes, lengths in chunk:
            out.append(_MODEL.embed(torch.from_numpy(codes), torch.from_numpy(lengths)).numpy())
    return out


def embed_batches(model, encoded, batches: list[np.ndarray], out: np.ndarray, workers: int,
                  progress=None) -> None:
    """Fill ``out[idx]`` with the unit vectors of every batch ``idx`` of ``encoded``, in ``workers`` processes.

    Parameters
    ----------
    model : a :class:`~lstm_rnn_correlation.model.SiameseModel` (on the CPU).
    encoded : :class:`~lstm_rnn_correlation.text.EncodedAlerts` of the distinct alerts.
    batches : index arrays into ``encoded`` (length-sorted batches).
    out : ``[len(encoded), d]`` float32 array to fill.
    workers : number of processes (at least 2).
    progress : optional callable taking the number of alerts finished.
    """
    description = model.describe()
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    chunks = [batches[i : i + CHUNK_BATCHES] for i in range(0, len(batches), CHUNK_BATCHES)]

    def payload(chunk):
        items = []
        for idx in chunk:
            codes, lengths = encoded.batch(idx)
            items.append((codes.numpy(), lengths.numpy()))
        return items

    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                             initargs=(description, state)) as pool:
        # Keep a bounded number of chunks in flight, so that padded copies of a huge
        # input never all exist at once.
        pending = {}
        queue = iter(chunks)
        for chunk in queue:
            pending[pool.submit(_embed_chunk, payload(chunk))] = chunk
            if len(pending) >= 2 * workers:
                break
        while pending:
            future = next(iter(pending))
            chunk = pending.pop(future)
            for idx, vectors in zip(chunk, future.result()):
                out[idx] = vectors
                if progress is not None:
                    progress(len(idx))
            nxt = next(queue, None)
            if nxt is not None:
                pending[pool.submit(_embed_chunk, payload(nxt))] = nxt
