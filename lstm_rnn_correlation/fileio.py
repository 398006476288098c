"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or a bad input half-way never leaves a truncated output, and never
destroys an output that an earlier run already wrote.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success rename it over ``path``.

    Parameters
    ----------
    path : target file; its parent folder is created if missing.
    mode : ``"w"`` (text, default ``newline=""`` not implied) or ``"wb"``.
    kwargs : passed to :func:`open` (for example ``encoding`` or ``newline``).
    """
    if "r" in mode or "a" in mode:
        raise ValueError("atomic_open only writes whole files ('w' or 'wb')")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    # mkstemp creates the file 0600; give the result the permissions a plain open() would.
    os.chmod(tmp, 0o666 & ~_umask())
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    try:
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", newline="") as handle:
        handle.write(text)


def write_csv_atomic(frame, path: str | os.PathLike, **kwargs) -> None:
    """Write a pandas DataFrame as CSV atomically (``index=False`` unless given)."""
    kwargs.setdefault("index", False)
    with atomic_open(path, "w", newline="") as handle:
        frame.to_csv(handle, **kwargs)


def save_figure_atomic(fig, path: str | os.PathLike, **kwargs) -> None:
    """Save a matplotlib figure atomically; the format follows the file suffix."""
    target = Path(path)
    kwargs.setdefault("format", target.suffix.lstrip(".") or "png")
    kwargs.setdefault("bbox_inches", "tight")
    with atomic_open(target, "wb") as handle:
        fig.savefig(handle, **kwargs)
