"""Exceptions that the command-line tool turns into one clear message (no traceback)."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or configuration, reported without a traceback."""


class AlertParseError(UserError):
    """An alert line that does not parse, with the file and 1-based line number."""

    def __init__(self, path: str, lineno: int, reason: str, line: str | None = None):
        self.path = str(path)
        self.lineno = lineno
        self.reason = reason
        self.line = line
        text = f"{self.path}:{lineno}: {reason}"
        if line is not None:
            shown = line if len(line) <= 200 else line[:200] + "..."
            text += f"\n    {shown!r}"
        super().__init__(text)
