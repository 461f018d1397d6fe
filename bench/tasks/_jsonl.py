"""Strict readers for local data files: errors name the file, the line and the field."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import InputError


def read_jsonl(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-empty line (of a gzip file if the name ends in ``.gz``);
    every ``required`` field must be a non-empty string."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=str(path)) from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"not a readable gzip file ({e})", source=str(path)) from None
    if not raw.strip():
        raise InputError("file is empty", source=str(path))
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"not UTF-8 ({e.reason} at byte {e.start})", source=str(path), row=lineno) from None
        try:
            row = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"invalid JSON ({e.msg} at column {e.colno})", source=str(path), row=lineno) from None
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", source=str(path), row=lineno)
        for name in required:
            value = row.get(name)
            if name not in row:
                raise InputError("missing field", source=str(path), row=lineno, field=name)
            if not isinstance(value, str):
                raise InputError(f"expected a string, got {type(value).__name__}", source=str(path),
                                 row=lineno, field=name)
            if not value.strip():
                raise InputError("empty string", source=str(path), row=lineno, field=name)
        yield lineno, row
