"""A generic registry of named plug-ins with lazy ``"module:attr"`` targets.

Built-in entries are registered as import strings, so listing names imports nothing heavy. Third
parties register through an entry-point group (e.g. ``bench.methods``). Unknown names get an error
that lists the known names and suggests the closest one.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bench.errors import UnknownNameError

T = TypeVar("T")


def _import_target(target: str) -> object:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    obj: object = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names to objects of kind ``T``; values may be given lazily as ``"module:attr"`` strings."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, T | str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, target: T | str | None = None) -> Callable[[T], T] | None:
        """Register ``target`` under ``name``; without a target, return a decorator."""
        if target is None:
            def decorator(obj: T) -> T:
                self._entries[name] = obj
                return obj
            return decorator  # type: ignore[return-value]
        self._entries[name] = target
        return None

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded or not self.entry_point_group:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            self._entries.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def target(self, name: str) -> T | str:
        """The registered value without importing it (a string for lazy entries)."""
        self._load_entry_points()
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        return self._entries[name]

    def get(self, name: str) -> T:
        value = self.target(name)
        if isinstance(value, str):
            value = _import_target(value)  # type: ignore[assignment]
            self._entries[name] = value
        return value  # type: ignore[return-value]

    def unknown_message(self, name: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}.{hint} Registered {self.kind}s: {', '.join(known) or '(none)'}."
