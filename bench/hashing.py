"""Content addressing: stable hashes of JSON-like values and of files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_key(*parts: Any, length: int = 32) -> str:
    """A hex key naming the content ``parts``; the same parts always give the same key."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).hexdigest()
    return digest[:length]


def text_hash(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def file_hash(path: str | Path, length: int = 64, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:length]


def tree_hash(root: str | Path, length: int = 32) -> str:
    """Hash of a directory: every file's relative path and content hash, in sorted order."""
    root = Path(root)
    entries = [(str(p.relative_to(root)), file_hash(p)) for p in sorted(root.rglob("*")) if p.is_file()]
    return content_key(entries, length=length)
