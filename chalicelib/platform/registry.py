"""The foreign nationals' registry (SPEC R10): the port the use cases ask, and its file adapter.

`current()` gives the registry configured: the JSON Lines file named by IDENTITY_REGISTRY_FILE
(`make run` writes a demo one; tests append to theirs), read again whenever it changes. A registry
that cannot answer raises RegistryUnavailable: the caller answers 503 and changes nothing, never
skips the check.
"""
import json
import os
import threading
from typing import Protocol

from chalicelib.platform import config
from chalicelib.rules.registry_entries import RegistryEntry, entry_document

_FIELDS = ("document_type", "number", "birth_date", "family_name", "email")


class RegistryUnavailable(Exception):
    """The registry could not answer (missing file, unreachable service): nothing may be decided."""


class Registry(Protocol):
    def find(self, document_type: str, number: str, birth_date: str) -> RegistryEntry | None: ...


class FileRegistry:
    """JSON Lines of {"document_type", "number", "birth_date", "family_name", "email"}; a later line
    for the same document and birth date replaces an earlier one. Read again when the file's size
    or modification time changes; a line that is not a complete entry is skipped."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._entries: dict[tuple[str, str, str], RegistryEntry] = {}

    def find(self, document_type: str, number: str, birth_date: str) -> RegistryEntry | None:
        return self._current().get((document_type, number, birth_date))

    def _current(self) -> dict[tuple[str, str, str], RegistryEntry]:
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            raise RegistryUnavailable(f"registry file unreadable: {exc.strerror}") from exc
        with self._lock:
            if self._seen != (stat.st_size, stat.st_mtime_ns):
                self._entries = self._read()
                self._seen = (stat.st_size, stat.st_mtime_ns)
            return self._entries

    def _read(self) -> dict[tuple[str, str, str], RegistryEntry]:
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.readlines()
        except OSError as exc:
            raise RegistryUnavailable(f"registry file unreadable: {exc.strerror}") from exc
        entries = {}
        for line in lines:
            entry = _entry(line)
            document = entry_document(entry) if entry else None
            if entry is not None and document is not None:
                entries[(document.type, document.number, entry.birth_date)] = entry
        return entries


def _entry(line: str) -> RegistryEntry | None:
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(name), str) for name in _FIELDS):
        return None
    return RegistryEntry(**{name: raw[name] for name in _FIELDS})


class _Absent:
    """No registry configured: every question is unanswerable (503), never skipped."""

    def find(self, document_type: str, number: str, birth_date: str) -> RegistryEntry | None:
        raise RegistryUnavailable("no identity registry configured (IDENTITY_REGISTRY_FILE)")


_adapters: dict[str, FileRegistry] = {}


def current() -> Registry:
    """The registry configured: the file adapter from IDENTITY_REGISTRY_FILE (one per path and process)."""
    path = config.current().identity_registry_file
    if not path:
        return _Absent()
    if path not in _adapters:
        _adapters[path] = FileRegistry(path)
    return _adapters[path]
