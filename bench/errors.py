"""Errors a user can act on.

Every error bench raises on purpose derives from :class:`BenchError`; the CLI prints its message
(without a traceback) and exits non-zero. Errors about input name the file, the row and the field.
"""

from __future__ import annotations


class BenchError(Exception):
    """An error whose message tells the user what went wrong and what to do."""

    exit_code = 2


class InputError(BenchError):
    """Bad input: names the source (file, option), the row (line) and the field when known."""

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 field: str | None = None, row_label: str = "line") -> None:
        self.message, self.source, self.row, self.field = message, source, row, field
        where = []
        if source:
            where.append(str(source))
        if row is not None:
            where.append(f"{row_label} {row}")
        if field:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownNameError(BenchError):
    """A name that no registry knows; the message lists the known names and a suggestion."""


class StageError(BenchError):
    """A pipeline stage failed; earlier stages' results are kept and the run can be resumed."""

    exit_code = 1
