"""Reading alert files as text: checks, gzip, encodings, chunking (private to :mod:`formats`).

Every problem with a file as a whole (missing, a directory, unreadable, corrupt gzip,
binary, UTF-16 without a byte-order mark) becomes a :class:`UserError` that names the file.

Text handling, the same for every format:

* gzip is recognised by its magic bytes, whatever the file name;
* a UTF-8 byte-order mark is dropped; a UTF-16 or UTF-32 byte-order mark decodes the file
  from that encoding (noted in the report);
* a NUL byte in the first 64 KiB means a binary file (or UTF-16 without a byte-order mark):
  an error;
* bytes that are not UTF-8 and characters outside ASCII (codes 0-127, what the model reads)
  are each replaced by ``?`` and counted (``ParseReport.replaced_chars``); a file whose first
  64 KiB is more than a quarter undecodable is refused as not text;
* line ends are ``\\n`` or ``\\r\\n``; the terminator is not part of a line.
"""

from __future__ import annotations

import codecs
import gzip
import os
import re
import zlib
from pathlib import Path
from typing import Iterator

from lstm_rnn_correlation.errors import UserError

#: bytes read at a time; chunks end on a line boundary
CHUNK_BYTES = 4 * 1024 * 1024
#: bytes looked at to tell text from binary (and to sniff formats)
HEAD_BYTES = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE mark
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def check_file(path) -> Path:
    """Return ``path`` as a Path after checking it is an existing, readable regular file.

    Parameters
    ----------
    path : str or path-like.

    Raises
    ------
    UserError : missing, a directory, not a regular file, or not readable.
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise UserError(f"{p}: no such file")
    if p.is_dir():
        raise UserError(f"{p}: is a directory, not an alert file (name the files inside it)")
    if not p.is_file():
        raise UserError(f"{p}: not a regular file")
    if not os.access(p, os.R_OK):
        raise UserError(f"{p}: permission denied")
    return p


def is_gzip(path) -> bool:
    """Whether a file starts with the gzip magic bytes.

    Parameters
    ----------
    path : the file.
    """
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _gzip_error(path: Path, exc: BaseException) -> UserError:
    return UserError(f"{path}: corrupt or truncated gzip file ({exc})")


def _open_binary(path: Path):
    try:
        if is_gzip(path):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_head(path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file, decompressed when it is gzip.

    Parameters
    ----------
    path : the file (checked with :func:`check_file`).
    size : how many bytes at most.
    """
    p = check_file(path)
    with _open_binary(p) as handle:
        try:
            return handle.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_error(p, exc) from None


class TextChunks:
    """Iterate over a file's text in chunks of whole lines, counting replaced characters.

    Parameters
    ----------
    path : the file.
    chunk_bytes : about how many bytes each chunk holds (default :data:`CHUNK_BYTES`).

    Iterating yields ``(text, first_lineno)``: ``text`` holds whole lines, each ending in
    ``\\n`` except possibly the file's last one, with ``\\r\\n`` already turned into
    ``\\n``; ``first_lineno`` is the 1-based number of its first line.  After iterating,
    ``replaced`` counts replaced characters, ``notes`` holds remarks for the report,
    ``size`` is the size of the (decompressed) text in bytes and ``empty`` says whether the
    file held nothing but white space.
    """

    def __init__(self, path, chunk_bytes: int | None = None):
        self.path = check_file(path)
        self.chunk_bytes = int(CHUNK_BYTES if chunk_bytes is None else chunk_bytes)
        self.replaced = 0
        self.notes: list[str] = []
        self.size = 0
        self.empty = True
        self.encoding = "utf-8"

    # -- decoding
    def _decode(self, data: bytes, first: bool) -> str:
        if data.isascii():
            text = data.decode("ascii")
        else:
            text = data.decode("utf-8", errors="replace")
            bad = text.count("\ufffd")
            if first and bad > max(16, len(data) // 4):
                raise UserError(
                    f"{self.path}: not a text file in ASCII or UTF-8 ({bad} undecodable "
                    f"bytes in the first {len(data)}); convert it to UTF-8")
            text, n = _NON_ASCII.subn("?", text)
            self.replaced += n
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        if self.empty and text.strip():
            self.empty = False
        return text

    def _raw_chunks(self) -> Iterator[bytes]:
        handle = _open_binary(self.path)
        try:
            head = handle.read(max(self.chunk_bytes, HEAD_BYTES))
        except (OSError, EOFError, zlib.error) as exc:
            handle.close()
            raise _gzip_error(self.path, exc) from None
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                if encoding == "utf-8-sig":
                    head = head[len(bom):]
                    self.notes.append(f"{self.path}: UTF-8 byte-order mark ignored")
                    break
                # UTF-16/32: decode the whole file, then go on as UTF-8 text.
                try:
                    rest = handle.read()
                except (OSError, EOFError, zlib.error) as exc:
                    handle.close()
                    raise _gzip_error(self.path, exc) from None
                handle.close()
                try:
                    text = (head + rest).decode(encoding)
                except UnicodeDecodeError as exc:
                    raise UserError(f"{self.path}: starts with a {encoding.upper()} byte-order mark "
                                    f"but does not decode as {encoding.upper()} ({exc.reason})") from None
                self.encoding = encoding
                self.notes.append(f"{self.path}: decoded from {encoding.upper()} (byte-order mark)")
                data = text.encode("utf-8", errors="replace")
                for start in range(0, len(data), self.chunk_bytes):
                    yield data[start:start + self.chunk_bytes]
                return
        if b"\x00" in head[:HEAD_BYTES]:
            handle.close()
            raise UserError(f"{self.path}: contains NUL bytes: a binary file, or UTF-16 text without "
                            "a byte-order mark (convert it to UTF-8)")
        try:
            yield head
            while True:
                try:
                    data = handle.read(self.chunk_bytes)
                except (OSError, EOFError, zlib.error) as exc:
                    raise _gzip_error(self.path, exc) from None
                if not data:
                    return
                yield data
        finally:
            handle.close()

    def __iter__(self) -> Iterator[tuple[str, int]]:
        lineno = 1
        carry = b""
        first = True
        for data in self._raw_chunks():
            self.size += len(data)
            buf = carry + data if carry else data
            cut = buf.rfind(b"\n")
            if cut < 0:
                carry = buf
                continue
            carry = buf[cut + 1:]
            text = self._decode(buf[:cut + 1], first)
            first = False
            yield text, lineno
            lineno += text.count("\n")
        if carry:
            yield self._decode(carry, first), lineno


def read_text(path) -> tuple[str, TextChunks]:
    """A whole file as one string (same decoding rules as :class:`TextChunks`).

    Parameters
    ----------
    path : the file.

    Returns
    -------
    (text, chunks) : the text and the :class:`TextChunks` object holding the counts.
    """
    chunks = TextChunks(path)
    text = "".join(part for part, _ in chunks)
    return text, chunks
